package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The bounds of a commit the host diffs and pushes, which the sandbox
// makes: a few bytes of objects can list more than any host could hold.

func TestACommitThatNoHostCouldDiffIsRefusedBeforeItIsDiffed(t *testing.T) {
	t.Parallel()
	r, ids := sourceRepo(t, map[string]string{"README.md": "hello\n"})
	ctx := context.Background()
	if err := r.CheckSize(ctx, ids[0]); err != nil {
		t.Fatalf("an ordinary commit: %v", err)
	}
	commit := func(tree string) string { return commitTree(t, r, tree, ids[0]) }
	fanOut := func(mode, kind, object string, n int) string { return fanOut(t, r, mode, kind, object, "x", n) }

	// A few hundred bytes of trees that list two million paths.
	blob := sh(t, r.dir, "sh", "-c", "echo x | git --git-dir . hash-object -w --stdin")
	tree := fanOut("100644", "blob", blob, 100)
	for _, n := range []int{100, 100, 2} {
		tree = fanOut("040000", "tree", tree, n)
	}
	bomb := commit(tree)
	if err := r.CheckSize(ctx, bomb); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a tree of two million paths: %v, want ErrTooLarge", err)
	}
	// Shipping lists a change's gitlinks before it is diffed.
	if _, err := r.ChangedGitlinks(ctx, ids[0], bomb); !errors.Is(err, ErrTooLarge) {
		t.Errorf("the gitlinks of a tree of two million paths: %v, want ErrTooLarge", err)
	}

	// A file over what GitHub takes, of zeros: little in the repository.
	zeros := filepath.Join(t.TempDir(), "zeros")
	if err := os.WriteFile(zeros, make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	big := sh(t, r.dir, "git", "--git-dir", r.dir, "hash-object", "-w", zeros)
	if err := r.CheckSize(ctx, commit(mktree(t, r, []string{"100644 blob " + big + "\tbig.bin"}))); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "big.bin") {
		t.Errorf("a file over %d MB: %v, want ErrTooLarge naming it", MaxFileSize>>20, err)
	}
}

// Trees that end in the empty tree list no file, and a few of them make
// more directories than git could walk before the task's deadline.
func TestATreeOfEmptyTreesIsRefusedBeforeItIsWalked(t *testing.T) {
	t.Parallel()
	r, ids := sourceRepo(t, map[string]string{"README.md": "hello\n"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// 16^8 directories, each ending in the empty tree.
	tree := sh(t, r.dir, "sh", "-c", "git --git-dir . mktree < /dev/null")
	for range 8 {
		tree = fanOut(t, r, "040000", "tree", tree, "d", 16)
	}
	if err := r.CheckSize(ctx, commitTree(t, r, tree, ids[0])); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a tree of four billion empty directories: %v, want ErrTooLarge", err)
	}
}

// mktree makes a tree in r of entries, each "mode type object\tname".
func mktree(t *testing.T, r *Repo, entries []string) string {
	t.Helper()
	cmd := exec.Command("git", "--git-dir", r.dir, "mktree")
	cmd.Stdin = strings.NewReader(strings.Join(entries, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// fanOut makes a tree of n entries of one object, named prefix0, prefix1...
func fanOut(t *testing.T, r *Repo, mode, kind, object, prefix string, n int) string {
	t.Helper()
	var entries []string
	for i := range n {
		entries = append(entries, fmt.Sprintf("%s %s %s\t%s%d", mode, kind, object, prefix, i))
	}
	return mktree(t, r, entries)
}

// commitTree commits tree on parent in r.
func commitTree(t *testing.T, r *Repo, tree, parent string) string {
	t.Helper()
	return sh(t, r.dir, "git", "--git-dir", r.dir, "commit-tree", tree, "-p", parent, "-m", "bomb")
}

// A tree names each entry once, however many paths reach it: a few
// hundred kilobytes of trees with long names list more path bytes than
// the host should hold, and a name longer than a checkout takes is none
// to review.
func TestLongPathsAreBoundedOneByOneAndAllTogether(t *testing.T) {
	t.Parallel()
	r, ids := sourceRepo(t, map[string]string{"README.md": "hello\n"})
	ctx := context.Background()
	blob := sh(t, r.dir, "sh", "-c", "echo x | git --git-dir . hash-object -w --stdin")

	for _, n := range []int{MaxPathLength + 1, 10 * MaxPathLength} {
		long := commitTree(t, r, mktree(t, r, []string{"100644 blob " + blob + "\t" + strings.Repeat("n", n)}), ids[0])
		if err := r.CheckSize(ctx, long); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "path of over") {
			t.Errorf("a path of %d bytes: %v, want ErrTooLarge", n, err)
		}
	}

	// 40,000 paths of 4,000 bytes: 160 MB listed.
	name := strings.Repeat("n", 1990)
	files := fanOut(t, r, "100644", "blob", blob, name, 200)
	many := commitTree(t, r, fanOut(t, r, "040000", "tree", files, name, 200), ids[0])
	if err := r.CheckSize(ctx, many); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "MB of paths") {
		t.Errorf("160 MB of paths: %v, want ErrTooLarge", err)
	}

	// 22,500 paths of 3,800 bytes: 85 MB, within what a tree may list but
	// more changed names than a change for people to review.
	name = strings.Repeat("n", 1890)
	files = fanOut(t, r, "100644", "blob", blob, name, 150)
	wide := commitTree(t, r, fanOut(t, r, "040000", "tree", files, name, 150), ids[0])
	if err := r.CheckSize(ctx, wide); err != nil {
		t.Fatalf("85 MB of paths: %v", err)
	}
	if _, err := r.Changes(ctx, ids[0], wide); !errors.Is(err, ErrTooLarge) {
		t.Errorf("the changes of 85 MB of paths: %v, want ErrTooLarge", err)
	}
	if _, err := r.Written(ctx, ids[0], wide); !errors.Is(err, ErrTooLarge) {
		t.Errorf("the files written of 85 MB of paths: %v, want ErrTooLarge", err)
	}
}

// A push the remote refused says why first: git's own first line names
// only the remote.
func TestAPushTheRemoteRefusedLeadsWithTheReason(t *testing.T) {
	msg := "git push: To https://github.test/acme/uuid.git\n" +
		" ! [remote rejected] abc -> oneshot/issue-1 (refusing to allow a GitHub App to create or update workflow `.github/workflows/ci.yml` without `workflows` permission)\n" +
		"error: failed to push some refs to 'https://github.test/acme/uuid.git'"
	err := pushError(errors.New(msg))
	first, rest, _ := strings.Cut(err.Error(), "\n")
	if first != "the remote refused the push: refusing to allow a GitHub App to create or update workflow `.github/workflows/ci.yml` without `workflows` permission" ||
		rest != msg || errors.Is(err, ErrBranchMoved) {
		t.Fatalf("%q", err)
	}
}

// Only git's reason for a refusal says the branch moved, not words a
// hook wrote.
func TestAPushRefusalIsTakenForAMovedBranchOnlyByGitsReason(t *testing.T) {
	for msg, moved := range map[string]bool{
		" ! [rejected]        abc -> oneshot/issue-1 (stale info)":                                                                                                  true,
		" ! [remote rejected] abc -> oneshot/issue-1 (cannot lock ref 'refs/heads/oneshot/issue-1': reference already exists)":                                      true,
		" ! [remote rejected] abc -> oneshot/issue-1 (cannot lock ref 'refs/heads/oneshot/issue-1': is at 1 but expected 2)":                                        true,
		"remote: error: cannot lock ref 'refs/heads/oneshot/issue-1': reference already exists\n ! [remote rejected] abc -> oneshot/issue-1 (failed to update ref)": true,
		"remote: commit subject found 'fix' but expected 'feat:'\n ! [remote rejected] abc -> oneshot/issue-1 (pre-receive hook declined)":                          false,
	} {
		if got := errors.Is(pushError(errors.New("git push: "+msg)), ErrBranchMoved); got != moved {
			t.Errorf("%q taken for a moved branch: %v, want %v", msg, got, moved)
		}
	}
}

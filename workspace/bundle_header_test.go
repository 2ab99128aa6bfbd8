package workspace

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// git reads a bundle's ref line as an ID and then any space, a tab too. A
// line "C<tab>X-gC:p refs/oneshot/out" names C to git, which verifies the
// bundle, but cut at its first " " it would be the revision "...:p", the
// gitlink p in C's tree: a commit only the host holds, which the sandbox
// need only know the ID of. Such a header is refused.
func TestABundleRefWrittenAsAnExpressionIsRefused(t *testing.T) {
	t.Parallel()
	src := workTree(t)
	base := commitFiles(t, src, map[string]string{"a.txt": "a\n"})
	hidden := commitFiles(t, src, map[string]string{"secret.txt": "kept from the sandbox\n"})
	sh(t, src, "git", "branch", "hidden", hidden)
	sh(t, src, "git", "checkout", "--quiet", "-B", "main", base)
	// The change's tree has gitlinks naming the hidden commit at "p",
	// and at "p^{commit}", which a check of "...:p^{commit}" would find.
	blob := sh(t, src, "sh", "-c", "echo a | git hash-object -w --stdin")
	mktree := exec.Command("git", "mktree")
	mktree.Dir = src
	mktree.Stdin = strings.NewReader(fmt.Sprintf("100644 blob %s\ta.txt\n160000 commit %[2]s\tp\n160000 commit %[2]s\tp^{commit}\n", blob, hidden))
	tree, err := mktree.Output()
	if err != nil {
		t.Fatal(err)
	}
	change := sh(t, src, "git", "commit-tree", strings.TrimSpace(string(tree)), "-p", base, "-m", "carrier")
	bundle := bundleOfChange(t, src, base, change)
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte(change+" refs/oneshot/out\n"), []byte(change+"\tX-g"+change[:12]+":p refs/oneshot/out\n"), 1)
	if err := os.WriteFile(bundle, data, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	r, sent := hostOf(t, src)
	if err := r.Fetch(ctx, src, Auth{}, "+refs/heads/hidden:refs/cache/hidden"); err != nil {
		t.Fatal(err)
	}
	if err := r.FetchBundle(ctx, bundle, sent, "refs/oneshot/out:refs/oneshot/new"); !errors.Is(err, errBadBundle) {
		t.Fatalf("err %v, want the bundle refused as malformed", err)
	}
	if got, err := r.Resolve(ctx, "refs/oneshot/new"); err == nil {
		t.Fatalf("the refused change's ref was made, at %s (the hidden commit is %s)", got, hidden)
	}
}

// A header's commits are each checked by a git process of their own: the
// sandbox's bundle builds on one commit, and one named again and again
// counts once, while a header naming many is refused before any runs.
func TestABundleBuildingOnManyCommitsIsRefused(t *testing.T) {
	t.Parallel()
	id := func(i int) string { return fmt.Sprintf("%040x", i+1) }
	header := func(prerequisites ...string) *bufio.Reader {
		var b strings.Builder
		b.WriteString("# v2 git bundle\n")
		for _, p := range prerequisites {
			b.WriteString("-" + p + " a subject\n")
		}
		b.WriteString(id(999) + " refs/oneshot/out\n\n")
		return bufio.NewReader(strings.NewReader(b.String()))
	}
	refs, prerequisites, err := readBundleHeader(header(slices.Repeat([]string{id(0)}, 10000)...))
	if err != nil || !slices.Equal(prerequisites, []string{id(0)}) || refs["refs/oneshot/out"] != id(999) {
		t.Fatalf("one commit named 10,000 times: refs %v, prerequisites %d, err %v", refs, len(prerequisites), err)
	}
	var many []string
	for i := range maxPrerequisites + 1 {
		many = append(many, id(i))
	}
	if _, _, err := readBundleHeader(header(many...)); !errors.Is(err, errBadBundle) {
		t.Fatalf("%d commits: err %v, want the bundle refused", len(many), err)
	}
	if _, _, err := readBundleHeader(header(many[:maxPrerequisites]...)); err != nil {
		t.Fatalf("%d commits: %v", maxPrerequisites, err)
	}
}

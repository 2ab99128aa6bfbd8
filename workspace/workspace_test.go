package workspace

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sourceRepo makes a repository with one commit per element of commits
// (path to content, "" to delete), fetches it into a bare Repo as the
// forges do, and returns that Repo and the commit IDs, oldest first.
func sourceRepo(t *testing.T, commits ...map[string]string) (*Repo, []string) {
	t.Helper()
	src := workTree(t)
	var ids []string
	for _, files := range commits {
		ids = append(ids, commitFiles(t, src, files))
	}
	return fetched(t, src), ids
}

// fetched makes a bare Repo and fetches the main branch of the repository
// at src into it as the forges fetch the default branch.
func fetched(t *testing.T, src string) *Repo {
	t.Helper()
	ctx := context.Background()
	r, err := Init(ctx, filepath.Join(t.TempDir(), "repo.git"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Fetch(ctx, src, Auth{}, "+refs/heads/main:refs/oneshot/base"); err != nil {
		t.Fatal(err)
	}
	return r
}

// workTree makes a repository with a working tree, as a person's, and
// returns its directory.
func workTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	sh(t, dir, "git", "init", "--quiet", "--initial-branch=main")
	return dir
}

// writeFiles writes files (path to content, "" to delete) in the working
// tree at dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if content == "" {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// commitFiles writes files in the working tree at dir, commits all there
// is, and returns the commit.
func commitFiles(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	writeFiles(t, dir, files)
	sh(t, dir, "git", "add", "--all")
	sh(t, dir, "git", "commit", "--quiet", "--allow-empty", "-m", "commit")
	return sh(t, dir, "git", "rev-parse", "HEAD")
}

// sh runs a command in dir as someone other than the bot, away from the
// machine's git configuration, and returns its trimmed output.
func sh(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=mallory", "GIT_AUTHOR_EMAIL=mallory@example.invalid",
		"GIT_COMMITTER_NAME=mallory", "GIT_COMMITTER_EMAIL=mallory@example.invalid")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// show formats a commit of r as git show --format does.
func show(t *testing.T, r *Repo, format, commit string) string {
	t.Helper()
	out, err := r.git(context.Background(), Auth{}, "show", "--no-patch", "--format="+format, commit)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func TestACommitIsTheTreeOnTheParentByWhomItSays(t *testing.T) {
	t.Parallel()
	r, ids := sourceRepo(t,
		map[string]string{"README.md": "hello\n"},
		map[string]string{"a.txt": "a\n"},
		map[string]string{"b.txt": "b\n"},
	)
	msg := "Add b (#7)\n\nWritten by oneshot.\n\nCo-authored-by: writer <1+writer@users.noreply.github.com>\n"
	c, err := r.Commit(context.Background(), NewCommit{
		Tree: ids[2] + "^{tree}", Parent: ids[0], Name: "oneshot[bot]", Email: "9+oneshot[bot]@users.noreply.github.com",
		Message: msg,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := show(t, r, "%T %P", c); got != show(t, r, "%T", ids[2])+" "+ids[0] {
		t.Errorf("tree and parent: %s", got)
	}
	want := "oneshot[bot] <9+oneshot[bot]@users.noreply.github.com>"
	if got := show(t, r, "%an <%ae>|%cn <%ce>", c); got != want+"|"+want {
		t.Errorf("author|committer: %s", got)
	}
	if got := show(t, r, "%B", c); got != strings.TrimSpace(msg) {
		t.Errorf("message %q", got)
	}
}

func TestTextDiffShowsTheLinesOfABinaryFile(t *testing.T) {
	t.Parallel()
	// A NUL byte in a file's first 8 KB makes git take it for binary.
	r, ids := sourceRepo(t,
		map[string]string{"README.md": "hello\n"},
		map[string]string{"data.bin": "\x00\nAWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD\n"},
	)
	diff, err := r.TextDiff(context.Background(), ids[0], ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(diff), "\n+AWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD\n") {
		t.Fatalf("the diff does not show the added line:\n%q", diff)
	}
}

func TestDiffIsAPatchThatAppliesWholeBinaryFilesIncluded(t *testing.T) {
	t.Parallel()
	src := workTree(t)
	base := commitFiles(t, src, map[string]string{"README.md": "hello\n", "logo.png": "\x89PNG\x00\x01"})
	head := commitFiles(t, src, map[string]string{"README.md": "hello, world\n", "logo.png": "\x89PNG\x00\x02", "icon.bin": "\x00\xff"})
	r := fetched(t, src)
	diff, err := r.Diff(context.Background(), base, head)
	if err != nil {
		t.Fatal(err)
	}
	patch := filepath.Join(t.TempDir(), "change.patch")
	if err := os.WriteFile(patch, diff, 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, src, "git", "checkout", "--quiet", base)
	sh(t, src, "git", "apply", "--index", patch)
	if got, want := sh(t, src, "git", "write-tree"), sh(t, src, "git", "rev-parse", head+"^{tree}"); got != want {
		t.Fatalf("the patch applied makes tree %s, not the change's %s:\n%s", got, want, diff)
	}
}

func TestExportWritesEveryFileAsStoredWhateverGitattributesSay(t *testing.T) {
	t.Parallel()
	// export-ignore and export-subst are for release archives; the bot
	// reads its settings and context from the export.
	r, ids := sourceRepo(t, map[string]string{
		".gitattributes":      "/.github export-ignore\nversion.txt export-subst\n",
		".github/oneshot.yml": "fix_rounds: 1\n",
		"version.txt":         "$Format:%H$\n",
	})
	dir := t.TempDir()
	if err := r.Export(context.Background(), ids[0], dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{".github/oneshot.yml": "fix_rounds: 1\n", "version.txt": "$Format:%H$\n"} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
}

// Not parallel: it sets the process's environment.
func TestExportWritesEveryFileWhateverTheOperatorsGitattributesSay(t *testing.T) {
	r, ids := sourceRepo(t, map[string]string{".github/oneshot.yml": "fix_rounds: 1\n"})
	// The attributes file git reads by default, where the operator's own
	// release archives might leave .github out.
	home := t.TempDir()
	writeFiles(t, home, map[string]string{"git/attributes": "/.github export-ignore\n"})
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("HOME", home)
	dir := t.TempDir()
	if err := r.Export(context.Background(), ids[0], dir); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, ".github", "oneshot.yml")); err != nil || string(got) != "fix_rounds: 1\n" {
		t.Fatalf(".github/oneshot.yml = %q, %v", got, err)
	}
}

func TestWhatAFewKilobytesOfObjectsExpandToIsBounded(t *testing.T) {
	t.Parallel()
	// Zeros compress to almost nothing: the commit is a few kilobytes in
	// the repository, and its file and its diff as text tens of megabytes.
	r, ids := sourceRepo(t,
		map[string]string{"README.md": "hello\n"},
		map[string]string{"a.bin": strings.Repeat("\x00", MaxDiff+1), "small.txt": "kept\n"},
	)
	ctx := context.Background()
	if _, err := r.TextDiff(ctx, ids[0], ids[1]); !errors.Is(err, ErrTooLarge) {
		t.Errorf("TextDiff: %v, want ErrTooLarge", err)
	}
	dir := t.TempDir()
	if err := r.Export(ctx, ids[1], dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.bin")); !os.IsNotExist(err) {
		t.Errorf("a file over %d bytes was written: %v", maxExportFile, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "small.txt")); err != nil || string(got) != "kept\n" {
		t.Errorf("small.txt = %q, %v", got, err)
	}
}

// Not parallel: it sets the process's environment.
func TestGitsVariablesInTheBotsEnvironmentDoNotReachItsGit(t *testing.T) {
	r, ids := sourceRepo(t, map[string]string{"a.txt": "one\n"}, map[string]string{"a.txt": "two\n"})
	// Configuration by environment: diffs without their a/ and b/, which
	// the secret scanner reads paths by.
	t.Setenv("GIT_CONFIG_COUNT", "1")
	t.Setenv("GIT_CONFIG_KEY_0", "diff.noprefix")
	t.Setenv("GIT_CONFIG_VALUE_0", "true")
	diff, err := r.TextDiff(context.Background(), ids[0], ids[1])
	if err != nil || !strings.Contains(string(diff), "+++ b/a.txt") {
		t.Fatalf("diff %q, %v", diff, err)
	}
}

func TestNoHookInTheBotsRepositoryRuns(t *testing.T) {
	t.Parallel()
	r, ids := sourceRepo(t, map[string]string{"a.txt": "one\n"})
	// Git runs this one at every change of a ref, a fetch's included.
	ran := filepath.Join(t.TempDir(), "ran")
	hook := filepath.Join(r.dir, "hooks", "reference-transaction")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\ntouch "+ran+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.SetRef(context.Background(), "refs/oneshot/branch", ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ran); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the repository's hook ran: %v", err)
	}
}

func TestRepositoriesMadeInsideTheTreeAreFoundAndCanBeUndone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := workTree(t)
	base := commitFiles(t, src, map[string]string{"README.md": "hello\n", "notes.txt": "notes\n"})
	// What git add records for repositories made inside the working tree,
	// one new and one in a tracked file's place, beside an ordinary file.
	writeFiles(t, src, map[string]string{"fix.go": "package fix\n", "README.md": "hello again\n"})
	sh(t, src, "git", "add", "fix.go", "README.md")
	sh(t, src, "git", "rm", "--quiet", "--cached", "notes.txt")
	sh(t, src, "git", "update-index", "--add", "--cacheinfo", "160000,"+base+",vendor/a clone")
	sh(t, src, "git", "update-index", "--add", "--cacheinfo", "160000,"+base+",notes.txt")
	sh(t, src, "git", "commit", "--quiet", "-m", "change")
	head := sh(t, src, "git", "rev-parse", "HEAD")
	r := fetched(t, src)

	changed, err := r.ChangedGitlinks(ctx, base, head)
	if err != nil || strings.Join(changed, ",") != "notes.txt,vendor/a clone" {
		t.Fatalf("changed gitlinks %q, %v", changed, err)
	}
	if none, err := r.ChangedGitlinks(ctx, head, head); err != nil || len(none) != 0 {
		t.Fatalf("changed gitlinks of no change %q, %v", none, err)
	}
	if declared, err := r.SubmodulePaths(ctx, head); err != nil || len(declared) != 0 {
		t.Fatalf("declared submodules %q, %v, want none: there is no .gitmodules", declared, err)
	}
	tree, err := r.TreeRestoring(ctx, head, base, changed)
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.git(ctx, Auth{}, "ls-tree", "-r", tree)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(got) != 3 || !strings.HasSuffix(got[0], "README.md") || !strings.HasSuffix(got[1], "fix.go") ||
		!strings.HasPrefix(got[2], "100644 blob") || !strings.HasSuffix(got[2], "notes.txt") {
		t.Fatalf("the tree undoing the links lists:\n%s", out)
	}
	// The change's other files stay as it made them.
	readme, _ := r.git(ctx, Auth{}, "rev-parse", tree+":README.md")
	if want, _ := r.git(ctx, Auth{}, "rev-parse", head+":README.md"); string(readme) != string(want) {
		t.Fatalf("README.md in the tree undoing the links is %s, want the change's %s", readme, want)
	}
}

func TestARepositoryMadeInADirectorysPlaceIsUndoneToTheDirectorysFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := workTree(t)
	base := commitFiles(t, src, map[string]string{"README.md": "hello\n", "vendor/x/a": "a\n", "vendor/x/b": "b\n"})
	// The agent removed the directory and cloned a repository there.
	sh(t, src, "git", "rm", "--quiet", "-r", "--cached", "vendor/x")
	sh(t, src, "git", "update-index", "--add", "--cacheinfo", "160000,"+base+",vendor/x")
	sh(t, src, "git", "commit", "--quiet", "-m", "change")
	head := sh(t, src, "git", "rev-parse", "HEAD")
	r := fetched(t, src)
	tree, err := r.TreeRestoring(ctx, head, base, []string{"vendor/x"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := show(t, r, "%T", base), tree; got != want {
		out, _ := r.git(ctx, Auth{}, "ls-tree", "-r", tree)
		t.Fatalf("the tree undoing the link is not the start's; it lists:\n%s", out)
	}
}

// Not parallel: it sets the process's environment.
func TestARestoredTreesIndexIsKeptInTheTasksDirectory(t *testing.T) {
	r, ids := sourceRepo(t, map[string]string{"a.txt": "one\n"}, map[string]string{"a.txt": "two\n"})
	// A system temporary directory that is not there: only an index made
	// in it fails.
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "none"))
	if _, err := r.TreeRestoring(context.Background(), ids[1], ids[0], []string{"a.txt"}); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(r.dir), "index-*")); len(left) != 0 {
		t.Fatalf("the index stays: %q", left)
	}
}

func TestTheSubmodulesGitmodulesDeclaresAreListed(t *testing.T) {
	t.Parallel()
	r, ids := sourceRepo(t,
		map[string]string{".gitmodules": "[submodule \"lib\"]\n\tpath = third party/lib\n\turl = https://example.invalid/lib\n[submodule \"x\"]\n\tpath = x\n"},
		map[string]string{".gitmodules": "# none\n"},
		map[string]string{".gitmodules": "[submodule\n"},
	)
	ctx := context.Background()
	if got, err := r.SubmodulePaths(ctx, ids[0]); err != nil || strings.Join(got, ",") != "third party/lib,x" {
		t.Fatalf("declared %q, %v", got, err)
	}
	for _, id := range ids[1:] {
		if got, err := r.SubmodulePaths(ctx, id); err != nil || len(got) != 0 {
			t.Fatalf("declared %q, %v, want none", got, err)
		}
	}
}

func TestThePackForCommitsHoldsWhatTheyReachAndNothingElse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, ids := sourceRepo(t, map[string]string{"README.md": "hello\n"}, map[string]string{"later.txt": "later\n"})
	files, err := r.PackFor(ctx, t.TempDir(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || !strings.HasSuffix(files[0], ".pack") || !strings.HasSuffix(files[1], ".idx") {
		t.Fatalf("files %q, want a pack beside its index", files)
	}
	copied, err := Init(ctx, filepath.Join(t.TempDir(), "copy.git"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copied.dir, "objects", "pack", filepath.Base(f)), data, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	if err := copied.SetRef(ctx, "refs/oneshot/base", ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := copied.git(ctx, Auth{}, "fsck", "--connectivity-only", "--no-dangling"); err != nil {
		t.Fatalf("the copy lacks objects: %v", err)
	}
	if _, err := copied.git(ctx, Auth{}, "cat-file", "-e", ids[1]); err == nil {
		t.Fatal("the pack holds a commit it was not asked for")
	}
}

func TestARepositoryBorrowingAnotherFetchesFromItWithoutCopying(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := workTree(t)
	commitFiles(t, src, map[string]string{"README.md": "hello\n"})
	r, err := Init(ctx, filepath.Join(t.TempDir(), "repo.git"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Borrow(ctx, filepath.Join(src, ".")); err != nil {
		t.Fatal(err)
	}
	if err := r.Fetch(ctx, src, Auth{}, "+HEAD:refs/oneshot/base"); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Resolve(ctx, "refs/oneshot/base"); err != nil || got != sh(t, src, "git", "rev-parse", "HEAD") {
		t.Fatalf("base %s, %v", got, err)
	}
	out, err := r.git(ctx, Auth{}, "count-objects", "-v")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "count: 0\n") || !strings.Contains(string(out), "\nin-pack: 0\n") {
		t.Fatalf("objects were copied:\n%s", out)
	}
}

func TestAPushToABranchThatMovedSaysSo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	remote := workTree(t)
	base := commitFiles(t, remote, map[string]string{"a.txt": "a\n"})
	sh(t, remote, "git", "branch", "oneshot/issue-1")
	r, err := Init(ctx, filepath.Join(t.TempDir(), "repo.git"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Fetch(ctx, remote, Auth{}, "+refs/heads/main:refs/oneshot/base"); err != nil {
		t.Fatal(err)
	}
	ours, err := r.Commit(ctx, NewCommit{Tree: base + "^{tree}", Parent: base, Name: "oneshot", Email: "bot@example.com", Message: "ours"})
	if err != nil {
		t.Fatal(err)
	}
	// Someone else moves the branch meanwhile.
	sh(t, remote, "git", "checkout", "--quiet", "oneshot/issue-1")
	theirs := commitFiles(t, remote, map[string]string{"b.txt": "b\n"})
	sh(t, remote, "git", "checkout", "--quiet", "main")

	if err := r.Push(ctx, remote, Auth{}, ours, "oneshot/issue-1", ""); !errors.Is(err, ErrBranchMoved) {
		t.Errorf("push: %v, want ErrBranchMoved", err)
	}
	if err := r.Push(ctx, remote, Auth{}, ours, "oneshot/issue-1", base); !errors.Is(err, ErrBranchMoved) {
		t.Errorf("push replacing: %v, want ErrBranchMoved", err)
	}
	if err := r.Push(ctx, remote, Auth{}, ours, "oneshot/issue-1", NoBranch); !errors.Is(err, ErrBranchMoved) {
		t.Errorf("push expecting no branch: %v, want ErrBranchMoved", err)
	}
	if head := sh(t, remote, "git", "rev-parse", "oneshot/issue-1"); head != theirs {
		t.Errorf("the branch is at %s, want %s, theirs", head, theirs)
	}
	// Where it was expected, it is replaced.
	if err := r.Push(ctx, remote, Auth{}, ours, "oneshot/issue-1", theirs); err != nil {
		t.Errorf("push replacing at its head: %v", err)
	}
}

// ls-remote matches the end of ref names, so a branch whose name ends with
// the task's branch comes first in its answer; it is not the task's branch.
func TestRemoteHeadIsTheBranchNamedNotOneEndingWithItsName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	remote := workTree(t)
	commitFiles(t, remote, map[string]string{"a.txt": "a\n"})
	sh(t, remote, "git", "branch", "a/refs/heads/oneshot/issue-1")
	r := fetched(t, remote)
	if head, err := r.RemoteHead(ctx, remote, Auth{}, "oneshot/issue-1"); err != nil || head != "" {
		t.Errorf("with only a branch ending with its name: %q, %v; want none", head, err)
	}
	real := commitFiles(t, remote, map[string]string{"b.txt": "b\n"})
	sh(t, remote, "git", "branch", "oneshot/issue-1")
	if head, err := r.RemoteHead(ctx, remote, Auth{}, "oneshot/issue-1"); err != nil || head != real {
		t.Errorf("RemoteHead: %q, %v; want the branch's %s", head, err, real)
	}
}

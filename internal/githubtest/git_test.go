package githubtest_test

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-github/v62/github"

	"github.com/oneshot-dev/oneshot/internal/githubtest"
)

// gitClient runs the real git client in dir, away from the machine's
// configuration and proxies, and returns its trimmed output.
func gitClient(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = githubtest.GitEnv("GIT_AUTHOR_NAME=bot", "GIT_AUTHOR_EMAIL=bot@example.invalid",
		"GIT_COMMITTER_NAME=bot", "GIT_COMMITTER_EMAIL=bot@example.invalid")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gitClient(t, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// authURL is the repository's clone URL carrying token as GitHub wants
// it: user x-access-token, the token as password.
func authURL(t *testing.T, gh *githubtest.Server, repo *githubtest.Repo, token string) string {
	t.Helper()
	u := mustURL(t, gh.CloneURL(repo))
	u.User = url.UserPassword("x-access-token", token)
	return u.String()
}

// pushBranch clones the repository with the installation's token, commits
// files on a new branch and pushes it, as the bot will; it returns the
// commit ID.
func (b *testBundle) pushBranch(t *testing.T, branch string, files map[string]string) string {
	t.Helper()
	token, err := b.itr.Token(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "clone")
	mustGit(t, "", "clone", "--quiet", authURL(t, b.gh, b.repo, token), dir)
	mustGit(t, dir, "checkout", "--quiet", "-b", branch)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustGit(t, dir, "add", "--all")
	mustGit(t, dir, "commit", "--quiet", "-m", "Change "+branch)
	mustGit(t, dir, "push", "--quiet", "origin", branch)
	return mustGit(t, dir, "rev-parse", "HEAD")
}

func TestCloneAndPushOverHTTPWithInstallationToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	main := b.gh.Head(t, b.repo, "main")
	if len(main) != 40 {
		t.Fatalf("head of main = %q", main)
	}
	sha := b.pushBranch(t, "oneshot/issue-1", map[string]string{"README.md": "# widgets, fixed\n"})

	if got := b.gh.Head(t, b.repo, "oneshot/issue-1"); got != sha {
		t.Errorf("head of pushed branch = %s, want %s", got, sha)
	}
	if got := b.gh.Head(t, b.repo, "main"); got != main {
		t.Errorf("main moved from %s to %s", main, got)
	}
	if got := b.gh.FileAt(t, b.repo, "oneshot/issue-1", "README.md"); got != "# widgets, fixed\n" {
		t.Errorf("README.md on the branch = %q", got)
	}
	if got := b.gh.FileAt(t, b.repo, "main", "cmd/main.go"); got != "package main\n" {
		t.Errorf("cmd/main.go on main = %q", got)
	}
	if got := b.gh.Branches(t, b.repo); !slices.Equal(got, []string{"main", "oneshot/issue-1"}) {
		t.Errorf("branches = %v", got)
	}
	if got := b.gh.Head(t, b.repo, "nope"); got != "" {
		t.Errorf("head of a missing branch = %q, want empty", got)
	}
	pushes := b.gh.Pushes(b.repo)
	if len(pushes) != 1 || pushes[0].Ref != "refs/heads/oneshot/issue-1" || pushes[0].Old != "" || pushes[0].New != sha {
		t.Errorf("pushes = %+v", pushes)
	}
	// The API reads the same repository git wrote.
	branch, _, err := b.client.Repositories.GetBranch(b.ctx, "acme", "widgets", "oneshot/issue-1", 0)
	if err != nil || branch.GetCommit().GetSHA() != sha {
		t.Errorf("API branch = %v (%v), want %s", branch.GetCommit().GetSHA(), err, sha)
	}
}

func TestPushedCommitsAndObjectsCanBeInspected(t *testing.T) {
	t.Parallel()
	b := setup(t)
	main := b.gh.Head(t, b.repo, "main")
	sha := b.pushBranch(t, "oneshot/issue-1", map[string]string{"notes.txt": "only on the branch\n"})
	c := b.gh.CommitAt(t, b.repo, sha)
	if !slices.Equal(c.Parents, []string{main}) || c.Author != "bot <bot@example.invalid>" ||
		c.Committer != c.Author || c.Message != "Change oneshot/issue-1" {
		t.Errorf("commit %+v", c)
	}
	if got := b.gh.ObjectsContaining(t, b.repo, "only on the branch"); len(got) != 1 {
		t.Errorf("objects holding the new text: %v", got)
	}
	if got := b.gh.ObjectsContaining(t, b.repo, "in no file"); len(got) != 0 {
		t.Errorf("objects holding text nobody wrote: %v", got)
	}
}

func TestGitWithoutTokenIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for name, remote := range map[string]string{
		"no credentials": b.gh.CloneURL(b.repo),
		"unknown token":  authURL(t, b.gh, b.repo, "ghs_notissued"),
	} {
		out, err := gitClient(t, "", "clone", "--quiet", remote, filepath.Join(t.TempDir(), "clone"))
		if err == nil {
			t.Errorf("%s: clone succeeded", name)
		}
		if strings.Contains(out, "ghs_") {
			t.Errorf("%s: git printed the token: %s", name, out)
		}
	}
	for _, r := range b.gh.Requests() {
		if strings.HasPrefix(r.Path, "/git/") && r.Status != http.StatusUnauthorized {
			t.Errorf("%s %s answered %d, want 401", r.Method, r.Path, r.Status)
		}
	}
	if b.gh.Count("GET", "/git/{owner}/{repo}/{rest...}") == 0 {
		t.Error("git never reached the fake")
	}
}

func TestReadOnlyTokenClonesButCannotPush(t *testing.T) {
	t.Parallel()
	b := setup(t)
	itr, _ := installationClient(t, b.gh, &github.InstallationTokenOptions{
		Repositories: []string{"widgets"},
		Permissions:  &github.InstallationPermissions{Contents: github.String("read")},
	})
	token, err := itr.Token(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "clone")
	mustGit(t, "", "clone", "--quiet", authURL(t, b.gh, b.repo, token), dir)
	mustGit(t, dir, "checkout", "--quiet", "-b", "sneaky")
	mustGit(t, dir, "commit", "--quiet", "--allow-empty", "-m", "sneaky")
	if out, err := gitClient(t, dir, "push", "origin", "sneaky"); err == nil {
		t.Fatalf("push with a read-only token succeeded: %s", out)
	}
	refused := false
	for _, r := range b.gh.Requests() {
		refused = refused || (r.Query == "service=git-receive-pack" && r.Status == http.StatusForbidden)
	}
	if !refused {
		t.Errorf("no 403 for git-receive-pack in %+v", b.gh.Requests())
	}
	if got := b.gh.Branches(t, b.repo); !slices.Equal(got, []string{"main"}) {
		t.Errorf("branches after a refused push = %v", got)
	}
}

func TestRepositoryFromDirectoryKeepsItsFiles(t *testing.T) {
	t.Parallel()
	gh := githubtest.New(t)
	dir := t.TempDir()
	if err := githubtest.WriteFiles(dir, map[string]string{"go.mod": "module x\n", "pkg/a.go": "package pkg\n"}); err != nil {
		t.Fatal(err)
	}
	repo := gh.AddRepoFromDir(t, "acme/from-dir", dir)
	if got := gh.FileAt(t, repo, "main", "pkg/a.go"); got != "package pkg\n" {
		t.Errorf("pkg/a.go = %q", got)
	}
	// A fixed author and date make the same files the same commit.
	again := gh.AddRepo(t, "acme/same", map[string]string{"go.mod": "module x\n", "pkg/a.go": "package pkg\n"})
	if gh.Head(t, repo, "main") != gh.Head(t, again, "main") {
		t.Error("the same files gave different initial commits")
	}
}

package githubtest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fixedIdentity makes the initial commit of every repository the same in
// every run, so commit IDs can be compared across runs and benchmarks.
var fixedIdentity = []string{
	"GIT_AUTHOR_NAME=oneshot-test", "GIT_AUTHOR_EMAIL=oneshot-test@example.invalid",
	"GIT_AUTHOR_DATE=2024-01-01T00:00:00Z",
	"GIT_COMMITTER_NAME=oneshot-test", "GIT_COMMITTER_EMAIL=oneshot-test@example.invalid",
	"GIT_COMMITTER_DATE=2024-01-01T00:00:00Z",
}

// Push is one ref a git push changed.
type Push struct {
	Ref  string // such as refs/heads/oneshot/issue-1
	Old  string // "" when the push created the ref
	New  string // "" when the push deleted it
	Time time.Time
}

// gitEnv is the environment of every git the fake runs: the caller's,
// without GIT_ variables that could point git at another repository,
// without proxies (traffic stays on 127.0.0.1), and without system or
// global config, so a developer's signing, hooks or helpers cannot change
// what a test sees.
func gitEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GIT_") || strings.HasSuffix(strings.ToLower(k), "_proxy") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, isolatedGitConfig...)
	env = append(env, "GIT_TERMINAL_PROMPT=0")
	return append(env, extra...)
}

// isolatedGitConfig keeps the machine's and the user's git configuration
// out of the fake's git.
var isolatedGitConfig = []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"}

// runGit runs git with args and returns its standard output.
func runGit(env []string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("git", args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", args[0], err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// bareGit runs git in the bare repository dir.
func bareGit(dir string, args ...string) ([]byte, error) {
	return runGit(gitEnv(), append([]string{"--git-dir=" + dir}, args...)...)
}

// createBareRepo creates root/owner/name.git and commits the files of src
// to its main branch, without a clone: the index lives in scratch and the
// commit is written straight into the bare repository.
func createBareRepo(root, owner, name, src, scratch string) (string, error) {
	dir := filepath.Join(root, owner, name+".git")
	// A name a renamed repository left may be taken again; the directory
	// stays the renamed one's.
	for i := 2; ; i++ {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dir = filepath.Join(root, owner, fmt.Sprintf("%s-%d.git", name, i))
	}
	if _, err := runGit(gitEnv(), "init", "--quiet", "--bare", "--initial-branch=main", dir); err != nil {
		return "", err
	}
	// http-backend refuses pushes without a REMOTE_USER unless told.
	if _, err := bareGit(dir, "config", "http.receivepack", "true"); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "hooks", "pre-receive"), []byte(preReceive), 0o755); err != nil {
		return "", err
	}
	env := gitEnv(append(fixedIdentity,
		"GIT_DIR="+dir, "GIT_WORK_TREE="+src, "GIT_INDEX_FILE="+filepath.Join(scratch, "index"))...)
	if _, err := runGit(env, "add", "--all"); err != nil {
		return "", err
	}
	if _, err := runGit(env, "commit", "--quiet", "--allow-empty", "--no-verify", "-m", "Initial commit"); err != nil {
		return "", err
	}
	return dir, nil
}

// workflowsHeader tells the pre-receive hook that the pusher's token may
// change workflows.
const workflowsHeader = "X-Githubtest-Workflows"

// preReceive refuses, as GitHub does, a push by a token without the
// workflows permission of commits that change .github/workflows/.
const preReceive = `#!/bin/sh
[ "$HTTP_X_GITHUBTEST_WORKFLOWS" = write ] && exit 0
zero=0000000000000000000000000000000000000000
while read -r old new ref; do
	[ "$new" = "$zero" ] && continue
	if [ "$old" = "$zero" ]; then range="$new --not --all"; else range="$old..$new"; fi
	for commit in $(git rev-list $range); do
		if git diff-tree --no-commit-id --name-only -r --root "$commit" | grep -q '^\.github/workflows/'; then
			echo "refusing to allow a GitHub App to create or update workflow without \` + "`" + `workflows\` + "`" + ` permission" >&2
			exit 1
		fi
	done
done
`

// writeFiles writes files (path to content) below dir.
func writeFiles(dir string, files map[string]string) error {
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if !strings.HasPrefix(path, dir+string(filepath.Separator)) {
			return fmt.Errorf("file %q: outside the repository", name)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// newGitBackend returns git http-backend behind CGI, serving the bare
// repositories below root.
func newGitBackend(root string) (http.Handler, error) {
	bin, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("find git: %w", err)
	}
	return &cgi.Handler{
		Path: bin,
		Args: []string{"http-backend"},
		Root: gitPrefix,
		Dir:  root,
		Env:  append([]string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}, isolatedGitConfig...),
	}, nil
}

var gitPath = mustPattern(gitPrefix + "/{owner}/{repo}/{rest...}")

// serveGit serves /git/{owner}/{name}.git/... to a holder of a token that
// may see the repository, and pushes only to one that may write to it.
func (s *Server) serveGit(w http.ResponseWriter, r *http.Request, path string) {
	values, ok := gitPath.match(path)
	name, isGit := strings.CutSuffix(values["repo"], ".git")
	if !ok || !isGit {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	user, pass, _ := r.BasicAuth()
	tok := s.liveToken(pass)
	if tok == nil {
		tok = s.liveToken(user) // a token as the user name works on GitHub too
	}
	if tok == nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		http.Error(w, "Invalid username or token. Password authentication is not supported for Git operations.", http.StatusUnauthorized)
		return
	}
	repo := s.visibleRepo(values["owner"], name, tok)
	if repo == nil {
		http.Error(w, "Repository not found.", http.StatusNotFound)
		return
	}
	push := r.URL.Query().Get("service") == "git-receive-pack" || strings.HasSuffix(path, "/git-receive-pack")
	if push && !s.allows(tok, "contents", "write") {
		http.Error(w, "Write access to repository not granted.", http.StatusForbidden)
		return
	}
	if !s.allows(tok, "contents", "read") {
		http.Error(w, "Read access to repository not granted.", http.StatusForbidden)
		return
	}
	// The token has no business in git's environment, where CGI would put
	// every request header.
	r = r.Clone(r.Context())
	r.Header.Del("Authorization")
	// A renamed repository keeps its directory, named as it was made.
	if rel, err := filepath.Rel(s.gitRoot, repo.dir); err == nil {
		r.URL.Path = gitPrefix + "/" + filepath.ToSlash(rel) + "/" + values["rest"]
	}
	// The pre-receive hook reads this, as HTTP_X_GITHUBTEST_WORKFLOWS.
	r.Header.Del(workflowsHeader)
	if push && s.mayChangeWorkflows(tok) {
		r.Header.Set(workflowsHeader, "write")
	}
	if r.Method == http.MethodPost && strings.HasSuffix(path, "/git-receive-pack") {
		s.recordPush(repo, func() { s.git.ServeHTTP(w, r) })
		return
	}
	s.git.ServeHTTP(w, r)
}

// recordPush runs serve and records the refs it changed.
func (s *Server) recordPush(repo *Repo, serve func()) {
	repo.pushMu.Lock()
	defer repo.pushMu.Unlock()
	before, errBefore := refs(repo.dir)
	serve()
	after, errAfter := refs(repo.dir)
	if errBefore != nil || errAfter != nil {
		return // the push itself will have failed and said why
	}
	t := time.Now()
	var pushes []Push
	all := maps.Clone(before)
	maps.Copy(all, after)
	for _, ref := range slices.Sorted(maps.Keys(all)) {
		if before[ref] != after[ref] {
			pushes = append(pushes, Push{Ref: ref, Old: before[ref], New: after[ref], Time: t})
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	repo.pushes = append(repo.pushes, pushes...)
}

// refs maps every ref of the bare repository dir to its object.
func refs(dir string) (map[string]string, error) {
	out, err := bareGit(dir, "for-each-ref", "--format=%(refname) %(objectname)")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if ref, sha, ok := strings.Cut(line, " "); ok {
			m[ref] = sha
		}
	}
	return m, nil
}

// resolve returns the commit ID ref names in the bare repository dir, or
// "" when it names none.
func resolve(dir, ref string) (string, error) {
	out, err := bareGit(dir, "rev-parse", "--verify", "--quiet", "--end-of-options", ref+"^{commit}")
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return "", nil
	}
	return strings.TrimSpace(string(out)), err
}

// Head returns the commit ID at the tip of branch, or "" when the branch
// does not exist.
func (s *Server) Head(t testing.TB, repo *Repo, branch string) string {
	t.Helper()
	sha, err := resolve(repo.dir, "refs/heads/"+branch)
	if err != nil {
		t.Fatalf("head of %s %s: %v", repo.FullName, branch, err)
	}
	return sha
}

// SetBranch points branch at commit, making the branch if need be.
func (s *Server) SetBranch(t testing.TB, repo *Repo, branch, commit string) {
	t.Helper()
	if _, err := bareGit(repo.dir, "update-ref", "refs/heads/"+branch, commit); err != nil {
		t.Fatalf("set %s %s: %v", repo.FullName, branch, err)
	}
}

// DeleteBranch deletes branch, as GitHub may once its pull request is
// merged.
func (s *Server) DeleteBranch(t testing.TB, repo *Repo, branch string) {
	t.Helper()
	if _, err := bareGit(repo.dir, "update-ref", "-d", "refs/heads/"+branch); err != nil {
		t.Fatalf("delete %s %s: %v", repo.FullName, branch, err)
	}
}

// CommitFiles commits files (path to content) on top of branch, as
// someone pushing to it would, and returns the new commit.
func (s *Server) CommitFiles(t testing.TB, repo *Repo, branch, message string, files map[string]string) string {
	t.Helper()
	return s.commit(t, repo, branch, message, "100644", files)
}

// CommitLinks commits symbolic links (path to target) on top of branch,
// and returns the new commit.
func (s *Server) CommitLinks(t testing.TB, repo *Repo, branch, message string, links map[string]string) string {
	t.Helper()
	return s.commit(t, repo, branch, message, "120000", links)
}

// commit commits blobs of mode (path to content) on top of branch.
func (s *Server) commit(t testing.TB, repo *Repo, branch, message, mode string, blobs map[string]string) string {
	t.Helper()
	scratch := t.TempDir()
	env := gitEnv(append(fixedIdentity, "GIT_DIR="+repo.dir, "GIT_INDEX_FILE="+filepath.Join(scratch, "index"))...)
	git := func(args ...string) string {
		out, err := runGit(env, args...)
		if err != nil {
			t.Fatalf("commit to %s %s: %v", repo.FullName, branch, err)
		}
		return strings.TrimSpace(string(out))
	}
	parent := s.Head(t, repo, branch)
	git("read-tree", parent)
	for name, content := range blobs {
		file := filepath.Join(scratch, "blob")
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		// --replace: a link may take the place of a directory.
		git("update-index", "--add", "--replace", "--cacheinfo", mode+","+git("hash-object", "-w", file)+","+name)
	}
	commit := git("commit-tree", git("write-tree"), "-p", parent, "-m", message)
	git("update-ref", "refs/heads/"+branch, commit, parent)
	return commit
}

// FileAt returns the content of path at ref (a branch, tag or commit ID)
// and fails the test when it is not there.
func (s *Server) FileAt(t testing.TB, repo *Repo, ref, path string) string {
	t.Helper()
	out, err := bareGit(repo.dir, "show", "--end-of-options", ref+":"+path)
	if err != nil {
		t.Fatalf("file %s at %s in %s: %v", path, ref, repo.FullName, err)
	}
	return string(out)
}

// Paths returns the paths in repo's tree at ref, sorted.
func (s *Server) Paths(t testing.TB, repo *Repo, ref string) []string {
	t.Helper()
	out, err := bareGit(repo.dir, "ls-tree", "-r", "-z", "--name-only", "--end-of-options", ref)
	if err != nil {
		t.Fatalf("paths at %s in %s: %v", ref, repo.FullName, err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
}

// Branches returns the names of repo's branches, sorted.
func (s *Server) Branches(t testing.TB, repo *Repo) []string {
	t.Helper()
	out, err := bareGit(repo.dir, "for-each-ref", "--format=%(refname:strip=2)", "refs/heads/")
	if err != nil {
		t.Fatalf("branches of %s: %v", repo.FullName, err)
	}
	return slices.Sorted(slices.Values(strings.Fields(string(out))))
}

// Pushes returns every ref change pushed to repo over git, oldest first.
func (s *Server) Pushes(repo *Repo) []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(repo.pushes)
}

// Commit is a commit of a repository, as git stores it.
type Commit struct {
	Parents []string
	// Author and Committer are "Name <email>".
	Author    string
	Committer string
	// Message is without its final newlines.
	Message string
}

// CommitAt returns the commit ref (a branch or commit ID) names, and fails
// the test when there is none.
func (s *Server) CommitAt(t testing.TB, repo *Repo, ref string) Commit {
	t.Helper()
	out, err := bareGit(repo.dir, "show", "--no-patch", "--format=%P%x00%an <%ae>%x00%cn <%ce>%x00%B", "--end-of-options", ref)
	f := strings.SplitN(string(out), "\x00", 4)
	if err != nil || len(f) != 4 {
		t.Fatalf("commit %s in %s: %v", ref, repo.FullName, err)
	}
	return Commit{Parents: strings.Fields(f[0]), Author: f[1], Committer: f[2], Message: strings.TrimRight(f[3], "\n")}
}

// ObjectsContaining returns the IDs of the objects stored in repo whose
// content holds text: every object, whether a ref reaches it or not, as
// anything pushed may be fetched by its ID.
func (s *Server) ObjectsContaining(t testing.TB, repo *Repo, text string) []string {
	t.Helper()
	out, err := bareGit(repo.dir, "cat-file", "--batch-all-objects", "--batch")
	if err != nil {
		t.Fatalf("objects of %s: %v", repo.FullName, err)
	}
	var found []string
	// Each object is "<id> <type> <size>\n<content>\n".
	for len(out) > 0 {
		header, rest, _ := bytes.Cut(out, []byte("\n"))
		fields := strings.Fields(string(header))
		size := 0
		if len(fields) == 3 {
			size, err = strconv.Atoi(fields[2])
		}
		if len(fields) != 3 || err != nil || size+1 > len(rest) {
			t.Fatalf("objects of %s: cannot read %q", repo.FullName, header)
		}
		if bytes.Contains(rest[:size], []byte(text)) {
			found = append(found, fields[0])
		}
		out = rest[size+1:]
	}
	return found
}

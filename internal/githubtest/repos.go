package githubtest

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Repo is a repository of the fake. Set its exported fields before the
// code under test first uses it; the fake reads them under its own lock.
type Repo struct {
	ID            int64
	Owner         string
	Name          string
	FullName      string
	DefaultBranch string
	// Private is false unless set, like the repositories in the webhook
	// fixtures. It decides what a non-collaborator's permission is.
	Private bool
	// InstallationID is the installation that may see the repository.
	// Zero lets every installation's tokens see it.
	InstallationID int64
	// NoDrafts makes opening a draft pull request answer 422, as GitHub
	// does for a private repository on the Free and Pro plans. Set it
	// before the repository is used.
	NoDrafts bool

	dir    string     // the bare repository
	pushMu sync.Mutex // one push at a time, so each is recorded alone

	// Guarded by Server.mu.
	nextNumber int
	issues     map[int]*issueState
	// moved are issues transferred to another repository: where each is
	// now, by its old number.
	moved     map[int]movedIssue
	labelIDs  map[string]int64
	roles     map[string]string // by lower-case login
	reactions []Reaction
	pulls     map[int]*PullRequest
	checkRuns map[int64]*CheckRun
	pushes    []Push
	languages map[string]int // bytes per language; see SetLanguages
}

// user is an account the fake knows of.
type user struct {
	login string
	id    int64
	bot   bool
}

// roles maps each repository role to the legacy permission the
// permission endpoint reports for it.
var roles = map[string]string{
	"admin": "admin", "maintain": "write", "write": "write",
	"triage": "read", "read": "read", "none": "none",
}

// AddRepo creates a repository named fullName ("owner/name") whose
// default branch "main" holds files (path to content) in one commit by a
// fixed author, so the commit ID is the same in every run.
func (s *Server) AddRepo(t testing.TB, fullName string, files map[string]string) *Repo {
	t.Helper()
	src := t.TempDir()
	if err := writeFiles(src, files); err != nil {
		t.Fatalf("add repo %s: %v", fullName, err)
	}
	return s.addRepo(t, fullName, src)
}

// AddInstalledRepo adds installation id and a repository with files that
// only it may see: how most tests of the bot begin.
func (s *Server) AddInstalledRepo(t testing.TB, id int64, fullName string, files map[string]string) *Repo {
	t.Helper()
	s.AddInstallation(id)
	repo := s.AddRepo(t, fullName, files)
	repo.InstallationID = id
	return repo
}

// AddRepoFromDir is AddRepo with the files of dir. Files dir's .gitignore
// ignores are left out.
func (s *Server) AddRepoFromDir(t testing.TB, fullName, dir string) *Repo {
	t.Helper()
	return s.addRepo(t, fullName, dir)
}

func (s *Server) addRepo(t testing.TB, fullName, src string) *Repo {
	t.Helper()
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		t.Fatalf("add repo %q: want owner/name", fullName)
	}
	s.mu.Lock()
	_, taken := s.repos[strings.ToLower(fullName)]
	s.mu.Unlock()
	if taken {
		t.Fatalf("add repo %s: already exists", fullName)
	}
	dir, err := createBareRepo(s.gitRoot, owner, name, src, t.TempDir())
	if err != nil {
		t.Fatalf("add repo %s: %v", fullName, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := &Repo{
		ID: s.newID(), Owner: owner, Name: name, FullName: fullName,
		DefaultBranch: "main", dir: dir, nextNumber: 1,
		issues: map[int]*issueState{}, moved: map[int]movedIssue{}, labelIDs: map[string]int64{},
		roles: map[string]string{}, pulls: map[int]*PullRequest{}, checkRuns: map[int64]*CheckRun{},
	}
	s.repos[strings.ToLower(fullName)] = repo
	s.knowUser(owner)
	return repo
}

// AddUser makes a login exist, so the permission endpoint answers for it
// instead of 404.
func (s *Server) AddUser(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.knowUser(login)
}

// SetPermission gives login a role on repo: admin, maintain, write,
// triage, read or none. Any other role is a bug in the test and panics.
func (s *Server) SetPermission(repo *Repo, login, role string) {
	if _, ok := roles[role]; !ok {
		panic(fmt.Sprintf("githubtest: unknown role %q", role))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.knowUser(login)
	repo.roles[strings.ToLower(login)] = role
}

// knowUser returns the user with login, creating it. The caller holds
// s.mu.
func (s *Server) knowUser(login string) *user {
	key := strings.ToLower(login)
	if u, ok := s.users[key]; ok {
		return u
	}
	u := &user{login: login, id: s.newID(), bot: strings.HasSuffix(login, "[bot]")}
	s.users[key] = u
	return u
}

// userJSON is GitHub's simple user object. The caller holds s.mu.
func (s *Server) userJSON(login string) map[string]any {
	u := s.knowUser(login)
	kind := "User"
	if u.bot {
		kind = "Bot"
	}
	return map[string]any{
		"login":      u.login,
		"id":         u.id,
		"node_id":    fmt.Sprintf("U_%d", u.id),
		"type":       kind,
		"site_admin": false,
		"html_url":   s.URL() + "/" + strings.TrimSuffix(u.login, "[bot]"),
		"url":        s.APIURL() + "users/" + u.login,
		"avatar_url": s.URL() + "/avatars/" + u.login,
	}
}

// visibleRepo returns the repository owner/name if tok may see it; a nil
// tok is the App itself, which sees everything.
func (s *Server) visibleRepo(owner, name string, tok *Token) *Repo {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.repos[strings.ToLower(owner+"/"+name)]
	if repo == nil || !tok.canSee(repo) {
		return nil
	}
	return repo
}

// canSee reports whether the token may see repo: it must belong to the
// token's installation and, for a scoped token, be one of its
// repositories. A nil token is the App itself, which sees everything.
func (t *Token) canSee(repo *Repo) bool {
	switch {
	case t == nil:
		return true
	case repo.InstallationID != 0 && repo.InstallationID != t.InstallationID:
		return false
	case t.repoIDs != nil && !t.repoIDs[repo.ID]:
		return false
	}
	return true
}

// sortedRepos returns the repositories in the order they were added. The
// caller holds s.mu.
func (s *Server) sortedRepos() []*Repo {
	return slices.SortedFunc(maps.Values(s.repos), func(a, b *Repo) int { return cmp.Compare(a.ID, b.ID) })
}

// repoJSON is GitHub's repository object. The caller holds s.mu.
func (s *Server) repoJSON(r *Repo) map[string]any {
	visibility := "public"
	if r.Private {
		visibility = "private"
	}
	return map[string]any{
		"id":             r.ID,
		"node_id":        fmt.Sprintf("R_%d", r.ID),
		"name":           r.Name,
		"full_name":      r.FullName,
		"owner":          s.userJSON(r.Owner),
		"private":        r.Private,
		"visibility":     visibility,
		"fork":           false,
		"archived":       false,
		"disabled":       false,
		"html_url":       s.URL() + "/" + r.FullName,
		"url":            s.APIURL() + "repos/" + r.FullName,
		"clone_url":      s.CloneURL(r),
		"default_branch": r.DefaultBranch,
		"description":    nil,
	}
}

// CloneURL is where git reaches repo: URL()+"/git/owner/name.git".
func (s *Server) CloneURL(repo *Repo) string {
	return s.URL() + gitPrefix + "/" + repo.FullName + ".git"
}

// getUser answers GET /users/{login}; a user the fake never met is 404.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	login := r.PathValue("login")
	if _, known := s.users[strings.ToLower(login)]; !known {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	user := s.userJSON(login)
	user["name"] = nil
	writeJSON(w, http.StatusOK, user)
}

// getRepo answers GET /repos/{owner}/{repo}.
func (s *Server) getRepo(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.repoJSON(c.repo))
}

// getPermission answers GET /repos/{owner}/{repo}/collaborators/{user}/permission.
func (s *Server) getPermission(w http.ResponseWriter, r *http.Request, c *call) {
	login := r.PathValue("user")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[strings.ToLower(login)]; !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	role := s.role(c.repo, login)
	writeJSON(w, http.StatusOK, map[string]any{
		"permission": roles[role],
		"role_name":  role,
		"user":       s.userJSON(login),
	})
}

// role is login's role on repo: the one set, else admin for the owner,
// else read on a public repository and none on a private one. The caller
// holds s.mu.
func (s *Server) role(repo *Repo, login string) string {
	if role, ok := repo.roles[strings.ToLower(login)]; ok {
		return role
	}
	switch {
	case strings.EqualFold(login, repo.Owner):
		return "admin"
	case repo.Private:
		return "none"
	}
	return "read"
}

// association is login's author_association on repo. The caller holds
// s.mu.
func (s *Server) association(repo *Repo, login string) string {
	if strings.EqualFold(login, repo.Owner) {
		return "OWNER"
	}
	if role, ok := repo.roles[strings.ToLower(login)]; ok && role != "none" {
		return "COLLABORATOR"
	}
	return "NONE"
}

// RenameRepo renames repo, as GitHub's rename does, keeping its ID. The
// old name is free for another repository; the fake does not redirect it,
// as GitHub stops doing once the name is taken again.
func (s *Server) RenameRepo(repo *Repo, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.repos, strings.ToLower(repo.FullName))
	repo.Name = name
	repo.FullName = repo.Owner + "/" + name
	s.repos[strings.ToLower(repo.FullName)] = repo
}

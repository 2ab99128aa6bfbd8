package githubtest

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// PullRequest is a pull request as it stands.
type PullRequest struct {
	Number int // shared with the issues of the repository, as on GitHub
	Title  string
	Body   string
	Head   string // branch names
	Base   string
	// HeadSHA is the head's commit when the pull request was last read
	// or written; a push to the branch moves it, as on GitHub.
	HeadSHA             string
	State               string // "open" or "closed"
	Draft               bool
	User                string
	MaintainerCanModify bool
	Reviewers           []string
	TeamReviewers       []string
	CreatedAt           time.Time
	UpdatedAt           time.Time
	ClosedAt            time.Time

	id      int64    // GitHub's pull request IDs differ from their issues'
	reviews []Review // submitted, oldest first; see AddReview
}

// PullRequests returns repo's pull requests in order of number.
func (s *Server) PullRequests(repo *Repo) []PullRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PullRequest
	for _, n := range slices.Sorted(maps.Keys(repo.pulls)) {
		pr := *repo.pulls[n]
		pr.Reviewers = slices.Clone(pr.Reviewers)
		pr.TeamReviewers = slices.Clone(pr.TeamReviewers)
		out = append(out, pr)
	}
	return out
}

// AddPullRequest adds an open pull request to repo, as if someone had
// opened it, and returns it as stored: Number 0 takes the next number,
// User "" is the repository's owner. Its branches need not exist.
func (s *Server) AddPullRequest(repo *Repo, pr PullRequest) PullRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.addPull(repo, pr)
	return *repo.pulls[st.Number]
}

// addPull stores an open pull request and its issue side. The caller
// holds s.mu.
func (s *Server) addPull(repo *Repo, pr PullRequest) *issueState {
	st := s.addIssue(repo, Issue{Number: pr.Number, Title: pr.Title, Body: pr.Body,
		User: cmp.Or(pr.User, repo.Owner), PullRequest: true, State: "open"})
	pr.id, pr.Number, pr.User, pr.State = s.newID(), st.Number, st.User, "open"
	pr.CreatedAt, pr.UpdatedAt = st.createdAt, st.createdAt
	pr.Reviewers, pr.TeamReviewers = slices.Clone(pr.Reviewers), slices.Clone(pr.TeamReviewers)
	pr.MaintainerCanModify = true
	repo.pulls[pr.Number] = &pr
	return st
}

// ClosePullRequest closes pull request n unmerged, as a maintainer who
// turned it down would; its branch stays.
func (s *Server) ClosePullRequest(t testing.TB, repo *Repo, n int) {
	t.Helper()
	heads, err := refs(repo.dir)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pr, ok := repo.pulls[n]
	if !ok {
		t.Fatalf("no pull request #%d", n)
	}
	pr.HeadSHA = cmp.Or(heads["refs/heads/"+pr.Head], pr.HeadSHA)
	now := time.Now()
	pr.State, pr.ClosedAt, pr.UpdatedAt = "closed", now, now
	st := repo.issues[n]
	st.State, st.closedAt, st.updatedAt = "closed", now, now
}

// EditPullRequest gives pull request n a title and description, as a
// maintainer editing it would.
func (s *Server) EditPullRequest(t testing.TB, repo *Repo, n int, title, body string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	pr, ok := repo.pulls[n]
	if !ok {
		t.Fatalf("no pull request #%d", n)
	}
	st := repo.issues[n]
	pr.Title, pr.Body, st.Title, st.Body = title, body, title, body
	pr.UpdatedAt, st.updatedAt = time.Now(), time.Now()
}

// createPull answers POST /repos/{owner}/{repo}/pulls.
func (s *Server) createPull(w http.ResponseWriter, r *http.Request, c *call) {
	var in struct {
		Title               *string `json:"title"`
		Head                string  `json:"head"`
		Base                string  `json:"base"`
		Body                string  `json:"body"`
		Draft               bool    `json:"draft"`
		MaintainerCanModify *bool   `json:"maintainer_can_modify"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	owner, head, hasOwner := strings.Cut(in.Head, ":")
	if !hasOwner {
		owner, head = c.repo.Owner, in.Head
	}
	switch {
	case in.Title == nil || *in.Title == "":
		writeValidation(w, "PullRequest", "title", "missing_field", "")
		return
	case head == "" || !strings.EqualFold(owner, c.repo.Owner):
		writeValidation(w, "PullRequest", "head", "invalid", "")
		return
	case in.Base == "":
		writeValidation(w, "PullRequest", "base", "missing_field", "")
		return
	}
	if in.Draft && c.repo.NoDrafts {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"message":           "Draft pull requests are not supported in this repository.",
			"documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
		})
		return
	}
	if !checkBranches(w, c.repo, in.Base, head) {
		return
	}
	heads, err := refs(c.repo.dir)
	if !gitOK(w, err) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pr := range c.repo.pulls {
		if pr.State == "open" && pr.Head == head && pr.Base == in.Base {
			writeValidation(w, "PullRequest", "", "custom",
				fmt.Sprintf("A pull request already exists for %s:%s.", c.repo.Owner, head))
			return
		}
	}
	st := s.addPull(c.repo, PullRequest{Title: *in.Title, Body: in.Body, Head: head, Base: in.Base, Draft: in.Draft, User: s.BotLogin()})
	pr := c.repo.pulls[st.Number]
	pr.MaintainerCanModify = in.MaintainerCanModify == nil || *in.MaintainerCanModify
	writeJSON(w, http.StatusCreated, s.pullJSON(c.repo, pr, heads))
}

// checkBranches answers 422 as GitHub does unless head and base exist and
// head has commits base lacks.
func checkBranches(w http.ResponseWriter, repo *Repo, base, head string) bool {
	for _, b := range []struct{ field, name string }{{"base", base}, {"head", head}} {
		sha, err := resolve(repo.dir, "refs/heads/"+b.name)
		if !gitOK(w, err) {
			return false
		}
		if sha == "" {
			writeValidation(w, "PullRequest", b.field, "invalid", "")
			return false
		}
	}
	out, err := bareGit(repo.dir, "rev-list", "--count", "refs/heads/"+base+"..refs/heads/"+head)
	if !gitOK(w, err) {
		return false
	}
	if strings.TrimSpace(string(out)) == "0" {
		writeValidation(w, "PullRequest", "", "custom", fmt.Sprintf("No commits between %s and %s", base, head))
		return false
	}
	return true
}

// listPulls answers GET /repos/{owner}/{repo}/pulls, newest first. As on
// GitHub, a head filter must be "owner:branch"; a bare branch name is
// ignored.
func (s *Server) listPulls(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	state := cmp.Or(q.Get("state"), "open")
	headOwner, head, byHead := strings.Cut(q.Get("head"), ":")
	heads, err := refs(c.repo.dir)
	if !gitOK(w, err) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var prs []*PullRequest
	for _, pr := range c.repo.pulls {
		switch {
		case state != "all" && pr.State != state:
		case byHead && (!strings.EqualFold(headOwner, c.repo.Owner) || pr.Head != head):
		case q.Get("base") != "" && pr.Base != q.Get("base"):
		default:
			prs = append(prs, pr)
		}
	}
	slices.SortFunc(prs, func(a, b *PullRequest) int { return cmp.Compare(b.Number, a.Number) })
	lo, hi := s.page(w, r, len(prs))
	out := []any{}
	for _, pr := range prs[lo:hi] {
		out = append(out, s.pullJSON(c.repo, pr, heads))
	}
	writeJSON(w, http.StatusOK, out)
}

// getPull answers GET /repos/{owner}/{repo}/pulls/{number}.
func (s *Server) getPull(w http.ResponseWriter, r *http.Request, c *call) {
	s.withPull(w, r, c.repo, func(pr *PullRequest, heads map[string]string) {
		writeJSON(w, http.StatusOK, s.pullJSON(c.repo, pr, heads))
	})
}

// editPull answers PATCH /repos/{owner}/{repo}/pulls/{number}: title,
// body, state, base and maintainer_can_modify.
func (s *Server) editPull(w http.ResponseWriter, r *http.Request, c *call) {
	var in struct {
		Title               *string `json:"title"`
		Body                *string `json:"body"`
		State               *string `json:"state"`
		Base                *string `json:"base"`
		MaintainerCanModify *bool   `json:"maintainer_can_modify"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if in.State != nil && *in.State != "open" && *in.State != "closed" {
		writeValidation(w, "PullRequest", "state", "invalid", "")
		return
	}
	if in.Base != nil {
		if sha, err := resolve(c.repo.dir, "refs/heads/"+*in.Base); err != nil || sha == "" {
			writeValidation(w, "PullRequest", "base", "invalid", "")
			return
		}
	}
	s.withPull(w, r, c.repo, func(pr *PullRequest, heads map[string]string) {
		st := c.repo.issues[pr.Number]
		t := now()
		if in.Title != nil {
			pr.Title, st.Title = *in.Title, *in.Title
		}
		if in.Body != nil {
			pr.Body, st.Body = *in.Body, *in.Body
		}
		if in.Base != nil {
			pr.Base = *in.Base
		}
		if in.MaintainerCanModify != nil {
			pr.MaintainerCanModify = *in.MaintainerCanModify
		}
		if in.State != nil && *in.State != pr.State {
			pr.State, st.State = *in.State, *in.State
			pr.ClosedAt = time.Time{}
			if pr.State == "closed" {
				pr.ClosedAt = t
			}
			st.closedAt = pr.ClosedAt
		}
		pr.UpdatedAt, st.updatedAt = t, t
		writeJSON(w, http.StatusOK, s.pullJSON(c.repo, pr, heads))
	})
}

// requestReviewers answers POST /repos/{owner}/{repo}/pulls/{number}/requested_reviewers.
// GitHub takes only collaborators, and never the author.
func (s *Server) requestReviewers(w http.ResponseWriter, r *http.Request, c *call) {
	var in struct {
		Reviewers     []string `json:"reviewers"`
		TeamReviewers []string `json:"team_reviewers"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	s.withPull(w, r, c.repo, func(pr *PullRequest, heads map[string]string) {
		for _, login := range in.Reviewers {
			if strings.EqualFold(login, pr.User) {
				writeError(w, http.StatusUnprocessableEntity, "Review cannot be requested from pull request author.")
				return
			}
			if s.association(c.repo, login) == "NONE" {
				writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf(
					"Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the %s repository.",
					c.repo.FullName))
				return
			}
		}
		for _, login := range in.Reviewers {
			if !slices.Contains(pr.Reviewers, login) {
				pr.Reviewers = append(pr.Reviewers, login)
			}
		}
		for _, team := range in.TeamReviewers {
			if !slices.Contains(pr.TeamReviewers, team) {
				pr.TeamReviewers = append(pr.TeamReviewers, team)
			}
		}
		writeJSON(w, http.StatusCreated, s.pullJSON(c.repo, pr, heads))
	})
}

// withPull calls f, holding s.mu, with the pull request the path numbers
// and the repository's refs, which pullJSON needs. The refs are read
// first, without the lock, since git is slow. It answers 500 when git
// fails and 404 when there is no such pull request.
func (s *Server) withPull(w http.ResponseWriter, r *http.Request, repo *Repo, f func(pr *PullRequest, heads map[string]string)) {
	heads, err := refs(repo.dir)
	if !gitOK(w, err) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, _ := pathInt(r, "number")
	pr := repo.pulls[int(n)]
	if pr == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	f(pr, heads)
}

// pullJSON is GitHub's pull request object; heads are the repository's
// refs, read before the lock was taken. The caller holds s.mu.
func (s *Server) pullJSON(repo *Repo, pr *PullRequest, heads map[string]string) map[string]any {
	// As on GitHub, a closed pull request's head stays where it was.
	if sha := heads["refs/heads/"+pr.Head]; sha != "" && pr.State == "open" {
		pr.HeadSHA = sha
	}
	branch := func(name, sha string) map[string]any {
		return map[string]any{
			"label": repo.Owner + ":" + name, "ref": name, "sha": sha,
			"user": s.userJSON(repo.Owner), "repo": s.repoJSON(repo),
		}
	}
	api := fmt.Sprintf("%srepos/%s", s.APIURL(), repo.FullName)
	html := fmt.Sprintf("%s/%s/pull/%d", s.URL(), repo.FullName, pr.Number)
	reviewers, teams := []any{}, []any{}
	for _, login := range pr.Reviewers {
		reviewers = append(reviewers, s.userJSON(login))
	}
	for _, slug := range pr.TeamReviewers {
		teams = append(teams, map[string]any{"slug": slug, "name": slug})
	}
	st := repo.issues[pr.Number]
	return map[string]any{
		"id":                    pr.id,
		"node_id":               fmt.Sprintf("PR_%d", pr.id),
		"number":                pr.Number,
		"state":                 pr.State,
		"locked":                false,
		"title":                 pr.Title,
		"body":                  pr.Body,
		"user":                  s.userJSON(pr.User),
		"draft":                 pr.Draft,
		"merged":                false,
		"mergeable":             nil,
		"maintainer_can_modify": pr.MaintainerCanModify,
		"author_association":    s.association(repo, pr.User),
		"labels":                s.labelsJSON(repo, st.Labels),
		"head":                  branch(pr.Head, pr.HeadSHA),
		"base":                  branch(pr.Base, heads["refs/heads/"+pr.Base]),
		"requested_reviewers":   reviewers,
		"requested_teams":       teams,
		"url":                   fmt.Sprintf("%s/pulls/%d", api, pr.Number),
		"issue_url":             fmt.Sprintf("%s/issues/%d", api, pr.Number),
		"html_url":              html,
		"diff_url":              html + ".diff",
		"patch_url":             html + ".patch",
		"created_at":            timeJSON(pr.CreatedAt),
		"updated_at":            timeJSON(pr.UpdatedAt),
		"closed_at":             timeJSON(pr.ClosedAt),
		"merged_at":             nil,
	}
}

package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Issue is an issue, or the issue side of a pull request: on GitHub every
// pull request is also an issue, sharing its number sequence.
type Issue struct {
	Number int // 0 in AddIssue takes the next number
	Title  string
	Body   string
	User   string // login of the author; the repository owner if empty
	Labels []string
	// PullRequest marks the issue as a pull request's, so it carries
	// pull_request in JSON. Pull requests the App opens set it themselves.
	PullRequest bool
	State       string // "open" (the default) or "closed"
}

type issueState struct {
	Issue
	id         int64
	createdAt  time.Time
	updatedAt  time.Time
	closedAt   time.Time
	commentIDs []int64
	// reviewCommentIDs are a pull request's review comments, oldest first.
	reviewCommentIDs []int64
}

// AddIssue adds an issue to repo and returns it as stored, with its
// number. A number already taken is a bug in the test and panics.
func (s *Server) AddIssue(repo *Repo, is Issue) Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	if is.User == "" {
		is.User = repo.Owner
	}
	if is.State == "" {
		is.State = "open"
	}
	is.Labels = slices.Clone(is.Labels)
	st := s.addIssue(repo, is)
	return cloneIssue(st.Issue)
}

// addIssue stores is, numbering it if it has no number. The caller holds
// s.mu.
func (s *Server) addIssue(repo *Repo, is Issue) *issueState {
	if is.Number == 0 {
		is.Number = repo.nextNumber
	}
	if _, taken := repo.issues[is.Number]; taken {
		panic(fmt.Sprintf("githubtest: %s#%d already exists", repo.FullName, is.Number))
	}
	repo.nextNumber = max(repo.nextNumber, is.Number+1)
	s.knowUser(is.User)
	for _, l := range is.Labels {
		s.labelID(repo, l)
	}
	t := now()
	st := &issueState{Issue: is, id: s.newID(), createdAt: t, updatedAt: t}
	repo.issues[is.Number] = st
	return st
}

// Issue returns issue (or pull request) number n of repo.
func (s *Server) Issue(repo *Repo, n int) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := repo.issues[n]
	if !ok {
		return Issue{}, false
	}
	return cloneIssue(st.Issue), true
}

// EditIssue sets the title and body of issue n of repo, as its author
// may edit them at any time. A missing issue is a bug in the test and
// panics.
func (s *Server) EditIssue(repo *Repo, n int, title, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := repo.issues[n]
	if !ok {
		panic(fmt.Sprintf("githubtest: edit %s#%d: no such issue", repo.FullName, n))
	}
	st.Title, st.Body, st.updatedAt = title, body, now()
}

func cloneIssue(is Issue) Issue {
	is.Labels = slices.Clone(is.Labels)
	return is
}

// getIssue answers GET /repos/{owner}/{repo}/issues/{number}.
func (s *Server) getIssue(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, _ := pathInt(r, "number")
	if to, ok := c.repo.moved[int(n)]; ok {
		// As GitHub answers for a transferred issue the token may read.
		w.Header().Set("Location", fmt.Sprintf("%srepos/%s/issues/%d", s.APIURL(), to.repo.FullName, to.number))
		writeJSON(w, http.StatusMovedPermanently, map[string]any{"message": "Moved Permanently"})
		return
	}
	if st := s.issueAt(w, r, c.repo); st != nil {
		writeJSON(w, http.StatusOK, s.issueJSON(c.repo, st))
	}
}

// movedIssue is where a transferred issue is now.
type movedIssue struct {
	repo   *Repo
	number int
}

// TransferIssue moves issue n of from to to, as GitHub's transfer does: it
// gets the next number there, and its old address answers 301 with the
// new one.
func (s *Server) TransferIssue(from *Repo, n int, to *Repo) Issue {
	s.mu.Lock()
	st := from.issues[n]
	delete(from.issues, n)
	s.mu.Unlock()
	if st == nil {
		panic(fmt.Sprintf("githubtest: no issue %d in %s", n, from.FullName))
	}
	issue := st.Issue
	issue.Number = 0
	moved := s.AddIssue(to, issue)
	s.mu.Lock()
	from.moved[n] = movedIssue{to, moved.Number}
	s.mu.Unlock()
	return moved
}

// issueAt returns the issue the path numbers, or answers 404. The caller
// holds s.mu.
func (s *Server) issueAt(w http.ResponseWriter, r *http.Request, repo *Repo) *issueState {
	n, _ := pathInt(r, "number")
	st := repo.issues[int(n)]
	if st == nil {
		writeError(w, http.StatusNotFound, "Not Found")
	}
	return st
}

// issueJSON is GitHub's issue object. The caller holds s.mu.
func (s *Server) issueJSON(repo *Repo, st *issueState) map[string]any {
	api := fmt.Sprintf("%srepos/%s/issues/%d", s.APIURL(), repo.FullName, st.Number)
	kind := "issues"
	if st.PullRequest {
		kind = "pull"
	}
	body := map[string]any{
		"id":                 st.id,
		"node_id":            fmt.Sprintf("I_%d", st.id),
		"number":             st.Number,
		"title":              st.Title,
		"body":               st.Body,
		"user":               s.userJSON(st.User),
		"labels":             s.labelsJSON(repo, st.Labels),
		"state":              st.State,
		"locked":             false,
		"comments":           len(st.commentIDs),
		"created_at":         timeJSON(st.createdAt),
		"updated_at":         timeJSON(st.updatedAt),
		"closed_at":          timeJSON(st.closedAt),
		"author_association": s.association(repo, st.User),
		"url":                api,
		"html_url":           fmt.Sprintf("%s/%s/%s/%d", s.URL(), repo.FullName, kind, st.Number),
		"repository_url":     s.APIURL() + "repos/" + repo.FullName,
		"comments_url":       api + "/comments",
		"labels_url":         api + "/labels{/name}",
	}
	if st.PullRequest {
		pr := fmt.Sprintf("%s/%s/pull/%d", s.URL(), repo.FullName, st.Number)
		body["pull_request"] = map[string]any{
			"url":      fmt.Sprintf("%srepos/%s/pulls/%d", s.APIURL(), repo.FullName, st.Number),
			"html_url": pr, "diff_url": pr + ".diff", "patch_url": pr + ".patch",
		}
	}
	return body
}

// addLabels answers POST /repos/{owner}/{repo}/issues/{number}/labels,
// whose body GitHub takes as ["a"], {"labels": ["a"]} or
// {"labels": [{"name": "a"}]}. Labels the repository lacks are created.
func (s *Server) addLabels(w http.ResponseWriter, r *http.Request, c *call) {
	var raw json.RawMessage
	if !readJSON(w, r, &raw) {
		return
	}
	names, ok := labelNames(raw)
	if !ok {
		writeInvalid(w, "%q is not a valid list of labels.", string(raw))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.issueAt(w, r, c.repo)
	if st == nil {
		return
	}
	for _, n := range names {
		if !slices.ContainsFunc(st.Labels, func(l string) bool { return strings.EqualFold(l, n) }) {
			st.Labels = append(st.Labels, n)
		}
		s.labelID(c.repo, n)
	}
	st.updatedAt = now()
	writeJSON(w, http.StatusOK, s.labelsJSON(c.repo, st.Labels))
}

func labelNames(raw json.RawMessage) ([]string, bool) {
	var names []string
	if json.Unmarshal(raw, &names) == nil {
		return names, true
	}
	var obj struct {
		Labels []json.RawMessage `json:"labels"`
	}
	if json.Unmarshal(raw, &obj) != nil {
		return nil, false
	}
	for _, l := range obj.Labels {
		var name string
		var named struct {
			Name string `json:"name"`
		}
		switch {
		case json.Unmarshal(l, &name) == nil:
		case json.Unmarshal(l, &named) == nil && named.Name != "":
			name = named.Name
		default:
			return nil, false
		}
		names = append(names, name)
	}
	return names, true
}

// removeLabel answers DELETE /repos/{owner}/{repo}/issues/{number}/labels/{name}.
func (s *Server) removeLabel(w http.ResponseWriter, r *http.Request, c *call) {
	name := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.issueAt(w, r, c.repo)
	if st == nil {
		return
	}
	i := slices.IndexFunc(st.Labels, func(l string) bool { return strings.EqualFold(l, name) })
	if i < 0 {
		writeError(w, http.StatusNotFound, "Label does not exist")
		return
	}
	st.Labels = slices.Delete(st.Labels, i, i+1)
	st.updatedAt = now()
	writeJSON(w, http.StatusOK, s.labelsJSON(c.repo, st.Labels))
}

// labelID returns the ID of repo's label name, creating the label. The
// caller holds s.mu.
func (s *Server) labelID(repo *Repo, name string) int64 {
	key := strings.ToLower(name)
	if id, ok := repo.labelIDs[key]; ok {
		return id
	}
	id := s.newID()
	repo.labelIDs[key] = id
	return id
}

// labelsJSON is a list of GitHub's label objects. The caller holds s.mu.
func (s *Server) labelsJSON(repo *Repo, names []string) []any {
	out := []any{}
	for _, n := range names {
		id := s.labelID(repo, n)
		out = append(out, map[string]any{
			"id":          id,
			"node_id":     fmt.Sprintf("LA_%d", id),
			"url":         s.APIURL() + "repos/" + repo.FullName + "/labels/" + n,
			"name":        n,
			"color":       "ededed",
			"default":     false,
			"description": nil,
		})
	}
	return out
}

package githubtest

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// AddReviewComment adds a review comment by login on a line of pull
// request n of repo, as if a person left it in a review. A missing pull
// request is a bug in the test and panics.
func (s *Server) AddReviewComment(repo *Repo, n int, login, path string, line int, body string) Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := repo.issues[n]
	if st == nil || !st.PullRequest {
		panic(fmt.Sprintf("githubtest: review comment on %s#%d: no such pull request", repo.FullName, n))
	}
	t := now()
	s.knowUser(login)
	cm := &Comment{ID: s.newID(), Repo: repo.FullName, Issue: n, User: login, Body: body,
		History: []string{body}, CreatedAt: t, UpdatedAt: t, ReviewID: s.newID(), Path: path, Line: line}
	s.reviewComments[cm.ID] = cm
	st.reviewCommentIDs = append(st.reviewCommentIDs, cm.ID)
	return cloneComment(cm)
}

// ReviewComments returns the review comments on pull request n of repo,
// oldest first.
func (s *Server) ReviewComments(repo *Repo, n int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := repo.issues[n]
	if st == nil {
		return nil
	}
	out := make([]Comment, 0, len(st.reviewCommentIDs))
	for _, id := range st.reviewCommentIDs {
		out = append(out, cloneComment(s.reviewComments[id]))
	}
	return out
}

// createReviewComment answers POST /repos/{owner}/{repo}/pulls/{number}/comments
// for a reply: a review comment in the thread of the one in_reply_to names,
// on the same pull request. A new thread on a line, which the bot never
// starts, gets the 422 GitHub gives a request missing its place.
func (s *Server) createReviewComment(w http.ResponseWriter, r *http.Request, c *call) {
	var req struct {
		Body      *string `json:"body"`
		InReplyTo int64   `json:"in_reply_to"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	switch {
	case req.Body == nil || strings.TrimSpace(*req.Body) == "":
		writeValidation(w, "PullRequestReviewComment", "body", "missing_field", "")
		return
	case req.InReplyTo == 0:
		writeValidation(w, "PullRequestReviewComment", "commit_id", "missing_field", "")
		return
	}
	body := *req.Body
	n, _ := pathInt(r, "number")
	id := req.InReplyTo
	s.mu.Lock()
	defer s.mu.Unlock()
	first := s.reviewComments[id]
	if first == nil || !strings.EqualFold(first.Repo, c.repo.FullName) || first.Issue != int(n) {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	// GitHub threads a reply to a reply under the thread's first comment.
	if first.InReplyTo != 0 {
		id = first.InReplyTo
	}
	t := now()
	cm := &Comment{ID: s.newID(), Repo: c.repo.FullName, Issue: int(n), User: s.BotLogin(), Body: body,
		History: []string{body}, CreatedAt: t, UpdatedAt: t, InReplyTo: id}
	s.reviewComments[cm.ID] = cm
	c.repo.issues[int(n)].reviewCommentIDs = append(c.repo.issues[int(n)].reviewCommentIDs, cm.ID)
	writeJSON(w, http.StatusCreated, s.reviewCommentJSON(c.repo, cm))
}

// listReviewComments answers GET
// /repos/{owner}/{repo}/pulls/{number}/reviews/{review}/comments: the
// comments that review left, oldest first.
func (s *Server) listReviewComments(w http.ResponseWriter, r *http.Request, c *call) {
	review, _ := pathInt(r, "review")
	s.writeReviewComments(w, r, c, func(cm *Comment) bool { return cm.ReviewID == review })
}

// listPullComments answers GET /repos/{owner}/{repo}/pulls/{number}/comments:
// the pull request's review comments, oldest first, those updated before
// since left out.
func (s *Server) listPullComments(w http.ResponseWriter, r *http.Request, c *call) {
	since, _ := time.Parse(time.RFC3339, r.URL.Query().Get("since"))
	s.writeReviewComments(w, r, c, func(cm *Comment) bool { return !cm.UpdatedAt.Before(since) })
}

// writeReviewComments answers with a page of the review comments on the
// path's pull request that keep takes, oldest first.
func (s *Server) writeReviewComments(w http.ResponseWriter, r *http.Request, c *call, keep func(*Comment) bool) {
	n, _ := pathInt(r, "number")
	s.mu.Lock()
	defer s.mu.Unlock()
	st := c.repo.issues[int(n)]
	if st == nil || !st.PullRequest {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	var found []*Comment
	for _, id := range st.reviewCommentIDs {
		if cm := s.reviewComments[id]; keep(cm) {
			found = append(found, cm)
		}
	}
	lo, hi := s.page(w, r, len(found))
	out := []any{}
	for _, cm := range found[lo:hi] {
		out = append(out, s.reviewCommentJSON(c.repo, cm))
	}
	writeJSON(w, http.StatusOK, out)
}

// reviewCommentJSON is GitHub's pull request review comment object. The
// caller holds s.mu.
func (s *Server) reviewCommentJSON(repo *Repo, cm *Comment) map[string]any {
	api := s.APIURL() + "repos/" + repo.FullName
	out := map[string]any{
		"id":                     cm.ID,
		"node_id":                fmt.Sprintf("PRRC_%d", cm.ID),
		"url":                    fmt.Sprintf("%s/pulls/comments/%d", api, cm.ID),
		"html_url":               fmt.Sprintf("%s/%s/pull/%d#discussion_r%d", s.URL(), repo.FullName, cm.Issue, cm.ID),
		"pull_request_url":       fmt.Sprintf("%s/pulls/%d", api, cm.Issue),
		"pull_request_review_id": cm.ReviewID,
		"body":                   cm.Body,
		"path":                   cm.Path,
		"line":                   cm.Line,
		"user":                   s.userJSON(cm.User),
		"created_at":             timeJSON(cm.CreatedAt),
		"updated_at":             timeJSON(cm.UpdatedAt),
	}
	if cm.InReplyTo != 0 {
		out["in_reply_to_id"] = cm.InReplyTo
	}
	return out
}

// reactToReviewComment answers POST /repos/{owner}/{repo}/pulls/comments/{id}/reactions.
func (s *Server) reactToReviewComment(w http.ResponseWriter, r *http.Request, c *call) {
	s.react(w, r, c, func() (int, int64, bool) {
		id, _ := pathInt(r, "id")
		cm := s.reviewComments[id]
		if cm == nil || !strings.EqualFold(cm.Repo, c.repo.FullName) {
			writeError(w, http.StatusNotFound, "Not Found")
			return 0, 0, false
		}
		return cm.Issue, cm.ID, true
	})
}

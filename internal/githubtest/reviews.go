package githubtest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Review is a review submitted on a pull request.
type Review struct {
	ID    int64
	User  string
	State string // APPROVED, CHANGES_REQUESTED, COMMENTED or DISMISSED
	Body  string
	// CommitID is the pull request's head when the review was submitted.
	CommitID    string
	SubmittedAt time.Time
}

// AddReview adds a review by login of pull request n of repo, as if they
// had submitted it with state, and returns it as stored. As on GitHub, a
// review takes its author off the pull request's requested reviewers. A
// missing pull request is a bug in the test and panics.
func (s *Server) AddReview(repo *Repo, n int, login, state, body string) Review {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr := repo.pulls[n]
	if pr == nil {
		panic(fmt.Sprintf("githubtest: review of %s#%d: no such pull request", repo.FullName, n))
	}
	s.knowUser(login)
	rv := Review{ID: s.newID(), User: login, State: state, Body: body, CommitID: pr.HeadSHA, SubmittedAt: now()}
	pr.reviews = append(pr.reviews, rv)
	pr.Reviewers = slices.DeleteFunc(pr.Reviewers, func(r string) bool { return strings.EqualFold(r, login) })
	return rv
}

// listReviews answers GET /repos/{owner}/{repo}/pulls/{number}/reviews:
// the pull request's reviews, oldest first.
func (s *Server) listReviews(w http.ResponseWriter, r *http.Request, c *call) {
	s.withPull(w, r, c.repo, func(pr *PullRequest, _ map[string]string) {
		lo, hi := s.page(w, r, len(pr.reviews))
		out := []any{}
		for _, rv := range pr.reviews[lo:hi] {
			out = append(out, s.reviewJSON(c.repo, pr, rv))
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// reviewJSON is GitHub's pull request review object. The caller holds
// s.mu.
func (s *Server) reviewJSON(repo *Repo, pr *PullRequest, rv Review) map[string]any {
	html := fmt.Sprintf("%s/%s/pull/%d", s.URL(), repo.FullName, pr.Number)
	return map[string]any{
		"id":                 rv.ID,
		"node_id":            fmt.Sprintf("PRR_%d", rv.ID),
		"user":               s.userJSON(rv.User),
		"body":               rv.Body,
		"state":              rv.State,
		"commit_id":          rv.CommitID,
		"author_association": s.association(repo, rv.User),
		"html_url":           fmt.Sprintf("%s#pullrequestreview-%d", html, rv.ID),
		"pull_request_url":   fmt.Sprintf("%srepos/%s/pulls/%d", s.APIURL(), repo.FullName, pr.Number),
		"submitted_at":       timeJSON(rv.SubmittedAt),
	}
}

package githubtest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// maxCommentLength is GitHub's limit on a comment body, in characters.
const maxCommentLength = 65536

// reactionContents are the reactions GitHub knows.
var reactionContents = []string{"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}

// Comment is a comment on an issue or pull request.
type Comment struct {
	ID    int64
	Repo  string // full name
	Issue int
	User  string
	Body  string
	// History holds every body the comment has had, oldest first; the
	// last is Body.
	History   []string
	CreatedAt time.Time
	UpdatedAt time.Time
	// InReplyTo is, for a pull request review comment, the one it answers
	// in its thread; 0 for the first.
	InReplyTo int64
	// ReviewID, Path and Line are, for a pull request review comment, the
	// review it came in and where it was left.
	ReviewID int64
	Path     string
	Line     int
}

// Reaction is a reaction to an issue or to a comment.
type Reaction struct {
	ID        int64
	Issue     int   // the issue reacted to, or the comment's issue
	CommentID int64 // 0 for a reaction to the issue itself
	// ReviewComment says CommentID is a pull request review comment's, not
	// an issue comment's.
	ReviewComment bool
	User          string
	Content       string
	CreatedAt     time.Time
}

// AddComment adds a comment by login to issue n of repo, as if a person
// wrote it. A missing issue is a bug in the test and panics.
func (s *Server) AddComment(repo *Repo, n int, login, body string) Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := repo.issues[n]
	if st == nil {
		panic(fmt.Sprintf("githubtest: comment on %s#%d: no such issue", repo.FullName, n))
	}
	return cloneComment(s.addComment(repo, st, 0, login, body))
}

// addComment stores a comment, with the given ID unless it is 0. The
// caller holds s.mu.
func (s *Server) addComment(repo *Repo, st *issueState, id int64, login, body string) *Comment {
	if id == 0 {
		id = s.newID()
	}
	t := now()
	s.knowUser(login)
	cm := &Comment{
		ID: id, Repo: repo.FullName, Issue: st.Number, User: login, Body: body,
		History: []string{body}, CreatedAt: t, UpdatedAt: t,
	}
	s.comments[id] = cm
	st.commentIDs = append(st.commentIDs, id)
	st.updatedAt = t
	return cm
}

// DeleteComment deletes a comment on an issue of repo, as a person may.
func (s *Server) DeleteComment(repo *Repo, n int, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.comments, id)
	if st := repo.issues[n]; st != nil {
		st.commentIDs = slices.DeleteFunc(st.commentIDs, func(c int64) bool { return c == id })
	}
}

// Comments returns the comments on issue n of repo, oldest first.
func (s *Server) Comments(repo *Repo, n int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := repo.issues[n]
	if st == nil {
		return nil
	}
	out := make([]Comment, 0, len(st.commentIDs))
	for _, id := range st.commentIDs {
		out = append(out, cloneComment(s.comments[id]))
	}
	return out
}

// Comment returns the comment with id, with its History.
func (s *Server) Comment(id int64) (Comment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cm, ok := s.comments[id]
	if !ok {
		return Comment{}, false
	}
	return cloneComment(cm), true
}

// Reactions returns every reaction in repo, oldest first.
func (s *Server) Reactions(repo *Repo) []Reaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(repo.reactions)
}

func cloneComment(cm *Comment) Comment {
	c := *cm
	c.History = slices.Clone(cm.History)
	return c
}

// commentJSON is GitHub's issue comment object. The caller holds s.mu.
func (s *Server) commentJSON(repo *Repo, cm *Comment) map[string]any {
	api := s.APIURL() + "repos/" + repo.FullName
	return map[string]any{
		"id":                 cm.ID,
		"node_id":            fmt.Sprintf("IC_%d", cm.ID),
		"url":                fmt.Sprintf("%s/issues/comments/%d", api, cm.ID),
		"html_url":           fmt.Sprintf("%s/%s/issues/%d#issuecomment-%d", s.URL(), repo.FullName, cm.Issue, cm.ID),
		"issue_url":          fmt.Sprintf("%s/issues/%d", api, cm.Issue),
		"body":               cm.Body,
		"user":               s.userJSON(cm.User),
		"created_at":         timeJSON(cm.CreatedAt),
		"updated_at":         timeJSON(cm.UpdatedAt),
		"author_association": s.association(repo, cm.User),
	}
}

// commentBody reads {"body": ...} and checks it as GitHub does; it
// reports whether the handler should go on.
func commentBody(w http.ResponseWriter, r *http.Request) (string, bool) {
	var req struct {
		Body *string `json:"body"`
	}
	if !readJSON(w, r, &req) {
		return "", false
	}
	switch {
	case req.Body == nil || strings.TrimSpace(*req.Body) == "":
		writeValidation(w, "IssueComment", "body", "missing_field", "")
		return "", false
	case utf8.RuneCountInString(*req.Body) > maxCommentLength:
		writeValidation(w, "IssueComment", "body", "custom",
			fmt.Sprintf("body is too long (maximum is %d characters)", maxCommentLength))
		return "", false
	}
	return *req.Body, true
}

// listComments answers GET /repos/{owner}/{repo}/issues/{number}/comments.
func (s *Server) listComments(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.issueAt(w, r, c.repo)
	if st == nil {
		return
	}
	since, _ := time.Parse(time.RFC3339, r.URL.Query().Get("since"))
	var ids []int64
	for _, id := range st.commentIDs {
		if !s.comments[id].UpdatedAt.Before(since) {
			ids = append(ids, id)
		}
	}
	lo, hi := s.page(w, r, len(ids))
	out := []any{}
	for _, id := range ids[lo:hi] {
		out = append(out, s.commentJSON(c.repo, s.comments[id]))
	}
	writeJSON(w, http.StatusOK, out)
}

// createComment answers POST /repos/{owner}/{repo}/issues/{number}/comments.
func (s *Server) createComment(w http.ResponseWriter, r *http.Request, c *call) {
	body, ok := commentBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.issueAt(w, r, c.repo)
	if st == nil {
		return
	}
	cm := s.addComment(c.repo, st, 0, s.BotLogin(), body)
	out := s.commentJSON(c.repo, cm)
	w.Header().Set("Location", out["url"].(string))
	writeJSON(w, http.StatusCreated, out)
}

// commentAt returns the comment the path names, if it is in repo, or
// answers 404. The caller holds s.mu.
func (s *Server) commentAt(w http.ResponseWriter, r *http.Request, repo *Repo) *Comment {
	id, _ := pathInt(r, "id")
	cm := s.comments[id]
	if cm == nil || !strings.EqualFold(cm.Repo, repo.FullName) {
		writeError(w, http.StatusNotFound, "Not Found")
		return nil
	}
	return cm
}

// getComment answers GET /repos/{owner}/{repo}/issues/comments/{id}.
func (s *Server) getComment(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cm := s.commentAt(w, r, c.repo); cm != nil {
		writeJSON(w, http.StatusOK, s.commentJSON(c.repo, cm))
	}
}

// editComment answers PATCH /repos/{owner}/{repo}/issues/comments/{id}.
func (s *Server) editComment(w http.ResponseWriter, r *http.Request, c *call) {
	body, ok := commentBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cm := s.commentAt(w, r, c.repo)
	if cm == nil {
		return
	}
	cm.Body = body
	cm.History = append(cm.History, body)
	cm.UpdatedAt = now()
	writeJSON(w, http.StatusOK, s.commentJSON(c.repo, cm))
}

// reactToIssue answers POST /repos/{owner}/{repo}/issues/{number}/reactions.
func (s *Server) reactToIssue(w http.ResponseWriter, r *http.Request, c *call) {
	s.react(w, r, c, func() (int, int64, bool) {
		st := s.issueAt(w, r, c.repo)
		if st == nil {
			return 0, 0, false
		}
		return st.Number, 0, true
	})
}

// reactToComment answers POST /repos/{owner}/{repo}/issues/comments/{id}/reactions.
func (s *Server) reactToComment(w http.ResponseWriter, r *http.Request, c *call) {
	s.react(w, r, c, func() (int, int64, bool) {
		cm := s.commentAt(w, r, c.repo)
		if cm == nil {
			return 0, 0, false
		}
		return cm.Issue, cm.ID, true
	})
}

// react adds the bot's reaction to what target finds (answering 404
// itself when it finds nothing): 201 for a new one, 200 with the existing
// one when the bot already reacted so, as GitHub does.
func (s *Server) react(w http.ResponseWriter, r *http.Request, c *call, target func() (int, int64, bool)) {
	var req struct {
		Content string `json:"content"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if !slices.Contains(reactionContents, req.Content) {
		writeValidation(w, "Reaction", "content", "invalid", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	issue, commentID, ok := target()
	if !ok {
		return
	}
	login := s.BotLogin()
	review := strings.Contains(r.URL.Path, "/pulls/comments/")
	for _, re := range c.repo.reactions {
		if re.Issue == issue && re.CommentID == commentID && re.ReviewComment == review && re.User == login && re.Content == req.Content {
			writeJSON(w, http.StatusOK, s.reactionJSON(re))
			return
		}
	}
	re := Reaction{
		ID: s.newID(), Issue: issue, CommentID: commentID, ReviewComment: review,
		User: login, Content: req.Content, CreatedAt: now(),
	}
	c.repo.reactions = append(c.repo.reactions, re)
	writeJSON(w, http.StatusCreated, s.reactionJSON(re))
}

func (s *Server) reactionJSON(re Reaction) map[string]any {
	return map[string]any{
		"id":         re.ID,
		"node_id":    fmt.Sprintf("REA_%d", re.ID),
		"user":       s.userJSON(re.User),
		"content":    re.Content,
		"created_at": timeJSON(re.CreatedAt),
	}
}

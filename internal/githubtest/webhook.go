package githubtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// deliveryTimeout is how long GitHub waits for a webhook to be answered;
// a delivery that takes longer fails the test, as it would fail on GitHub.
const deliveryTimeout = 10 * time.Second

// FixtureDir is the directory of the webhook fixtures, real payloads
// GitHub wrote (see its README.md): testdata/webhooks of this package,
// found from the module root, the nearest directory above the working
// directory holding go.mod.
func FixtureDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("webhook fixtures: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "internal", "githubtest", "testdata", "webhooks")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("webhook fixtures: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Fixture loads the real webhook payload <name>.json from FixtureDir.
func Fixture(t testing.TB, name string) map[string]any {
	t.Helper()
	path := filepath.Join(FixtureDir(t), strings.TrimSuffix(name, ".json")+".json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("webhook fixture %s: %v", name, err)
	}
	var payload map[string]any
	if err := json.Unmarshal(data, &payload); err != nil {
		t.Fatalf("webhook fixture %s: %v", name, err)
	}
	return payload
}

// Adapt points a webhook payload at repo: its repository block and
// installation.id become the fake's, the people in it (sender and the
// authors of its issue, comment and pull request) become known users, and
// its issue and comment are added to the fake unless already there, so
// the API agrees with the event.
func (s *Server) Adapt(payload map[string]any, repo *Repo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	block, _ := payload["repository"].(map[string]any)
	if block == nil {
		block = map[string]any{}
		payload["repository"] = block
	}
	maps.Copy(block, s.repoJSON(repo))
	if repo.InstallationID != 0 {
		inst, _ := payload["installation"].(map[string]any)
		if inst == nil {
			inst = map[string]any{}
			payload["installation"] = inst
		}
		inst["id"] = repo.InstallationID
		inst["node_id"] = fmt.Sprintf("INST_%d", repo.InstallationID)
	}
	for _, path := range [][]string{{"sender"}, {"issue", "user"}, {"comment", "user"}, {"pull_request", "user"}} {
		if login, ok := lookup(payload, append(path, "login")...).(string); ok && login != "" {
			s.knowUser(login)
		}
	}
	s.importIssue(payload, repo)
	s.importReviewComment(payload, repo)
}

// importIssue adds the payload's issue and comment to repo unless it has
// them. An issue it has is shown in the payload as it is, title, body and
// author, as GitHub's payloads show it. The caller holds s.mu.
func (s *Server) importIssue(payload map[string]any, repo *Repo) {
	issue, _ := payload["issue"].(map[string]any)
	n, ok := number(issue["number"])
	if !ok {
		return
	}
	st := repo.issues[int(n)]
	if st != nil {
		issue["title"], issue["body"] = st.Title, st.Body
		if author, ok := issue["user"].(map[string]any); ok {
			author["login"] = st.User
		}
	}
	if st == nil {
		is := Issue{Number: int(n), State: "open", User: repo.Owner, PullRequest: issue["pull_request"] != nil}
		is.Title, _ = issue["title"].(string)
		is.Body, _ = issue["body"].(string)
		if login, ok := lookup(issue, "user", "login").(string); ok {
			is.User = login
		}
		if state, ok := issue["state"].(string); ok {
			is.State = state
		}
		labels, _ := issue["labels"].([]any)
		for _, l := range labels {
			if name, ok := lookup(l, "name").(string); ok {
				is.Labels = append(is.Labels, name)
			}
		}
		st = s.addIssue(repo, is)
	}
	comment, _ := payload["comment"].(map[string]any)
	id, ok := number(comment["id"])
	if _, have := s.comments[id]; !ok || have {
		return
	}
	login, _ := lookup(comment, "user", "login").(string)
	body, _ := comment["body"].(string)
	if login != "" {
		s.addComment(repo, st, id, login, body)
	}
}

// importReviewComment adds the pull request and review comment of a
// pull_request_review_comment payload to repo unless it has them. The pull
// request's branches need not exist. The caller holds s.mu.
func (s *Server) importReviewComment(payload map[string]any, repo *Repo) {
	pr, _ := payload["pull_request"].(map[string]any)
	comment, _ := payload["comment"].(map[string]any)
	n, ok := number(pr["number"])
	if !ok || comment == nil {
		return
	}
	st := repo.issues[int(n)]
	if st == nil {
		pull := PullRequest{Number: int(n), User: repo.Owner}
		pull.Title, _ = pr["title"].(string)
		pull.Body, _ = pr["body"].(string)
		pull.Head, _ = lookup(pr, "head", "ref").(string)
		pull.Base, _ = lookup(pr, "base", "ref").(string)
		if login, ok := lookup(pr, "user", "login").(string); ok {
			pull.User = login
		}
		st = s.addPull(repo, pull)
	}
	id, ok := number(comment["id"])
	login, _ := lookup(comment, "user", "login").(string)
	if _, have := s.reviewComments[id]; !ok || have || login == "" {
		return
	}
	body, _ := comment["body"].(string)
	path, _ := comment["path"].(string)
	review, _ := number(comment["pull_request_review_id"])
	line, _ := number(comment["line"])
	t := now()
	s.knowUser(login)
	s.reviewComments[id] = &Comment{ID: id, Repo: repo.FullName, Issue: st.Number, User: login, Body: body,
		History: []string{body}, CreatedAt: t, UpdatedAt: t, ReviewID: review, Path: path, Line: int(line)}
	st.reviewCommentIDs = append(st.reviewCommentIDs, id)
}

// lookup follows keys through nested JSON objects.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// number reads a whole number from decoded JSON or from a value a test
// put in a payload.
func number(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		return int64(n), n > 0
	case int:
		return int64(n), n > 0
	case int64:
		return n, n > 0
	case json.Number:
		i, err := n.Int64()
		return i, err == nil && i > 0
	}
	return 0, false
}

// Sign returns the X-Hub-Signature-256 of body under secret:
// "sha256=" and the hex HMAC-SHA256.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// SignDelivery sets the headers GitHub sends with a webhook delivery of
// body: its content type, event, delivery ID and signature under secret.
func SignDelivery(req *http.Request, secret, event, deliveryID string, body []byte) {
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", deliveryID)
	req.Header.Set("X-Hub-Signature-256", Sign(secret, body))
}

// Deliver posts a signed webhook delivery to target, which must be on the
// loopback interface, and returns the response with its body read into
// memory, so callers need not close it. It waits as long as GitHub would.
func Deliver(t testing.TB, target, secret, event, deliveryID string, body []byte) *http.Response {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("deliver %s: %v", event, err)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		t.Fatalf("deliver %s: %s is not a loopback address; tests stay on this machine", event, u.Host)
	}
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("deliver %s: %v", event, err)
	}
	req.Header.Set("User-Agent", "GitHub-Hookshot/githubtest")
	SignDelivery(req, secret, event, deliveryID, body)
	client := &http.Client{Timeout: deliveryTimeout}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("deliver %s %s: %v", event, deliveryID, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("deliver %s %s: read response: %v", event, deliveryID, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return resp
}

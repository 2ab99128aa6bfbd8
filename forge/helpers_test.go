package forge

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/internal/githubtest"
	"github.com/oneshot-dev/oneshot/tasks"
)

// notifiedIssue is an issue on the fake GitHub with a task whose attempt
// has a queued check run, and a notifier and progress as `bot serve` wires
// them.
type notifiedIssue struct {
	gh       *githubtest.Server
	repo     *githubtest.Repo
	task     *tasks.Task
	comments *statusComments
	clients  githubapp.ClientCreator
	progress *Progress
	notifier *githubapi.Notifier
}

func newNotifiedIssue(t *testing.T) *notifiedIssue {
	t.Helper()
	gh := githubtest.New(t)
	repo := gh.AddInstalledRepo(t, 7, "acme/widgets", map[string]string{"README.md": "# widgets\n"})
	gh.AddIssue(repo, githubtest.Issue{Number: 1, Title: "Fix it"})
	clients, err := githubapi.NewClientCreator(gh.AppConfig(), "test", githubapi.RetryPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	task := &tasks.Task{ID: "t1", Repo: "acme/widgets", InstallationID: 7, Issue: 1, Attempt: 1}
	r, err := githubapi.ForRepo(clients, 7, "acme/widgets")
	if err != nil {
		t.Fatal(err)
	}
	if task.CheckRunID, err = r.QueueCheckRun(t.Context(), gh.Head(t, repo, repo.DefaultBranch), githubapi.QueuedRun{TaskID: task.ID, Attempt: 1, DetailsURL: "http://bot/tasks/t1"}); err != nil {
		t.Fatal(err)
	}
	n := &notifiedIssue{gh: gh, repo: repo, task: task, comments: &statusComments{}, clients: clients}
	n.restart(t)
	return n
}

// restart makes the progress and notifier of a new process.
func (n *notifiedIssue) restart(t *testing.T) {
	log := zerolog.New(zerolog.NewTestWriter(t))
	throttle := &githubapi.Throttle{}
	n.progress = &Progress{Clients: n.clients, Throttle: throttle, Comments: n.comments, Logger: log, BotLogin: n.gh.BotLogin()}
	n.notifier = &githubapi.Notifier{Clients: n.clients, Throttle: throttle, Logger: log, Progress: n.progress}
}

func (n *notifiedIssue) botComments() []githubtest.Comment {
	var out []githubtest.Comment
	for _, c := range n.gh.Comments(n.repo, 1) {
		if strings.HasSuffix(c.User, "[bot]") {
			out = append(out, c)
		}
	}
	return out
}

type statusComments struct{ sync.Map }

func (s *statusComments) SetStatusComment(_ context.Context, taskID string, id int64) error {
	s.Store(taskID, id)
	return nil
}

// wait returns the status comment recorded for a task, once it is, up to
// 10 s.
func (s *statusComments) wait(t *testing.T, taskID string) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if id, ok := s.Load(taskID); ok {
			return id.(int64)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no status comment was recorded")
	return 0
}

// waitForRequest waits, up to 10 s, for the fake to answer a request.
func waitForRequest(t *testing.T, gh *githubtest.Server, method, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, req := range gh.Requests() {
			if req.Method == method && req.Path == path && req.Status != 0 {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %s %s reached the fake", method, path)
}

// waitUntil waits, up to 10 s, for cond to hold, and fails saying what
// did not happen otherwise.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/oneshot-dev/oneshot/handlers"
	"github.com/oneshot-dev/oneshot/internal/githubtest"
	"github.com/oneshot-dev/oneshot/tasks"
)

const fuzzSecret = "fuzz-secret"

var events = []string{"issues", "issue_comment", "check_run", "check_suite", "installation", "pull_request_review_comment", "ping"}

// FuzzWebhook sends signed payloads, the real fixtures and mutations of
// them, through the dispatcher and the handlers: nothing may panic or fail
// with a 5xx, and whatever is accepted must be a complete trigger.
func FuzzWebhook(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(githubtest.FixtureDir(f), "*.json"))
	if len(files) == 0 {
		f.Fatal("no webhook fixtures found")
	}
	for _, file := range files {
		body, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		event, _, _ := strings.Cut(name, ".")
		for i, e := range events {
			if e == event {
				f.Add(uint8(i), body)
			}
		}
	}
	f.Add(uint8(1), []byte(`{"action":"created","comment":{"body":"/oneshot fix","user":{"login":"a"}},"repository":{"id":1,"full_name":"o/r"},"installation":{"id":2},"sender":{"login":"a"}}`))

	accepter := &recordingAccepter{}
	base := handlers.Base{Queue: accepter, Label: "agent", Command: "/oneshot", AppID: 1, BotLogin: "oneshot[bot]"}
	dispatcher := githubapp.NewEventDispatcher([]githubapp.EventHandler{
		&handlers.Issues{Base: base}, &handlers.IssueComment{Base: base},
		&handlers.ReviewComment{Base: base}, &handlers.CheckRun{Base: base},
	}, fuzzSecret)

	f.Fuzz(func(t *testing.T, eventIndex uint8, body []byte) {
		event := events[int(eventIndex)%len(events)]
		req := httptest.NewRequest(http.MethodPost, githubapp.DefaultWebhookRoute, strings.NewReader(string(body)))
		githubtest.SignDelivery(req, fuzzSecret, event, "fuzz", body)
		rec := httptest.NewRecorder()
		dispatcher.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s answered %d for %q", event, rec.Code, body)
		}
		for _, tr := range accepter.take() {
			if tr.DeliveryID == "" || !strings.Contains(tr.Repo, "/") || tr.RepoID == 0 || tr.InstallationID == 0 ||
				tr.Actor == "" || tr.Command == "" || (tr.Issue == 0 && tr.TaskID == "") {
				t.Fatalf("accepted an incomplete trigger %+v from %q", tr, body)
			}
		}
	})
}

type recordingAccepter struct {
	mu       sync.Mutex
	triggers []tasks.Trigger
}

func (r *recordingAccepter) Accept(_ context.Context, t tasks.Trigger) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.triggers = append(r.triggers, t)
	return true, nil
}

func (r *recordingAccepter) take() []tasks.Trigger {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.triggers
	r.triggers = nil
	return out
}

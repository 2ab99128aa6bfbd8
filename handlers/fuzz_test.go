package handlers_test

import (
	"context"
	"encoding/json"
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
	"github.com/oneshot-dev/oneshot/server"
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
				// The fixtures as they come mostly stop at the first
				// filter; adapted, they reach the intake's door.
				f.Add(uint8(i), triggering(f, body))
			}
		}
	}
	f.Add(uint8(1), []byte(`{"action":"created","comment":{"body":"/oneshot fix","user":{"login":"a"}},"repository":{"id":1,"full_name":"o/r"},"installation":{"id":2},"sender":{"login":"a"}}`))

	accepter, dispatcher := newDispatcher()
	f.Fuzz(func(t *testing.T, eventIndex uint8, body []byte) {
		event := events[int(eventIndex)%len(events)]
		if code := deliver(dispatcher, event, "fuzz", body); code >= 500 {
			t.Fatalf("%s answered %d for %q", event, code, body)
		}
		for _, tr := range accepter.take() {
			if tr.DeliveryID == "" || !strings.Contains(tr.Repo, "/") || tr.RepoID == 0 || tr.InstallationID == 0 ||
				tr.Actor == "" || tr.Command == "" || (tr.Issue == 0 && tr.TaskID == "") {
				t.Fatalf("accepted an incomplete trigger %+v from %q", tr, body)
			}
			if strings.HasSuffix(tr.Actor, "[bot]") {
				t.Fatalf("accepted a bot's trigger %+v from %q", tr, body)
			}
		}
	})
}

// triggering edits a fixture into what the bot acts on: from an
// installation, with the trigger label, a command comment, or a check run
// of this App's (AppID 1) named oneshot, with a task's ID, and its Retry
// button pressed.
func triggering(tb testing.TB, body []byte) []byte {
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		tb.Fatal(err)
	}
	if _, ok := p["installation"]; !ok {
		p["installation"] = map[string]any{"id": 2}
	}
	if action, ok := p["requested_action"].(map[string]any); ok {
		action["identifier"] = "retry"
	}
	if label, ok := p["label"].(map[string]any); ok {
		label["name"] = "agent"
	}
	if comment, ok := p["comment"].(map[string]any); ok {
		comment["body"] = "/oneshot fix it\nplease"
	}
	if run, ok := p["check_run"].(map[string]any); ok {
		run["name"], run["external_id"] = "oneshot", "t0123456789abcdef"
		if app, ok := run["app"].(map[string]any); ok {
			app["id"] = 1
		}
	}
	out, err := json.Marshal(p)
	if err != nil {
		tb.Fatal(err)
	}
	return out
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

// TestTheAdaptedFixturesReachTheIntake keeps FuzzWebhook's seeds useful: a
// seed that every filter drops tests only the filters.
func TestTheAdaptedFixturesReachTheIntake(t *testing.T) {
	accepter, dispatcher := newDispatcher()
	for _, name := range []string{"issues.labeled", "issue_comment.created", "check_run.rerequested", "check_run.requested_action"} {
		body, err := os.ReadFile(filepath.Join(githubtest.FixtureDir(t), name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		body = triggering(t, body)
		event, _, _ := strings.Cut(name, ".")
		deliver(dispatcher, event, "seed-"+name, body)
		if got := accepter.take(); len(got) != 1 {
			t.Errorf("%s, adapted: %d triggers accepted, want 1", name, len(got))
		}
	}
}

// newDispatcher is the bot's webhook handlers, as server wires them, in
// front of an accepter that records what they accept.
func newDispatcher() (*recordingAccepter, http.Handler) {
	accepter := &recordingAccepter{}
	base := handlers.Base{Queue: accepter, Label: "agent", Command: "/oneshot", AppID: 1, BotLogin: "oneshot[bot]"}
	return accepter, githubapp.NewEventDispatcher(server.Handlers(base), fuzzSecret)
}

// deliver signs body as GitHub would and serves it; it returns the status.
func deliver(dispatcher http.Handler, event, deliveryID string, body []byte) int {
	req := httptest.NewRequest(http.MethodPost, githubapp.DefaultWebhookRoute, strings.NewReader(string(body)))
	githubtest.SignDelivery(req, fuzzSecret, event, deliveryID, body)
	rec := httptest.NewRecorder()
	dispatcher.ServeHTTP(rec, req)
	return rec.Code
}

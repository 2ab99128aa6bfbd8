package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/internal/githubtest"
	"github.com/oneshot-dev/oneshot/server"
	"github.com/oneshot-dev/oneshot/tasks"
)

const (
	webhookSecret  = "test-webhook-secret"
	installationID = 4242
)

// testBundle is a running bot against a fake GitHub with one repository on
// which "writer" may write and "reader" may only read.
type testBundle struct {
	// pipeline runs the real pipeline in Docker instead of the gate runner.
	pipeline bool
	logs     syncBuffer
	gh       *githubtest.Server
	repo     *githubtest.Repo
	srv      *server.Server
	hookURL  string
	runner   *gateRunner
	env      map[string]string
	// agentSecrets are the operator's secrets for the agent, by name.
	agentSecrets map[string]string
}

func setup(t *testing.T, env ...string) *testBundle {
	t.Helper()
	b := newBundle(t, env...)
	b.srv = b.start(t)
	return b
}

// newBundle makes the fake GitHub and the configuration, and starts no bot.
func newBundle(t testing.TB, env ...string) *testBundle {
	t.Helper()
	return newBundleWithRepo(t, "acme/widgets", map[string]string{"README.md": "widgets\n"}, env...)
}

// newBundleWithRepo is newBundle with the repository's files given.
func newBundleWithRepo(t testing.TB, name string, files map[string]string, env ...string) *testBundle {
	t.Helper()
	gh := githubtest.New(t)
	repo := gh.AddInstalledRepo(t, installationID, name, files)
	gh.SetPermission(repo, "writer", "write")
	gh.SetPermission(repo, "maintainer", "maintain")
	gh.SetPermission(repo, "reader", "read")
	b := &testBundle{gh: gh, repo: repo, runner: newGateRunner()}
	b.env = map[string]string{
		"GITHUB_V3_API_URL":         gh.APIURL(),
		"GITHUB_V4_API_URL":         gh.URL() + "/api/graphql",
		"GITHUB_WEB_URL":            gh.URL(),
		"GITHUB_APP_INTEGRATION_ID": strconv.FormatInt(gh.AppID, 10),
		"GITHUB_APP_WEBHOOK_SECRET": webhookSecret,
		"GITHUB_APP_PRIVATE_KEY":    string(gh.PrivateKeyPEM),
		"ONESHOT_DATABASE_URL":      "sqlite:" + filepath.Join(t.TempDir(), "oneshot.db"),
		"ONESHOT_GIT_CACHE_DIR":     filepath.Join(t.TempDir(), "git-cache"),
		"ONESHOT_PUBLIC_URL":        "http://oneshot.test",
		"ONESHOT_SANDBOX_OWNER":     "test",
		// Where bots the test runs as processes keep their work
		// directories: one a SIGKILL leaves goes with the test.
		"TMPDIR": t.TempDir(),
	}
	for i := 0; i+1 < len(env); i += 2 {
		b.env[env[i]] = env[i+1]
	}
	return b
}

// config loads the bundle's configuration the way the bot does.
func (b *testBundle) config(t testing.TB) config.App {
	t.Helper()
	cfg, err := config.Load("", func(k string) (string, bool) { v, ok := b.env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// start starts a bot on the bundle's database and serves its webhooks.
func (b *testBundle) start(t *testing.T) *server.Server {
	t.Helper()
	ctx := context.Background()
	opts := server.Options{
		Version:      "test",
		AgentSecrets: b.agentSecrets,
		// b.logs keeps debug lines too, which say why events were ignored.
		Logger: zerolog.New(zerolog.MultiLevelWriter(
			&zerolog.FilteredLevelWriter{Writer: zerolog.LevelWriterAdapter{Writer: zerolog.NewTestWriter(t)}, Level: zerolog.InfoLevel},
			&b.logs)).Level(zerolog.DebugLevel),
	}
	if !b.pipeline {
		opts.Runner = b.runner
	}
	srv, err := server.New(ctx, b.config(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	b.hookURL = newHookServer(t, srv)
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(stop)
		os.Remove(server.WorkRoot(b.env["ONESHOT_SANDBOX_OWNER"])) // the test's own owner's, once empty
	})
	return srv
}

// get fetches a path from the bot's HTTP server.
func (b *testBundle) get(t *testing.T, path string) (string, int) {
	t.Helper()
	return httpGet(t, strings.TrimSuffix(b.hookURL, server.WebhookPath)+path)
}

// httpGet returns the body and status of a GET.
func httpGet(t *testing.T, url string) (string, int) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body), resp.StatusCode
}

// newHookServer serves a bot's handler on loopback and returns its webhook URL.
func newHookServer(t testing.TB, srv *server.Server) string {
	hook := httptest.NewServer(srv.Handler())
	t.Cleanup(hook.Close)
	return hook.URL + server.WebhookPath
}

// deliveries and comments number the test deliveries and comments made
// from the fixtures.
var deliveries, comments atomic.Int64

// payload is a fixture, edited and adapted to the bundle's repository, as
// the body of a delivery.
func (b *testBundle) payload(t testing.TB, fixture string, edit func(p map[string]any)) []byte {
	t.Helper()
	payload := githubtest.Fixture(t, fixture)
	// Each comment GitHub sends is another, with an ID of its own, by
	// which the queue takes it once.
	if c, ok := payload["comment"].(map[string]any); ok {
		c["id"] = 1_000_000_000 + comments.Add(1)
	}
	// Edits first, so that Adapt makes the issue and people they name.
	if edit != nil {
		edit(payload)
	}
	b.gh.Adapt(payload, b.repo)
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// deliver signs and posts a fixture, edited, as GitHub would, fails the
// test unless the bot acknowledged it, and returns the delivery ID. A
// test that expects a refusal uses post.
func (b *testBundle) deliver(t *testing.T, event, fixture string, edit func(p map[string]any)) string {
	t.Helper()
	id := fmt.Sprintf("delivery-%d", deliveries.Add(1))
	statusOK(t, b.post(t, event, id, b.payload(t, fixture, edit)))
	return id
}

func (b *testBundle) post(t *testing.T, event, id string, body []byte) int {
	t.Helper()
	resp := githubtest.Deliver(t, b.hookURL, webhookSecret, event, id, body)
	resp.Body.Close()
	return resp.StatusCode
}

// labelled edits issues.labeled: the label and who added it.
func labelled(label, by string) func(map[string]any) {
	return func(p map[string]any) {
		p["label"].(map[string]any)["name"] = label
		p["sender"].(map[string]any)["login"] = by
	}
}

// commented edits issue_comment.created: the body and its author.
func commented(body, by string) func(map[string]any) {
	return func(p map[string]any) {
		p["comment"].(map[string]any)["body"] = body
		p["comment"].(map[string]any)["user"].(map[string]any)["login"] = by
		p["sender"].(map[string]any)["login"] = by
	}
}

// state is the state and attempt of the only task, or "" while there is none.
func (b *testBundle) state(t *testing.T) (tasks.State, int) {
	t.Helper()
	list := b.tasks(t)
	if len(list) != 1 {
		return "", 0
	}
	return list[0].State, list[0].Attempt
}

func (b *testBundle) tasks(t *testing.T) []*tasks.Task {
	t.Helper()
	list, err := b.srv.Queue().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func (b *testBundle) seen(t *testing.T, deliveryID string) bool {
	t.Helper()
	seen, err := b.srv.Queue().DeliverySeen(context.Background(), deliveryID)
	if err != nil {
		t.Fatal(err)
	}
	return seen
}

// ignoredBecause returns the reason the bot logged for ignoring a
// delivery, or "" if it logged none.
func (b *testBundle) ignoredBecause(t *testing.T, deliveryID string) string {
	t.Helper()
	for line := range strings.Lines(b.logs.String()) {
		var entry struct {
			Delivery string `json:"github_delivery_id"`
			Level    string `json:"level"`
			Message  string `json:"message"`
			Reason   string `json:"reason"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Delivery == deliveryID &&
			entry.Level == "debug" && entry.Message == "Ignored an event." {
			return entry.Reason
		}
	}
	return ""
}

// writes counts the requests that changed something on GitHub.
func (b *testBundle) writes() int {
	return b.gh.Count("POST", "/repos/{rest...}") + b.gh.Count("PATCH", "/repos/{rest...}")
}

// waitFor polls a condition until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gateRunner holds each attempt until the test opens the gate, and
// reports which attempts started.
type gateRunner struct {
	mu      sync.Mutex
	started []string // "taskID#attempt"
	gate    chan struct{}
	result  tasks.State
	panics  bool // set before the bot starts
	// stopHold, when set, keeps a cancelled attempt from ending until it
	// is closed, as a sandbox being removed does.
	stopHold chan struct{}
}

// holdStops keeps cancelled attempts running until release.
func (r *gateRunner) holdStops() (release func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopHold = make(chan struct{})
	return sync.OnceFunc(func() { close(r.stopHold) })
}

func newGateRunner() *gateRunner {
	return &gateRunner{gate: make(chan struct{}), result: tasks.Succeeded}
}

func (r *gateRunner) open() { close(r.gate) }

func (r *gateRunner) Run(ctx context.Context, t *tasks.Task) (tasks.State, string, error) {
	r.mu.Lock()
	r.started = append(r.started, fmt.Sprintf("%s#%d", t.ID, t.Attempt))
	stopHold := r.stopHold
	r.mu.Unlock()
	if r.panics {
		panic("gate runner told to panic")
	}
	select {
	case <-r.gate:
		return r.result, "done", nil
	case <-ctx.Done():
		if stopHold != nil {
			<-stopHold
		}
		return tasks.Failed, "stopped", ctx.Err()
	}
}

func (r *gateRunner) starts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string{}, r.started...)
}

// statusOK fails the test unless a webhook was acknowledged.
func statusOK(t *testing.T, status int) {
	t.Helper()
	if status != http.StatusOK && status != http.StatusAccepted {
		t.Fatalf("webhook answered %d", status)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// onlyTask returns the one task, failing otherwise.
func (b *testBundle) onlyTask(t *testing.T) *tasks.Task {
	t.Helper()
	list := b.tasks(t)
	if len(list) != 1 {
		t.Fatalf("%d tasks, want 1", len(list))
	}
	return list[0]
}

// botComments returns the bodies of the bot's comments on an issue.
func (b *testBundle) botComments(issue int) []string {
	var out []string
	for _, c := range b.gh.Comments(b.repo, issue) {
		if c.User == b.gh.BotLogin() {
			out = append(out, c.Body)
		}
	}
	return out
}

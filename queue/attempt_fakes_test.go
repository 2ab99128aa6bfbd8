package queue

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/tasks"
)

// The queue, tasks and fakes that the tests of attempts left running,
// interrupted or handed back share.

func recordingQueue(t *testing.T, url string) (*Queue, *countingRunner, *eventNotifier) {
	t.Helper()
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	runner, notifier := &countingRunner{}, &eventNotifier{changed: make(chan struct{}, 1)}
	q, err := NewQueue(db, Config{Concurrency: 1, TaskTimeout: time.Minute,
		Intake: idle{}, Runner: runner, Notifier: notifier,
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	return q, runner, notifier
}

// runningTask creates a task on issue and records it as running, as a
// process that took its attempt leaves it.
func runningTask(t *testing.T, q *Queue, issue int) *tasks.Task {
	t.Helper()
	task := &tasks.Task{Repo: "o/r", RepoID: 1, InstallationID: 2, Issue: issue, Kind: tasks.KindIssue,
		Requester: "octocat", DeliveryID: fmt.Sprint("d", issue)}
	if err := q.Create(context.Background(), task, tasks.Limits{}); err != nil {
		t.Fatal(err)
	}
	execSQL(t, q, `UPDATE oneshot_tasks SET state = 'running' WHERE id = $1`, task.ID)
	return task
}

// startQueue starts q, and shuts it down when the test ends.
func startQueue(t *testing.T, q *Queue) {
	t.Helper()
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Shutdown(context.Background()) })
}

func execSQL(t *testing.T, q *Queue, query string, args ...any) {
	t.Helper()
	if _, err := q.DB.sql.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatal(err)
	}
}

// countingRunner ends every attempt as succeeded, and counts them.
type countingRunner struct {
	mu   sync.Mutex
	runs int
}

func (r *countingRunner) Run(context.Context, *tasks.Task) (tasks.State, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs++
	return tasks.Succeeded, "", nil
}

func (r *countingRunner) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs
}

// eventNotifier keeps what it is told.
type eventNotifier struct {
	mu      sync.Mutex
	events  map[string][]tasks.Event
	changed chan struct{}
}

func (n *eventNotifier) Changed(_ context.Context, t *tasks.Task, e tasks.Event) []byte {
	n.mu.Lock()
	if n.events == nil {
		n.events = map[string][]tasks.Event{}
	}
	n.events[t.ID] = append(n.events[t.ID], e)
	n.mu.Unlock()
	select {
	case n.changed <- struct{}{}:
	default:
	}
	return nil
}

func (n *eventNotifier) Resend(context.Context, *tasks.Task, []byte) error { return nil }
func (n *eventNotifier) Confirm(context.Context, *tasks.Task, int64, tasks.Event) error {
	return nil
}

// history returns the events of a task so far.
func (n *eventNotifier) history(id string) []tasks.Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.events[id])
}

// wait returns the event that put a task in a state, once it comes.
func (n *eventNotifier) wait(t *testing.T, id string, state tasks.State) tasks.Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		n.mu.Lock()
		for _, e := range n.events[id] {
			if e.State == state {
				n.mu.Unlock()
				return e
			}
		}
		n.mu.Unlock()
		select {
		case <-n.changed:
		case <-timeout:
			t.Fatalf("the notifier never heard of %s becoming %s", id, state)
		}
	}
}

// hookRunner ends every attempt as succeeded, calling hook with how many
// it has run, this one included.
type hookRunner struct {
	countingRunner
	hook func(n int)
}

func (r *hookRunner) Run(ctx context.Context, t *tasks.Task) (tasks.State, string, error) {
	state, detail, err := r.countingRunner.Run(ctx, t)
	r.hook(r.count())
	return state, detail, err
}

// lineWatcher calls fn for each log line that contains text.
type lineWatcher struct {
	text string
	fn   func()
}

func (w lineWatcher) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.text) {
		w.fn()
	}
	return len(p), nil
}

type runnerFunc func(context.Context, *tasks.Task) (tasks.State, string, error)

func (f runnerFunc) Run(ctx context.Context, t *tasks.Task) (tasks.State, string, error) {
	return f(ctx, t)
}

// slowNotifier takes delay to show that an attempt started, as a slow or
// rate-limited GitHub does.
type slowNotifier struct {
	eventNotifier
	delay time.Duration
}

func (n *slowNotifier) Changed(ctx context.Context, t *tasks.Task, e tasks.Event) []byte {
	if e.State == tasks.Running {
		time.Sleep(n.delay)
	}
	return n.eventNotifier.Changed(ctx, t, e)
}

// newQueue makes a queue on db with one worker.
func newQueue(t *testing.T, db *DB, timeout time.Duration, runner tasks.Runner, notifier tasks.Notifier, logs zerolog.Logger) *Queue {
	t.Helper()
	q, err := NewQueue(db, Config{Concurrency: 1, TaskTimeout: timeout, Intake: idle{}, Runner: runner, Notifier: notifier, Logger: logs})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// testLogger logs warnings and errors to the test.
func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

// createTask creates a task on issue 1 of o/r.
func createTask(t *testing.T, q *Queue) *tasks.Task {
	t.Helper()
	task := &tasks.Task{Repo: "o/r", RepoID: 1, InstallationID: 2, Issue: 1, Kind: tasks.KindIssue, Requester: "octocat", DeliveryID: "d1"}
	if err := q.Create(context.Background(), task, tasks.Limits{}); err != nil {
		t.Fatal(err)
	}
	return task
}

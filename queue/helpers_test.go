package queue_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/internal/pgtest"
	"github.com/oneshot-dev/oneshot/queue"
	"github.com/oneshot-dev/oneshot/tasks"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// databases runs a test against SQLite and against Postgres.
var databases = queue.Databases

func openDB(t *testing.T, url string) *queue.DB {
	t.Helper()
	db, err := queue.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// testBundle holds a queue and what it talks to.
type testBundle struct {
	db       *queue.DB
	queue    *queue.Queue
	runner   *scriptedRunner
	notifier *recordingNotifier
	intake   *recordingIntake
}

func setup(t *testing.T, url string, timeout time.Duration) *testBundle {
	t.Helper()
	b := &testBundle{
		db:       openDB(t, url),
		runner:   &scriptedRunner{started: make(chan string, 10)},
		notifier: &recordingNotifier{},
		intake:   &recordingIntake{},
	}
	b.queue = b.newQueue(t, timeout)
	return b
}

// newQueue makes another queue on the same database, as a restarted bot would.
func (b *testBundle) newQueue(t *testing.T, timeout time.Duration) *queue.Queue {
	t.Helper()
	return b.newQueueWithIntake(t, timeout, b.intake)
}

// newQueueWithIntake is newQueue with triggers taken in by intake.
func (b *testBundle) newQueueWithIntake(t *testing.T, timeout time.Duration, intake tasks.Intake) *queue.Queue {
	t.Helper()
	q, err := queue.NewQueue(b.db, queue.Config{
		Concurrency: 2,
		TaskTimeout: timeout,
		Intake:      intake,
		Runner:      b.runner,
		Notifier:    b.notifier,
		Logger:      zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func start(t *testing.T, q *queue.Queue) {
	t.Helper()
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = q.Shutdown(ctx)
	})
}

func newTask(repo string, issue int) *tasks.Task {
	return &tasks.Task{Repo: repo, RepoID: repoID(repo), InstallationID: 2, Issue: issue, Kind: tasks.KindIssue,
		Requester: "octocat", DeliveryID: fmt.Sprintf("d-%s-%d", repo, issue)}
}

// repoID is the ID of the test repository named repo, as GitHub would give
// it: the same for the same repository, another for another.
func repoID(repo string) int64 {
	h := fnv.New32a()
	h.Write([]byte(repo))
	return int64(h.Sum32())
}

// scriptedRunner runs attempts the way a test says: by default it blocks
// until its context ends; finish makes it return a result instead, and
// finishAsItEnds a result once its context ends.
type scriptedRunner struct {
	started chan string // task IDs, as attempts start
	mu      sync.Mutex
	result  *tasks.State
	late    *tasks.State
	panics  any // what Run panics with, if anything
	runs    int
	// running counts the attempts running now, and most the most that
	// ever ran at once.
	running, most int
}

// mostAtOnce is the most attempts that ever ran at once.
func (r *scriptedRunner) mostAtOnce() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.most
}

func (r *scriptedRunner) finish(s tasks.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.result = &s
}

// finishAsItEnds makes the runner return s, and no error, once its
// context ends: as the pipeline does when a cancel or a deadline comes
// just after it published its change.
func (r *scriptedRunner) finishAsItEnds(s tasks.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.late = &s
}

// panic makes every attempt panic.
// panic makes the attempts panic with v.
func (r *scriptedRunner) panic(v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.panics = v
}

func (r *scriptedRunner) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs
}

func (r *scriptedRunner) Run(ctx context.Context, t *tasks.Task) (tasks.State, string, error) {
	r.mu.Lock()
	r.runs++
	r.running++
	r.most = max(r.most, r.running)
	result, late, panics := r.result, r.late, r.panics
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running--
		r.mu.Unlock()
	}()
	r.started <- t.ID
	if panics != nil {
		panic(panics)
	}
	if result != nil {
		return *result, "scripted", nil
	}
	<-ctx.Done()
	if late != nil {
		return *late, "scripted, late", nil
	}
	return tasks.Failed, "interrupted", ctx.Err()
}

type recordingNotifier struct {
	mu     sync.Mutex
	states []string
	// hangOnQueued has showing an attempt back in the queue take until
	// its context ends, as GitHub waiting out a rate limit would.
	hangOnQueued bool
}

func (n *recordingNotifier) Changed(ctx context.Context, t *tasks.Task, e tasks.Event) []byte {
	n.mu.Lock()
	hang := n.hangOnQueued && e.State == tasks.Queued
	n.mu.Unlock()
	if hang {
		<-ctx.Done()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.states = append(n.states, fmt.Sprintf("%s#%d:%s", t.ID, e.Attempt, e.State))
	return nil
}

func (n *recordingNotifier) Resend(context.Context, *tasks.Task, []byte) error { return nil }
func (n *recordingNotifier) Confirm(context.Context, *tasks.Task, int64, tasks.Event) error {
	return nil
}

func (n *recordingNotifier) seen() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string{}, n.states...)
}

type recordingIntake struct {
	mu       sync.Mutex
	triggers []tasks.Trigger
}

func (i *recordingIntake) Intake(_ context.Context, t tasks.Trigger) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.triggers = append(i.triggers, t)
	return nil
}

func (i *recordingIntake) GiveUp(context.Context, tasks.Trigger, error) {}

func (i *recordingIntake) count() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return len(i.triggers)
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

// create records a new task on an issue and queues its first attempt.
func (b *testBundle) create(t *testing.T, repo string, issue int) *tasks.Task {
	t.Helper()
	task := newTask(repo, issue)
	if err := b.queue.Create(context.Background(), task, tasks.Limits{}); err != nil {
		t.Fatal(err)
	}
	return task
}

// get reads a task.
func (b *testBundle) get(t *testing.T, id string) *tasks.Task {
	t.Helper()
	task, err := b.db.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// waitState waits for a task to be in a state, and returns it.
func (b *testBundle) waitState(t *testing.T, id string, state tasks.State) *tasks.Task {
	t.Helper()
	var task *tasks.Task
	waitFor(t, 30*time.Second, fmt.Sprintf("task %s to be %s", id, state), func() bool {
		task = b.get(t, id)
		return task.State == state
	})
	return task
}

// handBack starts a task's attempt and shuts the queue down while it
// runs, which must hand the attempt back to the queue.
func (b *testBundle) handBack(t *testing.T) *tasks.Task {
	t.Helper()
	ctx := context.Background()
	task := b.create(t, "o/r", 1)
	if err := b.queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	b.waitStarted(t)
	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := b.queue.Shutdown(stopCtx); err != nil {
		t.Fatal(err)
	}
	if got := b.get(t, task.ID); got.State != tasks.Queued {
		t.Fatalf("after shutdown the attempt is %s, want queued", got.State)
	}
	return task
}

// waitStarted waits for the runner to start an attempt.
func (b *testBundle) waitStarted(t *testing.T) string {
	t.Helper()
	select {
	case id := <-b.runner.started:
		return id
	case <-time.After(30 * time.Second):
		t.Fatal("no attempt started")
		return ""
	}
}

// waitFinal waits for a task's attempt to end, and returns the task.
func (b *testBundle) waitFinal(t *testing.T, id string) *tasks.Task {
	t.Helper()
	var task *tasks.Task
	waitFor(t, 30*time.Second, "task "+id+" to end", func() bool {
		task = b.get(t, id)
		return task.State.Final()
	})
	return task
}

// states lists a task's history as "attempt:state" strings.
func (b *testBundle) states(t *testing.T, id string) []string {
	t.Helper()
	history, err := b.db.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range history {
		out = append(out, fmt.Sprintf("%d:%s", e.Attempt, e.State))
	}
	return out
}

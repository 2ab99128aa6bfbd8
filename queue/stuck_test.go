package queue

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/tasks"
)

// These tests put a task and its River job in the state a bot leaves them
// in when it dies mid-attempt, which no test can do to its own process.

func TestAnAttemptInterruptedUntilRiversLastTryEndsFailedWithoutRunning(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		q, runner, notifier := recordingQueue(t, url)
		task := runningTask(t, q, 1)
		// Two processes died running it: the task says running, and River
		// is about to make its last try.
		execSQL(t, q, `UPDATE river_job SET attempt = $1 WHERE kind = $2`, taskMaxAttempts-1, attemptArgs{}.Kind())
		startQueue(t, q)

		e := notifier.wait(t, task.ID, tasks.Failed)
		if !strings.Contains(e.Detail, "interrupted 2 times") {
			t.Fatalf("failed with %q, want the reason", e.Detail)
		}
		if n := runner.count(); n != 0 {
			t.Fatalf("the attempt ran %d times on River's last try", n)
		}
	})
}

func TestCancellingATaskWhoseJobRiverGaveUpOnEndsIt(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		q, _, notifier := recordingQueue(t, url)
		ctx := context.Background()
		task := runningTask(t, q, 1)
		// River discarded the job after its last try; the task says running.
		execSQL(t, q, `UPDATE river_job SET state = 'discarded', finalized_at = created_at WHERE kind = $1`, attemptArgs{}.Kind())

		if ok, err := q.Cancel(ctx, task.ID, "octocat"); !ok || err != nil {
			t.Fatalf("cancel: %v %v", ok, err)
		}
		got, err := q.Get(ctx, task.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != tasks.Cancelled {
			t.Fatalf("after the cancel the task is %s", got.State)
		}
		notifier.wait(t, task.ID, tasks.Cancelled)
		if _, err := q.Live(ctx, "o/r", 1); err == nil {
			t.Fatal("the issue still has a live task")
		}
	})
}

func TestCancellingARunningTaskWhoseJobIsLiveLeavesTheEndToItsWorker(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		q, _, _ := recordingQueue(t, url)
		ctx := context.Background()
		task := runningTask(t, q, 1)
		// Another process runs it; its job is River's, running.
		execSQL(t, q, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = created_at WHERE kind = $1`, attemptArgs{}.Kind())

		if ok, err := q.Cancel(ctx, task.ID, "octocat"); !ok || err != nil {
			t.Fatalf("cancel: %v %v", ok, err)
		}
		got, err := q.Get(ctx, task.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != tasks.Running {
			t.Fatalf("the task is %s; its worker should have ended it", got.State)
		}
		if requested, err := q.DB.cancelRequested(ctx, task.ID); !requested || err != nil {
			t.Fatalf("cancel requested: %v %v", requested, err)
		}
	})
}

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
	if err := q.Create(context.Background(), task); err != nil {
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

func (n *eventNotifier) Changed(_ context.Context, t *tasks.Task, e tasks.Event) {
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

func TestAJobLeftRunningPastTheDeadlineIsRescuedAndResumed(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		// Attempts have a minute, so River rescues a job running for
		// more than nine (the minute and rescueMargin), where its default
		// would wait an hour.
		q, runner, notifier := recordingQueue(t, url)
		ctx := context.Background()
		ago := func(minutes int) string {
			if strings.HasPrefix(url, "postgres") {
				return fmt.Sprintf("now() - interval '%d minutes'", minutes)
			}
			return fmt.Sprintf("datetime('now', 'subsec', '-%d minutes')", minutes)
		}
		started := func(issue, minutesAgo int) *tasks.Task {
			task := runningTask(t, q, issue)
			execSQL(t, q, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = `+ago(minutesAgo)+`
				WHERE args ->> 'task_id' = $1`, task.ID)
			return task
		}
		// A process died twenty minutes into an attempt; another started
		// one two minutes ago, and may still be winding it down. On SQLite
		// that one holds the queue's lock, or it would not be running.
		dead, young := started(1, 20), started(2, 2)
		holdQueueLock(t, url)
		startQueue(t, q)

		notifier.wait(t, dead.ID, tasks.Succeeded)
		resumed := false
		for _, e := range notifier.history(dead.ID) {
			resumed = resumed || (e.State == tasks.Running && strings.Contains(e.Detail, "resumed"))
		}
		if !resumed {
			t.Fatalf("the rescued attempt did not resume: %+v", notifier.history(dead.ID))
		}
		// The rescuer looked at both jobs at once: the young one stays.
		if n := runner.count(); n != 1 {
			t.Fatalf("%d attempts ran, want the rescued one", n)
		}
		var state string
		if err := q.DB.sql.QueryRowContext(ctx, `SELECT state FROM river_job WHERE args ->> 'task_id' = $1`, young.ID).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state != "running" {
			t.Fatalf("the job within its deadline is %s, want running", state)
		}
	})
}

// TestAJobLeftRunningByADeadProcessRunsAtOnceOnSQLite checks that on
// SQLite, where the process that works the queue holds its lock, a job a
// killed process left running is run again as soon as a bot starts, not
// once River's rescue would take it for dead (nine minutes here, the task
// timeout and 8 minutes in use). On Postgres other processes may be
// running theirs: it waits for the rescue.
func TestAJobLeftRunningByADeadProcessRunsAtOnceOnSQLite(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		q, runner, notifier := recordingQueue(t, url)
		task, last := runningTask(t, q, 1), runningTask(t, q, 2)
		execSQL(t, q, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = created_at WHERE kind = $1`, attemptArgs{}.Kind())
		// The other died on its job's last try, which River's rescue ends.
		execSQL(t, q, `UPDATE river_job SET attempt = max_attempts WHERE args ->> 'task_id' = $1`, last.ID)
		startQueue(t, q)
		lastJob := func() (state string, untried bool) {
			if err := q.DB.sql.QueryRowContext(context.Background(), `SELECT state, attempt = max_attempts FROM river_job WHERE args ->> 'task_id' = $1`,
				last.ID).Scan(&state, &untried); err != nil {
				t.Fatal(err)
			}
			return state, untried
		}

		if strings.HasPrefix(url, "postgres") {
			var running int
			if err := q.DB.sql.QueryRowContext(context.Background(), `SELECT count(*) FROM river_job WHERE state = 'running'`).Scan(&running); err != nil {
				t.Fatal(err)
			}
			if running != 2 {
				t.Fatalf("on Postgres %d jobs are running at start, want both: other processes may run them", running)
			}
			return
		}
		notifier.wait(t, task.ID, tasks.Succeeded)
		resumed := slices.ContainsFunc(notifier.history(task.ID), func(e tasks.Event) bool {
			return e.State == tasks.Running && strings.Contains(e.Detail, "resumed")
		})
		if !resumed || runner.count() != 1 {
			t.Fatalf("ran %d times; history %+v", runner.count(), notifier.history(task.ID))
		}
		if state, untried := lastJob(); state != "running" || !untried {
			t.Fatalf("the job on its last try is %s (tried again: %v), want running: River's rescue ends it", state, !untried)
		}
	})
}

// TestAQueueWhoseLockAnotherProcessHoldsLeavesRunningJobsAlone starts a
// queue beside a process that holds the lock: it leaves the running job
// alone, and when that process ends it takes the lock, still leaving the
// job alone, as it may be its own by then.
func TestAQueueWhoseLockAnotherProcessHoldsLeavesRunningJobsAlone(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "oneshot.db")
	q, runner, _ := recordingQueue(t, url)
	runningTask(t, q, 1)
	execSQL(t, q, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = created_at WHERE kind = $1`, attemptArgs{}.Kind())
	release := holdQueueLock(t, url)
	startQueue(t, q)
	untouched := func(when string) {
		t.Helper()
		var state string
		var attempt int
		if err := q.DB.sql.QueryRowContext(context.Background(), `SELECT state, attempt FROM river_job WHERE kind = $1`, attemptArgs{}.Kind()).Scan(&state, &attempt); err != nil {
			t.Fatal(err)
		}
		if state != "running" || attempt != 1 || runner.count() != 0 {
			t.Fatalf("%s the job is %s at try %d, run %d times; want it left running at try 1", when, state, attempt, runner.count())
		}
	}
	untouched("while another process holds the lock,")
	if q.lock.held() {
		t.Fatal("the queue holds the lock another process holds")
	}

	release()
	for deadline := time.Now().Add(10 * time.Second); !q.lock.held(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the queue did not take the lock once the other process let it go")
		}
	}
	untouched("once the queue took the lock,")
}

// holdQueueLock takes the lock of the SQLite queue at url for the test, as
// another process working that queue would hold it, and returns what lets
// it go (which the test's end does too).
func holdQueueLock(t *testing.T, url string) (release func()) {
	t.Helper()
	path, ok := strings.CutPrefix(url, "sqlite:")
	if !ok {
		return func() {}
	}
	lock, err := lockWorking(path)
	if err != nil || lock == nil {
		t.Fatalf("lock: %v, %v", lock, err)
	}
	t.Cleanup(func() { lock.Close() })
	return func() { lock.Close() }
}

func TestAnAttemptWhoseEndIsNotRecordedAtOnceRunsOnce(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		// The warning that recordEnd tries again, or River running the
		// attempt a second time: either way the database can come back.
		retrying := make(chan struct{}, 1)
		signal := func() {
			select {
			case retrying <- struct{}{}:
			default:
			}
		}
		logs := zerolog.New(io.MultiWriter(zerolog.NewTestWriter(t), lineWatcher{"trying again", signal})).Level(zerolog.WarnLevel)
		db, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		// The attempt succeeds, and as it ends the database refuses to
		// record that, as it would in a failover.
		runner := &hookRunner{}
		runner.hook = func(n int) {
			if n == 1 {
				failSucceeded(t, db, url, true)
			} else {
				signal()
			}
		}
		notifier := &eventNotifier{changed: make(chan struct{}, 1)}
		q := newQueue(t, db, time.Minute, runner, notifier, logs)
		task := createTask(t, q)
		startQueue(t, q)
		select {
		case <-retrying:
		case <-time.After(30 * time.Second):
			t.Fatal("the failed record was neither tried again nor the attempt run again")
		}
		failSucceeded(t, db, url, false)
		notifier.wait(t, task.ID, tasks.Succeeded)
		if n := runner.count(); n != 1 {
			t.Fatalf("the attempt ran %d times", n)
		}
	})
}

func TestACancelAnsweredWhileNoProcessRanTheAttemptHolds(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		q, runner, notifier := recordingQueue(t, url)
		task := runningTask(t, q, 1)
		// The process running it died long ago; River will rescue the job.
		ago := "datetime('now', '-20 minutes')"
		if strings.HasPrefix(url, "postgres") {
			ago = "now() - interval '20 minutes'"
		}
		execSQL(t, q, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = `+ago+` WHERE kind = $1`, attemptArgs{}.Kind())
		if ok, err := q.Cancel(context.Background(), task.ID, "octocat"); !ok || err != nil {
			t.Fatalf("cancel: %v %v", ok, err)
		}
		startQueue(t, q)
		notifier.wait(t, task.ID, tasks.Cancelled)
		if n := runner.count(); n != 0 {
			t.Fatalf("the cancelled attempt ran %d times", n)
		}
	})
}

// failSucceeded makes the database refuse, or stop refusing, to record a
// task as succeeded.
func failSucceeded(t *testing.T, db *DB, url string, on bool) {
	t.Helper()
	var query string
	switch {
	case strings.HasPrefix(url, "postgres") && on:
		query = `CREATE OR REPLACE FUNCTION refuse_success() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'the database is away'; END $$ LANGUAGE plpgsql;
			CREATE TRIGGER refuse_success BEFORE UPDATE ON oneshot_tasks FOR EACH ROW WHEN (NEW.state = 'succeeded') EXECUTE FUNCTION refuse_success()`
	case strings.HasPrefix(url, "postgres"):
		query = `DROP TRIGGER refuse_success ON oneshot_tasks`
	case on:
		query = `CREATE TRIGGER refuse_success BEFORE UPDATE ON oneshot_tasks WHEN NEW.state = 'succeeded' BEGIN SELECT RAISE(ABORT, 'the database is away'); END`
	default:
		query = `DROP TRIGGER refuse_success`
	}
	if _, err := db.sql.ExecContext(context.Background(), query); err != nil {
		t.Fatal(err)
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

func TestAHandBackSlowerThanTheShutdownTimeoutIsRecorded(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		db, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		runner := &unwindingRunner{started: make(chan struct{}), unwind: 2 * time.Second}
		q := newQueue(t, db, time.Minute, runner, &eventNotifier{changed: make(chan struct{}, 1)}, testLogger(t))
		task := createTask(t, q)
		if err := q.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-runner.started
		// The attempt takes longer to wind down (a sandbox to remove, a
		// slow GitHub) than the shutdown's timeout; then the database
		// closes, as the server's shutdown does.
		stop, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := q.Shutdown(stop); err != nil {
			t.Fatal(err)
		}
		db.Close()

		again, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close()
		got, err := again.Get(context.Background(), task.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != tasks.Queued {
			t.Fatalf("after the shutdown the task is %s, want queued for the next process", got.State)
		}
	})
}

// unwindingRunner runs until it is stopped, then takes unwind to end.
type unwindingRunner struct {
	started chan struct{}
	unwind  time.Duration
}

func (r *unwindingRunner) Run(ctx context.Context, _ *tasks.Task) (tasks.State, string, error) {
	close(r.started)
	<-ctx.Done()
	time.Sleep(r.unwind)
	return "", "", ctx.Err()
}

func TestAnAttemptsDeadlineCountsFromWhenItsJobWasTaken(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		db, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		// GitHub is slow to take the attempt's start; the runner sees the
		// deadline it was given.
		deadlines := make(chan time.Time, 1)
		runner := runnerFunc(func(ctx context.Context, _ *tasks.Task) (tasks.State, string, error) {
			deadline, _ := ctx.Deadline()
			deadlines <- deadline
			return tasks.Succeeded, "", nil
		})
		notifier := &slowNotifier{eventNotifier: eventNotifier{changed: make(chan struct{}, 1)}, delay: 2 * time.Second}
		const timeout = time.Hour
		q := newQueue(t, db, timeout, runner, notifier, testLogger(t))
		task := createTask(t, q)
		startQueue(t, q)
		deadline := <-deadlines
		notifier.wait(t, task.ID, tasks.Succeeded)
		var taken time.Time
		if err := db.sql.QueryRowContext(context.Background(), `SELECT attempted_at FROM river_job WHERE kind = $1`, attemptArgs{}.Kind()).Scan(&taken); err != nil {
			t.Fatal(err)
		}
		// The start's two seconds with GitHub came out of the hour.
		if d := deadline.Sub(taken.Add(timeout)); d < -time.Second || d > time.Second {
			t.Fatalf("the deadline is %v after the job was taken, want %v", deadline.Sub(taken), timeout)
		}
	})
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

func (n *slowNotifier) Changed(ctx context.Context, t *tasks.Task, e tasks.Event) {
	if e.State == tasks.Running {
		time.Sleep(n.delay)
	}
	n.eventNotifier.Changed(ctx, t, e)
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
	if err := q.Create(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	return task
}

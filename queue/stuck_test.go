package queue

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/tasks"
)

// These tests put a task and its River job in the state a bot leaves them
// in when it dies mid-attempt, which no test can do to its own process.

func TestAnAttemptInterruptedUntilRiversLastTryEndsFailedWithoutRunning(t *testing.T) {
	for _, tc := range []struct {
		state tasks.State
		why   string
	}{
		// Two processes died running it.
		{tasks.Running, "interrupted 2 times before it could finish"},
		// Two died after taking its job and before recording that it
		// started.
		{tasks.Queued, "interrupted 2 times before it could start"},
	} {
		t.Run(string(tc.state), func(t *testing.T) {
			Databases(t, func(t *testing.T, url string) {
				q, runner, notifier := recordingQueue(t, url)
				var task *tasks.Task
				if tc.state == tasks.Running {
					task = runningTask(t, q, 1)
				} else {
					task = createTask(t, q)
				}
				// River is about to make its last try.
				execSQL(t, q, `UPDATE river_job SET attempt = $1 WHERE kind = $2`, taskMaxAttempts-1, attemptArgs{}.Kind())
				startQueue(t, q)

				e := notifier.wait(t, task.ID, tasks.Failed)
				if !strings.Contains(e.Detail, tc.why) {
					t.Fatalf("failed with %q, want %q", e.Detail, tc.why)
				}
				if n := runner.count(); n != 0 {
					t.Fatalf("the attempt ran %d times on River's last try", n)
				}
			})
		})
	}
}

func TestACancelAskedForBeforeRiversLastTryEndsTheAttemptCancelled(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		q, runner, notifier := recordingQueue(t, url)
		task := createTask(t, q)
		// As before, and someone cancelled it while no process ran it.
		execSQL(t, q, `UPDATE river_job SET attempt = $1 WHERE kind = $2`, taskMaxAttempts-1, attemptArgs{}.Kind())
		if live, err := q.DB.RequestCancel(context.Background(), task.ID, 1); !live || err != nil {
			t.Fatalf("cancel: %v, %v", live, err)
		}
		startQueue(t, q)
		notifier.wait(t, task.ID, tasks.Cancelled)
		if n := runner.count(); n != 0 {
			t.Fatalf("the attempt ran %d times", n)
		}
	})
}

func TestAnAttemptTheDatabaseKeepsFromStartingRunsOnceItIsBack(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		q, runner, notifier := recordingQueue(t, url)
		q.startRetry = 10 * time.Millisecond
		ctx := context.Background()
		task := createTask(t, q)
		// The database refuses to record that the attempt started, for
		// longer than River has tries for the job.
		refuseState(t, q.DB, url, tasks.Running, true)
		startQueue(t, q)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var state string
			var putOff int
			if err := q.DB.sql.QueryRowContext(ctx, `SELECT state, COALESCE(CAST(metadata ->> 'snoozes' AS INTEGER), 0)
				FROM river_job WHERE kind = $1`, attemptArgs{}.Kind()).Scan(&state, &putOff); err != nil {
				t.Fatal(err)
			}
			if state == "discarded" || state == "completed" {
				got, err := q.Get(ctx, task.ID)
				t.Fatalf("while the database was away River's job ended %s; the task is %s (%v)", state, got.State, err)
			}
			if putOff > taskMaxAttempts {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the start was tried again %d times in 30 s", putOff)
			}
		}

		refuseState(t, q.DB, url, tasks.Running, false)
		notifier.wait(t, task.ID, tasks.Succeeded)
		if n := runner.count(); n != 1 {
			t.Fatalf("the attempt ran %d times", n)
		}
		var tries int
		if err := q.DB.sql.QueryRowContext(ctx, `SELECT attempt FROM river_job WHERE kind = $1`, attemptArgs{}.Kind()).Scan(&tries); err != nil {
			t.Fatal(err)
		}
		if tries != 1 {
			t.Fatalf("the job used %d of River's tries, want 1", tries)
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
		if _, err := q.Live(ctx, 1, 1); err == nil {
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

func TestAJobLeftRunningPastTheDeadlineIsRescuedAndResumed(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		// Attempts have a minute, so River rescues a job running for
		// more than thirteen (the minute and rescueMargin), where its
		// default would wait an hour.
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
		// one ten minutes ago, nine past its deadline, and may still be
		// winding it down (see rescueMargin). On SQLite that one holds the
		// queue's lock, or it would not be running.
		dead, winding := started(1, 20), started(2, 10)
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
		// The rescuer looked at both jobs at once: the one winding down stays.
		if n := runner.count(); n != 1 {
			t.Fatalf("%d attempts ran, want the rescued one", n)
		}
		var state string
		if err := q.DB.sql.QueryRowContext(ctx, `SELECT state FROM river_job WHERE args ->> 'task_id' = $1`, winding.ID).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state != "running" {
			t.Fatalf("the job still winding down is %s, want running", state)
		}
	})
}

func TestAnAttemptWhoseEndIsNotRecordedAtOnceRunsOnce(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		// The warning that recordEnd tries again, or River running the
		// attempt a second time: either way the database can come back.
		logs, retrying := warningsSignalling(t, "trying again")
		e := refusedEnd(t, url, logs, signalOn(retrying), nil)
		waitSignal(t, retrying, "the failed record was neither tried again nor the attempt run again")
		e.wantRecordedOnce(t)
	})
}

// An end the database refuses for longer than recordEnd tries is kept, and
// recorded once the database takes it: the attempt, its pull request
// perhaps open, does not run again, nor end as given up on.
func TestAnAttemptWhoseEndIsNotRecordedForLongIsRecordedNotRunAgain(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		logs, kept := warningsSignalling(t, "kept to record later")
		e := refusedEnd(t, url, logs, nil, func(q *Queue) {
			q.recordFor, q.startRetry = 200*time.Millisecond, 100*time.Millisecond
		})
		// Kept, and tried again, more than River's tries would allow.
		for range taskMaxAttempts + 1 {
			waitSignal(t, kept, "the end the database refused was not kept")
		}
		e.wantRecordedOnce(t)
	})
}

// An end kept in the process is recorded as the process stops, the
// database back: lost with it, it would leave the task running, and the
// next process would run the attempt again.
func TestAnEndKeptInTheProcessIsRecordedAsItStops(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		logs, kept := warningsSignalling(t, "kept to record later")
		var q *Queue
		e := refusedEnd(t, url, logs, nil, func(tuned *Queue) {
			// The job waits long enough for the stop to come first.
			tuned.recordFor, tuned.startRetry = 200*time.Millisecond, time.Minute
			q = tuned
		})
		waitSignal(t, kept, "the end the database refused was not kept")
		refuseState(t, e.db, e.url, tasks.Succeeded, false)
		if err := q.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if task, err := e.db.Get(context.Background(), e.task.ID); err != nil || task.State != tasks.Succeeded {
			t.Fatalf("after the stop the task is %+v, %v; want it succeeded, for the next process to leave alone", task, err)
		}
	})
}

// refusedEndRun is a queue whose database refuses to record the success
// of its one task's attempt, from the moment the attempt first runs.
type refusedEndRun struct {
	db       *DB
	url      string
	task     *tasks.Task
	runner   *hookRunner
	notifier *eventNotifier
}

// refusedEnd starts a refusedEndRun on the database at url. again, when
// set, is called each time the attempt runs after the first; tune, when
// set, shortens the queue's waits before it starts.
func refusedEnd(t *testing.T, url string, logs zerolog.Logger, again func(), tune func(*Queue)) *refusedEndRun {
	t.Helper()
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
			refuseState(t, db, url, tasks.Succeeded, true)
		} else if again != nil {
			again()
		}
	}
	e := &refusedEndRun{db: db, url: url, runner: runner, notifier: &eventNotifier{changed: make(chan struct{}, 1)}}
	q := newQueue(t, db, time.Minute, runner, e.notifier, logs)
	if tune != nil {
		tune(q)
	}
	e.task = createTask(t, q)
	startQueue(t, q)
	return e
}

// wantRecordedOnce lets the database record the end, and fails the test
// unless the attempt succeeded having run once.
func (e *refusedEndRun) wantRecordedOnce(t *testing.T) {
	t.Helper()
	refuseState(t, e.db, e.url, tasks.Succeeded, false)
	e.notifier.wait(t, e.task.ID, tasks.Succeeded)
	if n := e.runner.count(); n != 1 {
		t.Fatalf("the attempt ran %d times", n)
	}
}

// warningsSignalling is a test's log of warnings, which signals on the
// channel it returns each time a line holds text.
func warningsSignalling(t *testing.T, text string) (zerolog.Logger, chan struct{}) {
	ch := make(chan struct{}, 1)
	return zerolog.New(io.MultiWriter(zerolog.NewTestWriter(t), lineWatcher{text, signalOn(ch)})).Level(zerolog.WarnLevel), ch
}

// waitSignal waits for a signal on ch, and fails the test saying missing
// if none comes within 30 seconds.
func waitSignal(t *testing.T, ch <-chan struct{}, missing string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal(missing)
	}
}

// signalOn returns a function that signals on ch without waiting.
func signalOn(ch chan struct{}) func() {
	return func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
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

// refuseState makes the database refuse, or stop refusing, to record a
// task as being in state, as a database in a failover does.
func refuseState(t *testing.T, db *DB, url string, state tasks.State, on bool) {
	t.Helper()
	var query string
	switch {
	case strings.HasPrefix(url, "postgres") && on:
		query = `CREATE OR REPLACE FUNCTION refuse_state() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'the database is away'; END $$ LANGUAGE plpgsql;
			CREATE TRIGGER refuse_state BEFORE UPDATE ON oneshot_tasks FOR EACH ROW WHEN (NEW.state = '` + string(state) + `') EXECUTE FUNCTION refuse_state()`
	case strings.HasPrefix(url, "postgres"):
		query = `DROP TRIGGER refuse_state ON oneshot_tasks`
	case on:
		query = `CREATE TRIGGER refuse_state BEFORE UPDATE ON oneshot_tasks WHEN NEW.state = '` + string(state) + `' BEGIN SELECT RAISE(ABORT, 'the database is away'); END`
	default:
		query = `DROP TRIGGER refuse_state`
	}
	if _, err := db.sql.ExecContext(context.Background(), query); err != nil {
		t.Fatal(err)
	}
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

package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/tasks"
)

// An end a process kept, while its database was away, is no longer its to
// record once another process took the attempt over and ran it again: the
// other run may have opened the pull request, and its end is the one
// that stands.

func TestAnEndKeptHereIsNotRecordedOverAnotherProcesssRun(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		logs, kept := warningsSignalling(t, "kept to record later")
		var q *Queue
		e := refusedEnd(t, url, logs, nil, func(tuned *Queue) {
			tuned.recordFor, tuned.startRetry = 200*time.Millisecond, time.Minute
			q = tuned
		})
		waitSignal(t, kept, "the end the database refused was not kept")
		// Another process resumes the attempt, as after taking its job.
		execSQL(t, q, `UPDATE oneshot_tasks SET run_id = 'another-run' WHERE id = $1`, e.task.ID)
		refuseState(t, e.db, e.url, tasks.Succeeded, false)
		if err := q.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if task, err := e.db.Get(context.Background(), e.task.ID); err != nil || task.State != tasks.Running {
			t.Fatalf("the task is %+v, %v; want it running, the other process's run to end", task, err)
		}
	})
}

func TestAnEndKeptHereOfAnAttemptAnotherProcessHandedBackIsDroppedAndTheAttemptRuns(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		logs, kept := warningsSignalling(t, "kept to record later")
		var q *Queue
		e := refusedEnd(t, url, logs, nil, func(tuned *Queue) {
			tuned.recordFor, tuned.startRetry = 200*time.Millisecond, 300*time.Millisecond
			q = tuned
		})
		waitSignal(t, kept, "the end the database refused was not kept")
		// Another process ran the attempt again and handed it back at its
		// shutdown. While the end stays refused, this process keeps it
		// however often the job comes back.
		execSQL(t, q, `UPDATE oneshot_tasks SET state = 'queued', run_id = 'another-run' WHERE id = $1`, e.task.ID)
		refuseState(t, e.db, e.url, tasks.Succeeded, false)
		e.notifier.wait(t, e.task.ID, tasks.Succeeded)
		if n := e.runner.count(); n != 2 {
			t.Fatalf("the attempt ran %d times here; want twice, the second after the hand-back", n)
		}
	})
}

// A process that lost its database for long enough for others to take it
// for gone finds, once it reads the database again, that another process
// runs its attempt: it stops its own run, whose end is not recorded over
// the other's, rather than push to the same branch beside it.
func TestAnAttemptAnotherProcessTookOverStopsHere(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		db, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		started := make(chan context.Context, 1)
		runner := runnerFunc(func(ctx context.Context, _ *tasks.Task) (tasks.State, string, error) {
			started <- ctx
			<-ctx.Done()
			return tasks.Queued, "interrupted", nil
		})
		q := newQueue(t, db, time.Minute, runner, &eventNotifier{changed: make(chan struct{}, 1)}, testLogger(t))
		task := createTask(t, q)
		startQueue(t, q)
		var running context.Context
		select {
		case running = <-started:
		case <-time.After(30 * time.Second):
			t.Fatal("the attempt did not start")
		}

		// Another process resumes the attempt, as after taking its job.
		execSQL(t, q, `UPDATE oneshot_tasks SET run_id = 'another-run' WHERE id = $1`, task.ID)
		select {
		case <-running.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the attempt runs on here beside the other process's run")
		}
		if cause := context.Cause(running); !errors.Is(cause, tasks.ErrTakenOver) {
			t.Fatalf("the attempt stopped for %v", cause)
		}
		if err := q.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got, err := db.Get(context.Background(), task.ID); err != nil || got.State != tasks.Running || got.Run != "another-run" {
			t.Fatalf("the task is %+v, %v; want it left running, the other process's", got, err)
		}
		// The job, which the other process runs, is neither completed,
		// left for good were that process to die, nor ready to run
		// beside it: it waits as River's rescue would.
		var state string
		if err := db.sql.QueryRowContext(context.Background(), `SELECT state FROM river_job WHERE kind = $1`, attemptArgs{}.Kind()).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state != "scheduled" {
			t.Fatalf("the job is %s; want it scheduled, as River's rescue would take it", state)
		}
	})
}

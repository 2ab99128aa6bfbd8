package queue

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/internal/filelock"
	"github.com/oneshot-dev/oneshot/tasks"
)

// These tests check what a process that holds the SQLite queue's lock
// does with jobs left running: see orphans.go.

// TestAJobLeftRunningByADeadProcessRunsAtOnceOnSQLite checks that on
// SQLite, where the process that works the queue holds its lock, a job a
// killed process left running is run again as soon as a bot starts, not
// once River's rescue would take it for dead (thirteen minutes here, the
// task timeout and rescueMargin); and that one killed on its last try ends
// its task as failed, where River's rescue would discard it and leave the
// task running for ever. On Postgres, where other processes may be
// running theirs, a job whose taker is not known (none here) waits for the
// rescue: see orphans_postgres_test.go for those whose taker is.
func TestAJobLeftRunningByADeadProcessRunsAtOnceOnSQLite(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		q, runner, notifier := recordingQueue(t, url)
		task, last := runningTask(t, q, 1), runningTask(t, q, 2)
		execSQL(t, q, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = created_at WHERE kind = $1`, attemptArgs{}.Kind())
		// The other died on its job's last try.
		execSQL(t, q, `UPDATE river_job SET attempt = max_attempts WHERE args ->> 'task_id' = $1`, last.ID)

		if strings.HasPrefix(url, "postgres") {
			// A third job's taker is known, and gone: once it runs again,
			// the watch has looked past its grace, and the two whose
			// taker is not known are still left running.
			q.liveness.check, q.liveness.grace = 20*time.Millisecond, 200*time.Millisecond
			gone := runningTask(t, q, 3)
			execSQL(t, q, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = created_at,
				attempted_by = ARRAY['oneshot:gone-host:424242'] WHERE args ->> 'task_id' = $1`, gone.ID)
			startQueue(t, q)
			notifier.wait(t, gone.ID, tasks.Succeeded)
			// As they were left: running, taken by no one known.
			var running int
			if err := q.DB.sql.QueryRowContext(context.Background(), `SELECT count(*) FROM river_job
				WHERE state = 'running' AND attempted_by IS NULL AND args ->> 'task_id' IN ($1, $2)`,
				task.ID, last.ID).Scan(&running); err != nil {
				t.Fatal(err)
			}
			if running != 2 {
				t.Fatalf("on Postgres %d jobs whose taker is not known are still running, want both: other processes may run them", running)
			}
			return
		}
		startQueue(t, q)
		notifier.wait(t, task.ID, tasks.Succeeded)
		resumed := slices.ContainsFunc(notifier.history(task.ID), func(e tasks.Event) bool {
			return e.State == tasks.Running && strings.Contains(e.Detail, "resumed")
		})
		if !resumed {
			t.Fatalf("history %+v, want the attempt resumed", notifier.history(task.ID))
		}
		if e := notifier.wait(t, last.ID, tasks.Failed); !strings.Contains(e.Detail, "interrupted") {
			t.Fatalf("the task killed on its last try failed with %q, want the reason", e.Detail)
		}
		if n := runner.count(); n != 1 {
			t.Fatalf("attempts ran %d times, want once: the one killed on its last try does not run again", n)
		}
	})
}

// TestAQueueWhoseLockAnotherProcessHoldsLeavesRunningJobsAlone starts a
// queue beside a process that holds the lock: it leaves the running jobs
// alone, and when that process ends it takes the lock and runs again the
// job that process took, still leaving alone one a third process working
// beside them took, and one whose taker it cannot tell.
func TestAQueueWhoseLockAnotherProcessHoldsLeavesRunningJobsAlone(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "oneshot.db")
	q, runner, notifier := recordingQueue(t, url)
	unknown, gone, beside := runningTask(t, q, 1), runningTask(t, q, 2), runningTask(t, q, 3)
	execSQL(t, q, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = created_at WHERE kind = $1`, attemptArgs{}.Kind())
	execSQL(t, q, `UPDATE river_job SET attempted_by = json_array($2) WHERE args ->> 'task_id' = $1`, gone.ID, "the-process-that-held-the-lock")
	leftWorkerLock(t, url, "the-process-that-held-the-lock")
	// A third process works the queue beside the other two.
	execSQL(t, q, `UPDATE river_job SET attempted_by = json_array($2) WHERE args ->> 'task_id' = $1`, beside.ID, "a-process-working-beside")
	holdWorkerLock(t, url, "a-process-working-beside")
	var reaped atomic.Int32
	q.cfg.LeftBehind = func(context.Context) { reaped.Add(1) }
	release := holdQueueLock(t, url)
	startQueue(t, q)
	untouched := func(when string, task *tasks.Task) {
		t.Helper()
		var state string
		var attempt int
		if err := q.DB.sql.QueryRowContext(context.Background(), `SELECT state, attempt FROM river_job WHERE args ->> 'task_id' = $1`, task.ID).Scan(&state, &attempt); err != nil {
			t.Fatal(err)
		}
		if state != "running" || attempt != 1 {
			t.Fatalf("%s the job is %s at try %d; want it left running at try 1", when, state, attempt)
		}
	}
	untouched("while another process holds the lock,", unknown)
	untouched("while another process holds the lock,", gone)
	untouched("while another process holds the lock,", beside)
	if q.lock.held() || runner.count() != 0 || reaped.Load() != 0 {
		t.Fatalf("beside the process holding the lock: lock held %v, %d attempts run, sandboxes reaped %d times", q.lock.held(), runner.count(), reaped.Load())
	}

	release()
	notifier.wait(t, gone.ID, tasks.Succeeded)
	untouched("once the queue took the lock,", unknown)
	untouched("once the queue took the lock,", beside)
	if !q.lock.held() || runner.count() != 1 || reaped.Load() != 1 {
		t.Fatalf("once the other process ended: lock held %v, %d attempts run, sandboxes reaped %d times", q.lock.held(), runner.count(), reaped.Load())
	}
}

// A process that takes the SQLite queue's lock as it starts runs again the
// jobs of processes that are gone, and leaves alone those of one still
// working the queue, which holds its own lock.
func TestAStartRunsAgainOnlyTheJobsOfProcessesThatAreGone(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "oneshot.db")
	q, runner, notifier := recordingQueue(t, url)
	alive, gone := runningTask(t, q, 1), runningTask(t, q, 2)
	execSQL(t, q, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = created_at WHERE kind = $1`, attemptArgs{}.Kind())
	execSQL(t, q, `UPDATE river_job SET attempted_by = json_array($2) WHERE args ->> 'task_id' = $1`, alive.ID, "a-process-still-working")
	execSQL(t, q, `UPDATE river_job SET attempted_by = json_array($2) WHERE args ->> 'task_id' = $1`, gone.ID, "a-process-that-died")
	leftWorkerLock(t, url, "a-process-that-died")
	holdWorkerLock(t, url, "a-process-still-working")
	// Its file is swept too, as one left by a process killed with no job
	// running would be.
	leftWorkerLock(t, url, "a-process-killed-idle")
	startQueue(t, q)
	notifier.wait(t, gone.ID, tasks.Succeeded)
	var state, taker string
	var attempt int
	if err := q.DB.sql.QueryRowContext(context.Background(), `SELECT state, attempt, json_extract(attempted_by, '$[#-1]')
		FROM river_job WHERE args ->> 'task_id' = $1`, alive.ID).Scan(&state, &attempt, &taker); err != nil {
		t.Fatal(err)
	}
	if state != "running" || attempt != 1 || taker != "a-process-still-working" || runner.count() != 1 {
		t.Fatalf("the live process's job is %s at try %d taken by %s, and %d attempts ran; want it as it was, and only the gone one's run",
			state, attempt, taker, runner.count())
	}
	path, _ := strings.CutPrefix(url, "sqlite:")
	for id, want := range map[string]bool{"a-process-that-died": false, "a-process-killed-idle": false, "a-process-still-working": true} {
		if _, err := os.Stat(workerFile(path, id)); (err == nil) != want {
			t.Errorf("the file of %s is there: %v, want %v", id, err == nil, want)
		}
	}
}

// The process holding the SQLite queue's lock runs again, while it works,
// the job of a process working beside it that dies: nothing else would
// before River's rescue, an hour or more later.
func TestAJobOfAProcessThatDiesBesideTheLockHolderRunsAgain(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "oneshot.db")
	path, _ := strings.CutPrefix(url, "sqlite:")
	q, runner, notifier := recordingQueue(t, url)
	q.goneCheck = 50 * time.Millisecond
	task := runningTask(t, q, 1)
	execSQL(t, q, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = created_at, attempted_by = json_array($1)
		WHERE kind = $2`, "a-process-working-beside", attemptArgs{}.Kind())
	if err := os.MkdirAll(workersDir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	beside, err := filelock.TryLock(workerFile(path, "a-process-working-beside"))
	if err != nil || beside == nil {
		t.Fatalf("lock: %v, %v", beside, err)
	}
	startQueue(t, q)
	if !q.lock.held() || runner.count() != 0 {
		t.Fatalf("lock held %v, %d attempts run; want the lock, and the live process's job left alone", q.lock.held(), runner.count())
	}

	beside.Close() // the process dies
	notifier.wait(t, task.ID, tasks.Succeeded)
	if n := runner.count(); n != 1 {
		t.Fatalf("the attempt ran %d times", n)
	}
}

// A process working the SQLite queue holds its own lock while it does, and
// lets it go, its file gone, once it stops; one that cannot take it does
// not work the queue.
func TestAProcessHoldsItsOwnLockWhileItWorksTheQueue(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "oneshot.db")
	path, _ := strings.CutPrefix(url, "sqlite:")
	q, _, _ := recordingQueue(t, url)
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	own := workerFile(path, q.river.ID())
	if f, err := filelock.TryLockExisting(own); err != nil || f != nil {
		t.Fatalf("another took the working process's lock: %v, %v", f, err)
	}
	if err := q.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(own); !os.IsNotExist(err) {
		t.Fatalf("the stopped process's file is still there: %v", err)
	}

	// The directory of locks is a file: no lock can be taken in it.
	blocked := "sqlite:" + filepath.Join(t.TempDir(), "oneshot.db")
	bp, _ := strings.CutPrefix(blocked, "sqlite:")
	if err := os.WriteFile(workersDir(bp), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	q, _, _ = recordingQueue(t, blocked)
	if err := q.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "this process's lock") {
		_ = q.Shutdown(context.Background())
		t.Fatalf("start: %v, want it refused for want of its own lock", err)
	}
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

// leftWorkerLock leaves the file of a process whose River client ID is
// clientID, unlocked, as a process killed while working the SQLite queue
// at url leaves it.
func leftWorkerLock(t *testing.T, url, clientID string) {
	t.Helper()
	path, _ := strings.CutPrefix(url, "sqlite:")
	if err := os.MkdirAll(workersDir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(workerFile(path, clientID), nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// holdWorkerLock takes the own lock of a process whose River client ID is
// clientID, working the SQLite queue at url, for the test.
func holdWorkerLock(t *testing.T, url, clientID string) {
	t.Helper()
	path, _ := strings.CutPrefix(url, "sqlite:")
	if err := os.MkdirAll(workersDir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	lock, err := filelock.TryLock(workerFile(path, clientID))
	if err != nil || lock == nil {
		t.Fatalf("lock: %v, %v", lock, err)
	}
	t.Cleanup(func() { lock.Close() })
}

// An intake's job killed on its last try is not dropped, as River's rescue
// would, leaving whoever asked waiting on nothing: the next start tells
// them, without trying the intake again (one that kills the bot would do
// so at every start). One killed on an earlier try is tried again, and an
// answering try killed too is left to River.
func TestAnIntakeKilledOnItsLastTryIsAnsweredNotTriedAgain(t *testing.T) {
	q, _, _ := recordingQueue(t, "sqlite:"+filepath.Join(t.TempDir(), "oneshot.db"))
	intake := &answeringIntake{answered: make(chan string, 3)}
	q.cfg.Intake = intake
	ctx := context.Background()
	for _, tc := range []struct {
		delivery string
		attempt  int
	}{{"d-last", intakeMaxAttempts}, {"d-earlier", 3}, {"d-answering", intakeMaxAttempts + 1}} {
		if _, err := q.river.Insert(ctx, intakeArgs{tasks.Trigger{DeliveryID: tc.delivery, Repo: "o/r", Issue: 1}}, nil); err != nil {
			t.Fatal(err)
		}
		execSQL(t, q, `UPDATE river_job SET state = 'running', attempt = $1,
			max_attempts = max($1, max_attempts) WHERE args ->> 'delivery_id' = $2`, tc.attempt, tc.delivery)
	}
	startQueue(t, q)
	got := map[string]bool{}
	for range 2 {
		select {
		case what := <-intake.answered:
			got[what] = true
		case <-time.After(30 * time.Second):
			t.Fatalf("after %v nothing more within 30 s", got)
		}
	}
	_ = q.Shutdown(ctx)
	close(intake.answered)
	for what := range intake.answered {
		got[what] = true
	}
	want := map[string]bool{"took d-earlier": true, "answered d-last: " + errIntakeStopped.Error(): true}
	if !maps.Equal(got, want) {
		t.Fatalf("the intake did %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	var state string
	if err := q.DB.sql.QueryRowContext(ctx, `SELECT state FROM river_job
		WHERE args ->> 'delivery_id' = 'd-last'`).Scan(&state); err != nil {
		t.Fatal(err)
	}
	if state != "cancelled" {
		t.Fatalf("the answered intake's job is %s, want cancelled: River is not to try it again", state)
	}
}

// answeringIntake records the triggers it takes and those it answers.
type answeringIntake struct{ answered chan string }

func (a *answeringIntake) Intake(_ context.Context, t tasks.Trigger) error {
	a.answered <- "took " + t.DeliveryID
	return nil
}
func (a *answeringIntake) GiveUp(_ context.Context, t tasks.Trigger, err error) {
	a.answered <- "answered " + t.DeliveryID + ": " + err.Error()
}

package queue

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/internal/pgtest"
	"github.com/oneshot-dev/oneshot/tasks"
)

// These tests check what a Postgres queue does with jobs left running by
// other processes: see orphans_postgres.go.

// TestAJobLeftRunningByAGoneProcessRunsAgainOnPostgres leaves three jobs
// running, as three other processes took them: one gone (its lock free),
// one alive (its lock held), and one an older bot took (no lock named).
// The queue runs the gone process's job again after the grace period,
// leaves the others alone, and runs the living one's once its process
// ends.
func TestAJobLeftRunningByAGoneProcessRunsAgainOnPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	q, runner, notifier := recordingQueue(t, url)
	q.liveness.check, q.liveness.grace = 20*time.Millisecond, 200*time.Millisecond
	gone, alive, older := runningTask(t, q, 1), runningTask(t, q, 2), runningTask(t, q, 3)
	takenBy := func(task *tasks.Task, client string) {
		execSQL(t, q, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = created_at,
			attempted_by = ARRAY[$1::text] WHERE args ->> 'task_id' = $2`, client, task.ID)
	}
	takenBy(gone, "oneshot:gone-host:12345")
	takenBy(alive, "oneshot:alive-host:23456")
	takenBy(older, "alive_host_2026_11_27T10_00_00_000000")
	exit := holdLivenessLock(t, url, 23456)
	startQueue(t, q)

	resumed := func(task *tasks.Task) bool {
		return slices.ContainsFunc(notifier.history(task.ID), func(e tasks.Event) bool {
			return e.State == tasks.Running && strings.Contains(e.Detail, "resumed")
		})
	}
	leftRunning := func(task *tasks.Task) bool {
		var state string
		var attempt int
		if err := q.DB.sql.QueryRowContext(context.Background(), `SELECT state, attempt FROM river_job WHERE args ->> 'task_id' = $1`,
			task.ID).Scan(&state, &attempt); err != nil {
			t.Fatal(err)
		}
		return state == "running" && attempt == 1
	}
	notifier.wait(t, gone.ID, tasks.Succeeded)
	if !resumed(gone) || runner.count() != 1 {
		t.Fatalf("the gone process's job ran %d times; history %+v", runner.count(), notifier.history(gone.ID))
	}
	// The scan that readied the gone process's job saw the others too.
	if !leftRunning(alive) || !leftRunning(older) {
		t.Fatal("a job of a living process, or one an older bot took, was taken from it")
	}

	exit()
	notifier.wait(t, alive.ID, tasks.Succeeded)
	if !resumed(alive) || runner.count() != 2 || !leftRunning(older) {
		t.Fatalf("after its process ended, the living one's job ran with %d runs in all; the older bot's left running: %v",
			runner.count(), leftRunning(older))
	}
}

// TestAJobAGoneProcessLeftRunningOnItsLastTryEndsItsTaskOnPostgres leaves
// a job running on its last try, taken by a process that is gone: it is
// readied with one more try, which ends the task as failed without running
// it, where River's rescue would discard the job and leave the task
// running for ever.
func TestAJobAGoneProcessLeftRunningOnItsLastTryEndsItsTaskOnPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	q, runner, notifier := recordingQueue(t, url)
	q.liveness.check, q.liveness.grace = 20*time.Millisecond, 200*time.Millisecond
	task := runningTask(t, q, 1)
	execSQL(t, q, `UPDATE river_job SET state = 'running', attempt = max_attempts, attempted_at = created_at,
		attempted_by = ARRAY['oneshot:gone-host:12345'] WHERE kind = $1`, attemptArgs{}.Kind())
	startQueue(t, q)

	if e := notifier.wait(t, task.ID, tasks.Failed); !strings.Contains(e.Detail, "interrupted") {
		t.Fatalf("failed with %q, want the reason", e.Detail)
	}
	if n := runner.count(); n != 0 {
		t.Fatalf("the attempt ran %d times after its last try", n)
	}
}

// TestAQueueTakesItsLivenessLockAgainWhenItsConnectionDrops ends the
// session that holds a running queue's lock, as a network blip would: the
// queue takes its lock again, so that other processes do not take its
// jobs for a gone one's.
func TestAQueueTakesItsLivenessLockAgainWhenItsConnectionDrops(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	q, _, _ := recordingQueue(t, url)
	q.liveness.check = 20 * time.Millisecond
	startQueue(t, q)
	holder := func() (pid int) {
		err := q.DB.sql.QueryRowContext(context.Background(), `SELECT pid FROM pg_locks
			WHERE locktype = 'advisory' AND granted AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 2`,
			livenessClass, q.liveness.key).Scan(&pid)
		if err == sql.ErrNoRows {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return pid
	}
	first := holder()
	if first == 0 {
		t.Fatal("a started queue holds no liveness lock")
	}
	execSQL(t, q, `SELECT pg_terminate_backend($1)`, first)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if pid := holder(); pid != 0 && pid != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the queue did not take its liveness lock again after its connection dropped")
		}
	}
}

// TestAQueueWhoseLivenessLockIsTakenDoesNotStart starts a queue whose key
// another process drew: it must not work jobs under a name another holds.
func TestAQueueWhoseLivenessLockIsTakenDoesNotStart(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	q, _, _ := recordingQueue(t, url)
	holdLivenessLock(t, url, q.liveness.key)
	err := q.Start(context.Background())
	if err == nil {
		_ = q.Shutdown(context.Background())
		t.Fatal("a queue started under a liveness lock another process holds")
	}
	if !strings.Contains(err.Error(), "held by another process") {
		t.Fatalf("the error does not say why: %v", err)
	}
}

// TestOnPostgresASecondProcessOfOneSandboxOwnerLeavesItsSandboxesAlone
// starts processes of one sandbox owner on one database, as a second bot
// serve on a host or an overlapping restart does: only the first removes
// the owner's sandboxes as left behind, the others' being its own and
// running. The second takes the owner's lock once the first ends, so a
// third started then leaves the second's alone too. Another owner's
// process removes its own.
func TestOnPostgresASecondProcessOfOneSandboxOwnerLeavesItsSandboxesAlone(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ownedQueue := func(owner string) (*Queue, *atomic.Int32) {
		db, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		var reaped atomic.Int32
		q, err := NewQueue(db, Config{Concurrency: 1, TaskTimeout: time.Minute, Intake: idle{}, Runner: &countingRunner{},
			Notifier: &eventNotifier{changed: make(chan struct{}, 1)}, Logger: testLogger(t),
			LeftBehind: func(context.Context) { reaped.Add(1) }, Owner: owner})
		if err != nil {
			t.Fatal(err)
		}
		q.liveness.check = 20 * time.Millisecond
		return q, &reaped
	}
	first, firstReaped := ownedQueue("host-a")
	startQueue(t, first)
	second, secondReaped := ownedQueue("host-a")
	startQueue(t, second)
	other, otherReaped := ownedQueue("host-b")
	startQueue(t, other)
	if firstReaped.Load() != 1 || secondReaped.Load() != 0 || otherReaped.Load() != 1 {
		t.Fatalf("sandboxes removed by the first process %d times, by the second of its owner %d, by another owner's %d; want 1, 0, 1",
			firstReaped.Load(), secondReaped.Load(), otherReaped.Load())
	}

	// The first process's session may hold its locks a moment after it
	// ends, until its server process is gone: the lock the next process
	// must see taken is the second's.
	// Asked of the database, not on the first's connection, which its
	// liveness checks use meanwhile: while the first runs, it alone holds
	// the owner's lock.
	var firstPID int
	if err := second.DB.sql.QueryRowContext(context.Background(), `SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 2
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		ownerClass, ownerKey("host-a")).Scan(&firstPID); err != nil {
		t.Fatal(err)
	}
	if err := first.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var held bool
		if err := second.DB.sql.QueryRowContext(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_locks
			WHERE locktype = 'advisory' AND granted AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 2 AND pid <> $3)`,
			ownerClass, ownerKey("host-a"), firstPID).Scan(&held); err != nil {
			t.Fatal(err)
		}
		if held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second process did not take its owner's lock once the first ended")
		}
	}
	// Taking it, the second removes what the first may have left, had it
	// died.
	for deadline := time.Now().Add(10 * time.Second); secondReaped.Load() != 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the second process removed the owner's sandboxes %d times once it took its lock, want 1", secondReaped.Load())
		}
	}
	third, thirdReaped := ownedQueue("host-a")
	startQueue(t, third)
	if n := thirdReaped.Load(); n != 0 {
		t.Fatalf("a process started beside the second of its owner removed its sandboxes %d times", n)
	}
}

// holdLivenessLock takes the liveness lock of key for the test, as a
// living process holds its own, and returns what ends that process's
// session (which the test's end does too).
func holdLivenessLock(t *testing.T, url string, key int32) (exit func()) {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var took bool
	if err := conn.QueryRowContext(context.Background(), `SELECT pg_try_advisory_lock($1, $2)`, livenessClass, key).Scan(&took); err != nil || !took {
		t.Fatal(fmt.Sprint("hold the liveness lock: ", took, err))
	}
	return func() { discard(conn) }
}

package queue

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/internal/pgtest"
	"github.com/oneshot-dev/oneshot/tasks"
)

// These tests reach inside the queue: to hold its database as River's
// background work does, and to replay a crash between the forwarder's two
// writes. The queue is never started, so its workers never run.

func TestAnAcknowledgementDoesNotWaitForTheQueuesDatabase(t *testing.T) {
	// SQLite only: its queue database has one connection, which River's
	// background work holds for a while at a time. Postgres has a pool.
	q := unstartedQueue(t, "sqlite:"+filepath.Join(t.TempDir(), "oneshot.db"))
	ctx := context.Background()
	held, err := q.DB.sql.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback()
	if _, err := held.ExecContext(ctx, `INSERT INTO oneshot_deliveries (delivery_id, event, received_at)
		VALUES ('held', 'issues', 0)`); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if ok, err := q.Accept(ctx, tasks.Trigger{DeliveryID: "d1", Event: "issues"}); !ok || err != nil {
		t.Fatalf("accept while the queue's database was busy: %v %v", ok, err)
	}
}

func TestAnAcceptThatCannotBeRecordedFails(t *testing.T) {
	q := unstartedQueue(t, "sqlite:"+filepath.Join(t.TempDir(), "oneshot.db"))
	q.DB.inbox.Close()
	ok, err := q.Accept(context.Background(), tasks.Trigger{DeliveryID: "d1", Event: "issues"})
	if ok || err == nil {
		t.Fatalf("accept with the inbox closed: %v %v", ok, err)
	}
}

func TestATriggerForwardedTwiceIsQueuedOnce(t *testing.T) {
	for name, url := range map[string]func(testing.TB) string{
		"sqlite":   func(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "oneshot.db") },
		"postgres": pgtest.URL,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			q := unstartedQueue(t, url(t))
			ctx := context.Background()
			if ok, err := q.Accept(ctx, tasks.Trigger{DeliveryID: "d1", Event: "issues"}); !ok || err != nil {
				t.Fatalf("accept: %v %v", ok, err)
			}
			forward(t, q, 1)
			// A process that died after queuing the trigger, before
			// removing it from the inbox, left it there; so does GitHub
			// sending it again.
			if ok, err := q.Accept(ctx, tasks.Trigger{DeliveryID: "d1", Event: "issues"}); !ok || err != nil {
				t.Fatalf("accept again: %v %v", ok, err)
			}
			forward(t, q, 1)
			forward(t, q, 0)

			var jobs int
			if err := q.DB.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = $1`,
				intakeArgs{}.Kind()).Scan(&jobs); err != nil {
				t.Fatal(err)
			}
			if jobs != 1 {
				t.Fatalf("the trigger was queued %d times", jobs)
			}
		})
	}
}

// GitHub's signature covers a delivery's body, not its ID: a comment's
// body sent again under another ID starts nothing more. Another comment,
// or the same number in another repository, does.
func TestACommentSentAgainUnderAnotherDeliveryIDIsQueuedOnce(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		q := unstartedQueue(t, url)
		ctx := context.Background()
		comment := func(delivery string, repo, id int64) tasks.Trigger {
			return tasks.Trigger{DeliveryID: delivery, Event: "issue_comment", RepoID: repo, Issue: 1, CommentID: id}
		}
		for _, tr := range []tasks.Trigger{comment("d1", 1, 42), comment("d2", 1, 42), comment("d3", 1, 43), comment("d4", 2, 42)} {
			if ok, err := q.Accept(ctx, tr); !ok || err != nil {
				t.Fatalf("accept %s: %v %v", tr.DeliveryID, ok, err)
			}
			forward(t, q, 1)
		}
		var queued []string
		rows, err := q.DB.sql.QueryContext(ctx, `SELECT args ->> 'delivery_id' FROM river_job WHERE kind = $1 ORDER BY id`, intakeArgs{}.Kind())
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var delivery string
			if err := rows.Scan(&delivery); err != nil {
				t.Fatal(err)
			}
			queued = append(queued, delivery)
		}
		if got := strings.Join(queued, " "); got != "d1 d3 d4" {
			t.Fatalf("queued %q, want d1 d3 d4", got)
		}
	})
}

func TestATriggerTheDatabaseRefusesDoesNotHoldBackTheOthers(t *testing.T) {
	// Postgres stores no NUL in JSON: the first trigger can never be
	// queued. (The handlers drop NULs; this one came some other way.)
	q := unstartedQueue(t, pgtest.URL(t))
	ctx := context.Background()
	poison := tasks.Trigger{DeliveryID: "d-poison", Event: "issue_comment", Instructions: "fix\x00 it"}
	for _, tr := range []tasks.Trigger{poison, {DeliveryID: "d1", Event: "issues"}} {
		if ok, err := q.Accept(ctx, tr); !ok || err != nil {
			t.Fatalf("accept %s: %v %v", tr.DeliveryID, ok, err)
		}
	}
	for round, later := range []string{"", "d2"} {
		if later != "" {
			if ok, err := q.Accept(ctx, tasks.Trigger{DeliveryID: later, Event: "issues"}); !ok || err != nil {
				t.Fatalf("accept %s: %v %v", later, ok, err)
			}
		}
		n, err := q.forward(ctx)
		if n != 1 || err == nil || !strings.Contains(err.Error(), "d-poison") {
			t.Fatalf("round %d: forwarded %d, err %v; want 1 and an error naming d-poison", round, n, err)
		}
	}
	var jobs int
	if err := q.DB.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = $1`,
		intakeArgs{}.Kind()).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	waiting, _, err := q.DB.waitingTriggers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if jobs != 2 || len(waiting) != 1 || waiting[0].DeliveryID != "d-poison" {
		t.Fatalf("%d jobs queued, %+v waiting; want 2 queued and d-poison kept", jobs, waiting)
	}
}

// A row this bot cannot read, as one a bot of another version wrote, stays
// for one that can, and holds back no other.
func TestATriggerThatCannotBeReadDoesNotHoldBackTheOthers(t *testing.T) {
	q := unstartedQueue(t, "sqlite:"+filepath.Join(t.TempDir(), "oneshot.db"))
	ctx := context.Background()
	if _, err := q.DB.inbox.ExecContext(ctx, `INSERT INTO oneshot_inbox (delivery_id, trigger, received_at)
		VALUES ('d-unreadable', '{"issue": "seven"}', 0)`); err != nil {
		t.Fatal(err)
	}
	if ok, err := q.Accept(ctx, tasks.Trigger{DeliveryID: "d1", Event: "issues"}); !ok || err != nil {
		t.Fatalf("accept: %v %v", ok, err)
	}
	var logs strings.Builder
	q.cfg.Logger = zerolog.New(&logs)
	n, err := q.forward(ctx)
	if n != 1 || err != nil || !strings.Contains(logs.String(), "d-unreadable") {
		t.Fatalf("forwarded %d, err %v, logged %q; want 1, and a warning naming d-unreadable", n, err, logs.String())
	}
	var kept int
	if err := q.DB.inbox.QueryRowContext(ctx, `SELECT COUNT(*) FROM oneshot_inbox WHERE delivery_id = 'd-unreadable' AND received_at > 0`).Scan(&kept); err != nil || kept != 1 {
		t.Fatalf("the unreadable row is not kept at the inbox's end (%d, %v)", kept, err)
	}
}

func forward(t *testing.T, q *Queue, want int) {
	t.Helper()
	n, err := q.forward(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("forwarded %d triggers, want %d", n, want)
	}
}

func unstartedQueue(t *testing.T, url string) *Queue {
	t.Helper()
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	q, err := NewQueue(db, Config{Concurrency: 1, TaskTimeout: time.Minute,
		Intake: idle{}, Runner: idle{}, Notifier: idle{}, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// idle stands in for the intake, runner and notifier of a queue that is
// never started.
type idle struct{}

func (idle) Intake(context.Context, tasks.Trigger) error  { return nil }
func (idle) GiveUp(context.Context, tasks.Trigger, error) {}
func (idle) Run(context.Context, *tasks.Task) (tasks.State, string, error) {
	return tasks.Succeeded, "", nil
}
func (idle) Changed(context.Context, *tasks.Task, tasks.Event) []byte       { return nil }
func (idle) Resend(context.Context, *tasks.Task, []byte) error              { return nil }
func (idle) Confirm(context.Context, *tasks.Task, int64, tasks.Event) error { return nil }

// TestAForwardingFailureThatGoesOnIsLoggedOnceAMinute checks what the
// forwarder, which tries every second, logs of a failure that goes on (a
// database down, a trigger it refuses): its first try, then one line a
// minute with the count of tries between, and a new failure after a
// success at once.
func TestAForwardingFailureThatGoesOnIsLoggedOnceAMinute(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f := failureLog{every: time.Minute, now: func() time.Time { return now }}
	if n, log := f.failed(); !log || n != 0 {
		t.Fatalf("the first failure: log %v, %d before it", log, n)
	}
	lines := 0
	for range 119 { // two minutes of tries, a second apart
		now = now.Add(time.Second)
		if n, log := f.failed(); log {
			lines++
			if n != 59 {
				t.Errorf("a line after %d unlogged tries, want 59", n)
			}
		}
	}
	if lines != 1 {
		t.Errorf("%d lines in the two minutes after the first, want 1 (at its 60th second)", lines)
	}
	if !f.recovered() || f.recovered() {
		t.Error("a success after failures is worth saying once")
	}
	now = now.Add(time.Second)
	if _, log := f.failed(); !log {
		t.Error("a new failure after a success is not logged at once")
	}
}

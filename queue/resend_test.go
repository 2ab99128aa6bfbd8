package queue_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/queue"
	"github.com/oneshot-dev/oneshot/tasks"
)

// owingNotifier is a GitHub that does not take an attempt's end: Changed
// owes it, and Resend fails while down, then takes it.
type owingNotifier struct {
	mu      sync.Mutex
	down    int // how many more resends fail; -1 for all of them
	tries   int
	resent  []string // what was resent, once taken
	taskIDs []string
}

var errGitHubDown = errors.New("502 Bad Gateway")

func (n *owingNotifier) Changed(_ context.Context, t *tasks.Task, e tasks.Event) []byte {
	if !e.State.Final() {
		return nil
	}
	return []byte(`{"conclusion":"` + string(e.State) + `"}`)
}

func (n *owingNotifier) Confirm(context.Context, *tasks.Task, int64, tasks.Event) error { return nil }

func (n *owingNotifier) Resend(_ context.Context, t *tasks.Task, owed []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tries++
	if n.down != 0 {
		n.down--
		return errGitHubDown
	}
	n.resent = append(n.resent, string(owed))
	n.taskIDs = append(n.taskIDs, t.ID)
	return nil
}

func (n *owingNotifier) seen() (tries int, resent, taskIDs []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.tries, append([]string{}, n.resent...), append([]string{}, n.taskIDs...)
}

func owingQueue(t *testing.T, db *queue.DB, runner tasks.Runner, notifier tasks.Notifier) *queue.Queue {
	t.Helper()
	q, err := queue.NewQueue(db, queue.Config{
		Concurrency: 1,
		TaskTimeout: time.Minute,
		Intake:      &recordingIntake{},
		Runner:      runner,
		Notifier:    notifier,
		Logger:      zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		ResendWait:  10 * time.Millisecond,
		ConfirmWait: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestAnEndGitHubDidNotTakeIsSentAgainUntilItTakesIt checks that an
// attempt's end the notifier owes is tried again, with the notifier's own
// words, until GitHub takes it, and only then stops.
func TestAnEndGitHubDidNotTakeIsSentAgainUntilItTakesIt(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		db := openDB(t, url)
		runner := &scriptedRunner{started: make(chan string, 1)}
		runner.finish(tasks.Failed)
		notifier := &owingNotifier{down: 2}
		q := owingQueue(t, db, runner, notifier)
		start(t, q)
		task := newTask("o/r", 1)
		if err := q.Create(context.Background(), task, tasks.Limits{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "the owed end to be taken", func() bool {
			_, resent, _ := notifier.seen()
			return len(resent) > 0
		})
		tries, resent, ids := notifier.seen()
		if tries != 3 || len(resent) != 1 || resent[0] != `{"conclusion":"failed"}` || ids[0] != task.ID {
			t.Fatalf("%d tries, resent %q for %v; want the failed end of %s taken on the third try", tries, resent, ids, task.ID)
		}
	})
}

// TestAnEndGitHubDidNotTakeIsSentByTheNextProcess checks that an owed end
// outlives the process that owed it: GitHub is down for as long as the
// first queue runs, and the next one, started on the same database, sends
// it without running the attempt again.
func TestAnEndGitHubDidNotTakeIsSentByTheNextProcess(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		db := openDB(t, url)
		runner := &scriptedRunner{started: make(chan string, 1)}
		runner.finish(tasks.Succeeded)
		down := &owingNotifier{down: -1}
		first := owingQueue(t, db, runner, down)
		if err := first.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		task := newTask("o/r", 1)
		if err := first.Create(context.Background(), task, tasks.Limits{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "the first process to try the owed end", func() bool {
			tries, _, _ := down.seen()
			return tries > 0
		})
		if err := first.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}

		up := &owingNotifier{}
		start(t, owingQueue(t, db, runner, up))
		waitFor(t, 30*time.Second, "the next process to send the owed end", func() bool {
			_, resent, _ := up.seen()
			return len(resent) > 0
		})
		if _, resent, ids := up.seen(); resent[0] != `{"conclusion":"succeeded"}` || ids[0] != task.ID {
			t.Fatalf("resent %q for %v, want the succeeded end of %s", resent, ids, task.ID)
		}
		if runner.count() != 1 {
			t.Fatalf("the attempt ran %d times, want once", runner.count())
		}
	})
}

// confirmingNotifier shows nothing and passes on what the queue asks it
// to confirm.
type confirmingNotifier struct {
	owingNotifier
	confirmed chan confirmation
}

type confirmation struct {
	checkRunID int64
	end        tasks.Event
}

func (n *confirmingNotifier) Changed(context.Context, *tasks.Task, tasks.Event) []byte { return nil }

func (n *confirmingNotifier) Confirm(_ context.Context, _ *tasks.Task, checkRunID int64, e tasks.Event) error {
	n.confirmed <- confirmation{checkRunID, e}
	return nil
}

// TestAnAttemptsEndIsConfirmedAfterItIsRecorded checks that recording an
// attempt's end also queues, in the same transaction, the check that it
// shows on the attempt's check run: a process that dies before showing it
// leaves it to whichever process works the queue.
func TestAnAttemptsEndIsConfirmedAfterItIsRecorded(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		db := openDB(t, url)
		runner := &scriptedRunner{started: make(chan string, 1)}
		runner.finish(tasks.Failed)
		notifier := &confirmingNotifier{confirmed: make(chan confirmation, 1)}
		q := owingQueue(t, db, runner, notifier)
		start(t, q)
		task := newTask("o/r", 1)
		task.CheckRunID = 77
		if err := q.Create(context.Background(), task, tasks.Limits{}); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-notifier.confirmed:
			if c.checkRunID != 77 || c.end.State != tasks.Failed || c.end.Attempt != 1 {
				t.Fatalf("confirmed %+v on check run %d, want attempt 1's failure on 77", c.end, c.checkRunID)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the end was never confirmed")
		}
	})
}

package handlers_test

// What becomes of the check run made for an attempt the queue did not
// take: closed as skipped when the attempt is certainly not recorded,
// left queued when it may be, and closed by a later try that records none.

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/oneshot-dev/oneshot/handlers"
	"github.com/oneshot-dev/oneshot/tasks"
)

func TestACheckRunWhoseTaskWasNotQueuedDoesNotWaitAsQueued(t *testing.T) {
	t.Parallel()
	in, gh, repo := newIntake(t)
	if err := in.Intake(context.Background(), trigger); !errors.Is(err, errDatabase) {
		t.Fatalf("err = %v, want the queue's, so that the intake is tried again", err)
	}
	runs := gh.CheckRuns(repo)
	if len(runs) != 1 || runs[0].Status != "completed" || runs[0].Conclusion != "skipped" {
		t.Fatalf("check runs %+v, want one, skipped", runs)
	}
	// The intake's next try makes the attempt's run; this one's buttons
	// would do nothing.
	if len(runs[0].Actions) != 0 {
		t.Fatalf("the skipped run shows buttons %+v", runs[0].Actions)
	}
}

// committedQueue takes the task, but the answer to its commit is lost.
type committedQueue struct {
	brokenQueue
	created *tasks.Task
}

func (q *committedQueue) Create(_ context.Context, t *tasks.Task, _ tasks.Limits) error {
	q.created = t
	return errDatabase
}

func (q *committedQueue) ByDelivery(context.Context, string) (*tasks.Task, int, error) {
	if q.created == nil {
		return nil, 0, tasks.ErrNotFound
	}
	return q.created, q.created.Attempt, nil
}

// An error from the queue is no proof that nothing was recorded: an
// attempt it holds after all keeps its check run.
func TestAnAttemptRecordedThoughTheQueueAnsweredWithAnErrorKeepsItsCheckRun(t *testing.T) {
	t.Parallel()
	in, gh, repo := newIntake(t)
	in.Queue = &committedQueue{}
	if err := in.Intake(context.Background(), trigger); err != nil {
		t.Fatalf("err = %v, want the intake done: the attempt is queued", err)
	}
	if runs := gh.CheckRuns(repo); len(runs) != 1 || runs[0].Status != "queued" {
		t.Fatalf("check runs %+v, want one, queued", runs)
	}
}

// shakyQueue takes the task, but the answer to its commit is lost, and the
// look after it fails lookFailures times before it answers.
type shakyQueue struct {
	committedQueue
	lookFailures, looks int
}

func (q *shakyQueue) ByDelivery(ctx context.Context, delivery string) (*tasks.Task, int, error) {
	if q.created == nil {
		return nil, 0, tasks.ErrNotFound
	}
	if q.looks++; q.looks <= q.lookFailures {
		return nil, 0, errDatabase
	}
	return q.committedQueue.ByDelivery(ctx, delivery)
}

// The trouble that lost the commit's answer may fail the look after it
// too. A look that answers at its next try keeps the recorded attempt's
// run; a queue that cannot say leaves the run queued, as the attempt it
// may hold is, for the intake's next try: skipped, it would show a
// running attempt as skipped throughout.
func TestAnAttemptTheQueueCannotSayItRecordedKeepsItsCheckRunQueued(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		lookFailures int
		wantErr      bool
	}{{1, false}, {100, true}} {
		in, gh, repo := newIntake(t)
		in.Queue = &shakyQueue{lookFailures: tc.lookFailures}
		if err := in.Intake(context.Background(), trigger); (err != nil) != tc.wantErr {
			t.Fatalf("looks failing %d times: err = %v, want an error %v", tc.lookFailures, err, tc.wantErr)
		}
		if runs := gh.CheckRuns(repo); len(runs) != 1 || runs[0].Status != "queued" {
			t.Fatalf("looks failing %d times: check runs %+v, want one, queued", tc.lookFailures, runs)
		}
	}
}

// busyQueue has not recorded the trigger's attempt, and a task is live on
// its issue.
type busyQueue struct{ handlers.Work }

func (busyQueue) ByDelivery(context.Context, string) (*tasks.Task, int, error) {
	return nil, 0, tasks.ErrNotFound
}
func (busyQueue) Live(context.Context, int64, int) (*tasks.Task, error) { return winner, nil }
func (busyQueue) EarlierCancelWaiting(context.Context, tasks.Trigger, *tasks.Task) (bool, error) {
	return false, nil
}

// A try that made its check run and could not tell whether the queue took
// the attempt leaves the run queued. When the attempt was not taken after
// all, and the next try goes another way (the issue busy by then) or the
// intake is given up on, the run is closed rather than left queued beside
// the reply.
func TestACheckRunAnEarlierTryLeftIsClosedWhenNoAttemptTakesIt(t *testing.T) {
	t.Parallel()
	for _, end := range []string{"busy", "given up"} {
		in, gh, repo := newIntake(t)
		in.Queue = &shakyQueue{lookFailures: 100}
		if err := in.Intake(context.Background(), trigger); err == nil {
			t.Fatal("the first try did not fail")
		}
		in.Queue = busyQueue{}
		if end == "busy" {
			if err := in.Intake(tasks.Retried(context.Background()), trigger); err != nil {
				t.Fatal(err)
			}
		} else {
			in.GiveUp(context.Background(), trigger, errDatabase)
		}
		if runs := gh.CheckRuns(repo); len(runs) != 1 || runs[0].Conclusion != "skipped" {
			t.Fatalf("%s: check runs %+v, want the one made, skipped", end, runs)
		}
		if comments := gh.Comments(repo, 1); len(comments) != 1 {
			t.Fatalf("%s: comments %+v, want the reply", end, comments)
		}
	}
}

// Closing the run is tried again while GitHub fails for now: nothing
// later would, and it would wait as queued for ever.
func TestACheckRunGitHubFailsToCloseAtFirstIsClosed(t *testing.T) {
	t.Parallel()
	in, gh, repo := newIntake(t)
	gh.Fail("PATCH", "/repos/{owner}/{repo}/check-runs/{id}", http.StatusBadGateway, 2)
	if err := in.Intake(context.Background(), trigger); !errors.Is(err, errDatabase) {
		t.Fatalf("err = %v, want the queue's", err)
	}
	if runs := gh.CheckRuns(repo); len(runs) != 1 || runs[0].Conclusion != "skipped" {
		t.Fatalf("check runs %+v, want one, skipped", runs)
	}
}

package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/handlers"
	"github.com/oneshot-dev/oneshot/tasks"
)

// cancellingQueue holds one live task, which a cancel stops.
type cancellingQueue struct{ handlers.Work }

func (cancellingQueue) ByDelivery(context.Context, string) (*tasks.Task, int, error) {
	return nil, 0, tasks.ErrNotFound
}
func (cancellingQueue) EarlierStartWaiting(context.Context, tasks.Trigger) (bool, error) {
	return false, nil
}
func (cancellingQueue) Live(context.Context, int64, int) (*tasks.Task, error) { return winner, nil }
func (cancellingQueue) CancelAttempt(context.Context, string, int, string) (bool, error) {
	return true, nil
}

// namedQueue holds one task, which buttons name, and records the
// attempts cancelled.
type namedQueue struct {
	handlers.Work
	task      *tasks.Task
	cancelled []int
}

func (*namedQueue) ByDelivery(context.Context, string) (*tasks.Task, int, error) {
	return nil, 0, tasks.ErrNotFound
}
func (*namedQueue) EarlierStartWaiting(context.Context, tasks.Trigger) (bool, error) {
	return false, nil
}
func (q *namedQueue) Get(context.Context, string) (*tasks.Task, error) { return q.task, nil }
func (q *namedQueue) CancelAttempt(_ context.Context, _ string, attempt int, _ string) (bool, error) {
	q.cancelled = append(q.cancelled, attempt)
	return true, nil
}

// The Cancel button of a run another than the task's current one cancels
// nothing when the run was an earlier attempt's; a first attempt has
// none, and the run was its start's, made on a try that could not record
// the task, pressed before that try skipped it.
func TestACancelButtonOfAnotherRunCancelsOnlyAFirstAttempt(t *testing.T) {
	t.Parallel()
	for attempt, want := range map[int]int{1: 1, 2: 0} {
		in, gh, repo := newIntake(t)
		q := &namedQueue{task: &tasks.Task{ID: "tnamed", Repo: "acme/widgets", RepoID: 1, Issue: 1, Attempt: attempt,
			State: tasks.Running, CheckRunID: 9}}
		in.Queue = q
		button := tasks.Trigger{Event: "check_run", Command: tasks.CommandCancel, DeliveryID: "d1", Repo: "acme/widgets", RepoID: 1,
			InstallationID: 7, Actor: "writer", TaskID: "tnamed", CheckRunID: 3}
		if err := in.Intake(context.Background(), button); err != nil {
			t.Fatal(err)
		}
		if len(q.cancelled) != want {
			t.Errorf("attempt %d: attempts cancelled %v, want %d", attempt, q.cancelled, want)
		}
		if comments := gh.Comments(repo, 1); (want == 0) != (len(comments) == 1) {
			t.Errorf("attempt %d: comments %+v", attempt, comments)
		}
	}
}

// TestACancelWhoseReactionFailsIsDone has GitHub fail the 👀 on a cancel
// that worked: the intake is done, not tried again to answer that there
// was nothing to cancel.
func TestACancelWhoseReactionFailsIsDone(t *testing.T) {
	t.Parallel()
	in, gh, repo := newIntake(t)
	in.Queue = cancellingQueue{}
	gh.Fail("POST", "/repos/acme/widgets/issues/comments/{id}/reactions", http.StatusBadGateway, 1)
	cancel := trigger
	cancel.Event, cancel.Command, cancel.CommentID = "issue_comment", tasks.CommandCancel, 42
	if err := in.Intake(context.Background(), cancel); err != nil {
		t.Fatalf("err = %v, want none: the task is cancelled", err)
	}
	if comments := gh.Comments(repo, 1); len(comments) != 0 {
		t.Fatalf("comments %+v", comments)
	}
}

// cancelledQueue has a live task on the issue, asked to stop at stopAsked
// (not asked when zero), or about to be by a cancel whose intake is
// waiting.
type cancelledQueue struct {
	handlers.Work
	stopAsked     time.Time
	cancelWaiting bool
}

func (q cancelledQueue) Live(context.Context, int64, int) (*tasks.Task, error) {
	return &tasks.Task{ID: "tstopping", Repo: "acme/widgets", Issue: 1, State: tasks.Running,
		CancelRequested: !q.stopAsked.IsZero(), UpdatedAt: q.stopAsked}, nil
}
func (q cancelledQueue) EarlierCancelWaiting(context.Context, tasks.Trigger, *tasks.Task) (bool, error) {
	return q.cancelWaiting, nil
}
func (cancelledQueue) ByDelivery(context.Context, string) (*tasks.Task, int, error) {
	return nil, 0, tasks.ErrNotFound
}

// A start waits for an attempt being cancelled to end, but not for ever:
// one whose bot died cancelling it stays live until the queue rescues it,
// and the start is told the issue is busy.
func TestAStartWaitsForAnAttemptBeingCancelledOnlyWhileItMayStillEnd(t *testing.T) {
	t.Parallel()
	in, gh, repo := newIntake(t)
	in.Queue = cancelledQueue{stopAsked: time.Now()}
	if err := in.Intake(context.Background(), trigger); !errors.Is(err, tasks.ErrEarlierWaiting) || len(gh.Comments(repo, 1)) != 0 {
		t.Fatalf("err = %v, comments %+v; want the start to wait, saying nothing", err, gh.Comments(repo, 1))
	}
	in.Queue = cancelledQueue{stopAsked: time.Now().Add(-time.Hour)}
	if err := in.Intake(context.Background(), trigger); err != nil {
		t.Fatal(err)
	}
	if comments := gh.Comments(repo, 1); len(comments) != 1 || !strings.Contains(comments[0].Body, "already working") {
		t.Fatalf("comments %+v, want the busy reply", comments)
	}
}

// A start that finds a task live, not yet asked to stop, waits for a
// cancel received before it and still being taken in, rather than be told
// the issue is busy with the task the cancel stops.
func TestAStartWaitsForACancelReceivedBeforeIt(t *testing.T) {
	t.Parallel()
	in, gh, repo := newIntake(t)
	in.Queue = cancelledQueue{cancelWaiting: true}
	if err := in.Intake(context.Background(), trigger); !errors.Is(err, tasks.ErrEarlierWaiting) || len(gh.Comments(repo, 1)) != 0 {
		t.Fatalf("err = %v, comments %+v; want the start to wait, saying nothing", err, gh.Comments(repo, 1))
	}
	in.Queue = cancelledQueue{}
	if err := in.Intake(context.Background(), trigger); err != nil {
		t.Fatal(err)
	}
	if comments := gh.Comments(repo, 1); len(comments) != 1 || !strings.Contains(comments[0].Body, "already working") {
		t.Fatalf("comments %+v, want the busy reply", comments)
	}
}

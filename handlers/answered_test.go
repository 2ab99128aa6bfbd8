package handlers_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/handlers"
	"github.com/oneshot-dev/oneshot/tasks"
)

// retriedQueue is a queue whose task's attempt 2, ended, was queued by
// queuedBy at queuedAt.
type retriedQueue struct {
	handlers.Work
	queuedBy string
	queuedAt time.Time
	retried  int
	// earlier is whether a start or retry received before the trigger
	// is still to be taken in.
	earlier bool
}

func (q *retriedQueue) task() *tasks.Task {
	return &tasks.Task{ID: "t1", Repo: "acme/widgets", RepoID: 1, InstallationID: 7, Issue: 1, Kind: tasks.KindIssue,
		Requester: "writer", Attempt: 2, State: tasks.Failed}
}
func (*retriedQueue) ByDelivery(context.Context, string) (*tasks.Task, int, error) {
	return nil, 0, tasks.ErrNotFound
}
func (q *retriedQueue) Latest(context.Context, int64, int) (*tasks.Task, error) { return q.task(), nil }
func (q *retriedQueue) History(context.Context, string) ([]tasks.Event, error) {
	return []tasks.Event{
		{Attempt: 1, State: tasks.Queued, Actor: "writer", At: q.queuedAt.Add(-time.Hour)},
		{Attempt: 1, State: tasks.Failed, At: q.queuedAt.Add(-time.Minute)},
		{Attempt: 2, State: tasks.Queued, Actor: q.queuedBy, At: q.queuedAt},
		// Handed back at a restart, and run again.
		{Attempt: 2, State: tasks.Running, At: q.queuedAt.Add(time.Second)},
		{Attempt: 2, State: tasks.Queued, At: q.queuedAt.Add(2 * time.Second)},
		{Attempt: 2, State: tasks.Failed, At: q.queuedAt.Add(time.Minute)},
	}, nil
}
func (*retriedQueue) Live(context.Context, int64, int) (*tasks.Task, error) {
	return nil, tasks.ErrNotFound
}
func (*retriedQueue) OverLimit(context.Context, int64, string, tasks.Limits) (*tasks.Limited, error) {
	return nil, nil
}
func (q *retriedQueue) EarlierStartWaiting(context.Context, tasks.Trigger) (bool, error) {
	return q.earlier, nil
}
func (q *retriedQueue) Retry(context.Context, string, tasks.Start) (*tasks.Task, error) {
	q.retried++
	next := q.task()
	next.Attempt, next.State = 3, tasks.Queued
	return next, nil
}

// A retry its person asked for twice (a Retry pressed twice, the second
// press taken in late) is answered by the attempt the first queued, even
// once that has ended: it does not run the same a third time. Another
// person's retry, or one after that attempt, runs.
func TestARetryAnsweredByAnAttemptItsPersonQueuedSinceQueuesNothing(t *testing.T) {
	t.Parallel()
	came := time.Now().Add(-time.Hour)
	retry := trigger
	retry.Event, retry.Command, retry.ReceivedAt = "issue_comment", tasks.CommandRetry, came
	for _, tc := range []struct {
		queuedBy string
		queuedAt time.Time
		want     int
	}{
		{"writer", came.Add(10 * time.Second), 0},
		{"someone-else", came.Add(10 * time.Second), 1},
		{"writer", came.Add(-10 * time.Second), 1},
	} {
		in, _, _ := newIntake(t)
		q := &retriedQueue{queuedBy: tc.queuedBy, queuedAt: tc.queuedAt}
		in.Queue = q
		if err := in.Intake(tasks.Retried(context.Background()), retry); err != nil {
			t.Fatal(err)
		}
		if q.retried != tc.want {
			t.Errorf("attempt 2 queued by %s %v after the retry came: %d retries, want %d", tc.queuedBy, tc.queuedAt.Sub(came), q.retried, tc.want)
		}
	}
}

// A Retry pressed twice is two intakes at once. The later waits for the
// earlier, making no check run meanwhile, and then finds the attempt the
// earlier queued: it answers with the reaction, not a second attempt, a
// skipped run or a reply that the issue is busy.
func TestARetryWaitsForARetryReceivedBeforeIt(t *testing.T) {
	t.Parallel()
	came := time.Now()
	press := trigger
	press.Event, press.Command, press.TaskID, press.RepoID, press.ReceivedAt = "check_run", tasks.CommandRetry, "t1", 1, came
	in, gh, repo := newIntake(t)
	q := &retriedQueue{earlier: true}
	in.Queue = &namedRetriedQueue{q}
	if err := in.Intake(context.Background(), press); !errors.Is(err, tasks.ErrEarlierWaiting) {
		t.Fatalf("err = %v, want the retry to wait", err)
	}
	if q.retried != 0 || len(gh.CheckRuns(repo)) != 0 || len(gh.Comments(repo, 1)) != 0 {
		t.Fatalf("while waiting: %d retries, %d check runs, comments %+v; want none", q.retried, len(gh.CheckRuns(repo)), gh.Comments(repo, 1))
	}
	// The earlier press queued attempt 2.
	q.earlier, q.queuedBy, q.queuedAt = false, "writer", came.Add(time.Second)
	if err := in.Intake(context.Background(), press); err != nil {
		t.Fatal(err)
	}
	if q.retried != 0 || len(gh.CheckRuns(repo)) != 0 || len(gh.Comments(repo, 1)) != 0 {
		t.Fatalf("%d retries, %d check runs, comments %+v; want none", q.retried, len(gh.CheckRuns(repo)), gh.Comments(repo, 1))
	}
}

// namedRetriedQueue is a retriedQueue that knows its task by the ID a
// button names.
type namedRetriedQueue struct{ *retriedQueue }

func (q *namedRetriedQueue) Get(context.Context, string) (*tasks.Task, error) { return q.task(), nil }

// TestAStartTriedAgainWhileItsActorsLaterTaskRunsIsAnsweredByIt: its
// person, seeing nothing happen while GitHub failed the start, asked again,
// and that task runs now. Told the issue is busy, they would be invited to
// cancel their own answer.
func TestAStartTriedAgainWhileItsActorsLaterTaskRunsIsAnsweredByIt(t *testing.T) {
	t.Parallel()
	came := time.Now().Add(-time.Hour)
	start := trigger
	start.ReceivedAt = came
	in, gh, repo := newIntake(t)
	later := &tasks.Task{ID: "tlater", Repo: "acme/widgets", Issue: 1, State: tasks.Running, Requester: "writer",
		CreatedAt: came.Add(20 * time.Minute)}
	q := &runningLaterQueue{askedAgainQueue{later: later}}
	in.Queue = q
	if err := in.Intake(tasks.Retried(context.Background()), start); err != nil {
		t.Fatal(err)
	}
	if q.created != 0 || len(gh.Comments(repo, 1)) != 0 {
		t.Fatalf("%d tasks created, comments %+v; want the reaction only", q.created, gh.Comments(repo, 1))
	}
}

// runningLaterQueue is an askedAgainQueue whose later task still runs.
type runningLaterQueue struct{ askedAgainQueue }

func (q *runningLaterQueue) Live(context.Context, int64, int) (*tasks.Task, error) {
	return q.later, nil
}
func (*runningLaterQueue) EarlierCancelWaiting(context.Context, tasks.Trigger, *tasks.Task) (bool, error) {
	return false, nil
}

package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/tasks"
)

// heldIntake holds every trigger's intake until the test releases it.
type heldIntake struct {
	arrived chan tasks.Trigger
	release chan struct{}
}

func (h *heldIntake) Intake(ctx context.Context, t tasks.Trigger) error {
	h.arrived <- t
	select {
	case <-h.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *heldIntake) GiveUp(context.Context, tasks.Trigger, error) {}

// heldQueue is a queue, not started, whose intakes wait for the test.
func heldQueue(t *testing.T, url string) (*testBundle, *heldIntake) {
	t.Helper()
	b := setup(t, url, time.Minute)
	held := &heldIntake{arrived: make(chan tasks.Trigger, 1), release: make(chan struct{})}
	b.queue = b.newQueueWithIntake(t, time.Minute, held)
	return b, held
}

// startBeingTakenIn starts a queue whose intakes wait for the test, and
// accepts a start (delivery d-start) on issue 7 of acme/widgets, whose
// intake is under way once it returns.
func startBeingTakenIn(t *testing.T, url string) (*testBundle, *heldIntake, tasks.Trigger) {
	t.Helper()
	b, held := heldQueue(t, url)
	start(t, b.queue)
	repo := "acme/widgets"
	if _, err := b.queue.Accept(context.Background(), tasks.Trigger{DeliveryID: "d-start", Event: "issue_comment",
		Command: tasks.CommandStart, Repo: repo, RepoID: repoID(repo), Issue: 7, Actor: "writer"}); err != nil {
		t.Fatal(err)
	}
	return b, held, <-held.arrived
}

// TestAStartBeingTakenInIsFoundByTheCancelAfterIt: what a cancel asks
// before it answers that there is nothing to cancel, on both databases.
func TestAStartBeingTakenInIsFoundByTheCancelAfterIt(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, url string) {
		b, held, started := startBeingTakenIn(t, url)
		ctx := context.Background()
		repo := started.Repo
		cancel := func(repo string, issue int, at time.Time) tasks.Trigger {
			return tasks.Trigger{DeliveryID: "d-cancel", Event: "issue_comment", Command: tasks.CommandCancel,
				Repo: repo, RepoID: repoID(repo), Issue: issue, Actor: "writer", ReceivedAt: at}
		}
		waiting := func(c tasks.Trigger) bool {
			t.Helper()
			ok, err := b.queue.EarlierStartWaiting(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		later := started.ReceivedAt.Add(time.Millisecond)
		if !waiting(cancel(repo, 7, later)) {
			t.Fatal("a cancel after the start does not find it")
		}
		if waiting(cancel(repo, 8, later)) || waiting(cancel("acme/gadgets", 7, later)) {
			t.Fatal("a cancel on another issue finds the start")
		}
		if waiting(cancel(repo, 7, started.ReceivedAt.Add(-time.Millisecond))) {
			t.Fatal("a cancel received before the start waits for it")
		}

		close(held.release)
		waitFor(t, 30*time.Second, "the start's intake to be done", func() bool { return !waiting(cancel(repo, 7, later)) })
	})
}

// A check run is made, with its Cancel button, before its task is
// recorded: a press then names a task not known yet, and waits for the
// start making it, on both databases.
func TestAButtonOfARunWhoseTaskIsNotRecordedYetFindsTheStartMakingIt(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, url string) {
		b, held, started := startBeingTakenIn(t, url)
		ctx := context.Background()
		repo := started.Repo
		button := func(taskID string) tasks.Trigger {
			return tasks.Trigger{DeliveryID: "d-button", Event: "check_run", Command: tasks.CommandCancel, Repo: repo,
				RepoID: repoID(repo), TaskID: taskID, CheckRunID: 5, Actor: "writer", ReceivedAt: started.ReceivedAt.Add(time.Millisecond)}
		}
		for name, want := range map[string]bool{tasks.IDFor("d-start"): true, tasks.IDFor("d-other"): false} {
			if got, err := b.queue.EarlierStartWaiting(ctx, button(name)); err != nil || got != want {
				t.Errorf("a button naming %s finds a start waiting: %v (%v), want %v", name, got, err, want)
			}
		}
		close(held.release)
	})
}

// A retry pressed on a task's check run is a trigger on the task's issue: a
// cancel commented there after it waits for it, on both databases.
func TestACancelOnTheIssueFindsARetryPressedOnItsRunBeforeIt(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, url string) {
		b, held := heldQueue(t, url)
		ctx := context.Background()

		repo := "acme/widgets"
		task := newTask(repo, 7)
		task.ID = tasks.IDFor(task.DeliveryID)
		if err := b.queue.Create(ctx, task, tasks.Limits{}); err != nil {
			t.Fatal(err)
		}
		start(t, b.queue)
		if _, err := b.queue.Accept(ctx, tasks.Trigger{DeliveryID: "d-retry", Event: "check_run", Command: tasks.CommandRetry,
			Repo: repo, RepoID: repoID(repo), TaskID: task.ID, CheckRunID: 5, Actor: "writer"}); err != nil {
			t.Fatal(err)
		}
		retry := <-held.arrived
		if retry.Issue != 7 {
			t.Errorf("the retry's trigger is on issue %d, want its task's, 7", retry.Issue)
		}
		cancel := tasks.Trigger{DeliveryID: "d-cancel", Event: "issue_comment", Command: tasks.CommandCancel,
			Repo: repo, RepoID: repoID(repo), Issue: 7, Actor: "writer", ReceivedAt: retry.ReceivedAt.Add(time.Millisecond)}
		if waiting, err := b.queue.EarlierStartWaiting(ctx, cancel); err != nil || !waiting {
			t.Errorf("the cancel finds the retry waiting: %v (%v), want true", waiting, err)
		}
		close(held.release)
	})
}

// A start that finds a task live on its issue waits for a cancel received
// before it, which is to stop that task, rather than be told the issue is
// busy, on both databases: by the issue, or by the task a button names.
func TestAStartFindsACancelReceivedBeforeItStillBeingTakenIn(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, url string) {
		b, held := heldQueue(t, url)
		ctx := context.Background()
		repo := "acme/widgets"
		live := newTask(repo, 7)
		live.ID = tasks.IDFor(live.DeliveryID)
		start(t, b.queue)
		for _, cancel := range []tasks.Trigger{
			{DeliveryID: "d-cancel", Event: "issue_comment", Command: tasks.CommandCancel, Repo: repo, RepoID: repoID(repo), Issue: 7, Actor: "writer"},
			{DeliveryID: "d-button", Event: "check_run", Command: tasks.CommandCancel, Repo: repo, RepoID: repoID(repo), TaskID: live.ID, CheckRunID: 5, Actor: "writer"},
		} {
			if _, err := b.queue.Accept(ctx, cancel); err != nil {
				t.Fatal(err)
			}
			taken := <-held.arrived
			startOn := func(issue int, at time.Time) tasks.Trigger {
				return tasks.Trigger{DeliveryID: "d-start", Event: "issue_comment", Command: tasks.CommandStart,
					Repo: repo, RepoID: repoID(repo), Issue: issue, Actor: "writer", ReceivedAt: at}
			}
			waiting := func(s tasks.Trigger, live *tasks.Task) bool {
				t.Helper()
				ok, err := b.queue.EarlierCancelWaiting(ctx, s, live)
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}
			later := taken.ReceivedAt.Add(time.Millisecond)
			if !waiting(startOn(7, later), live) {
				t.Errorf("%s: a start after the cancel does not find it", cancel.DeliveryID)
			}
			if waiting(startOn(7, taken.ReceivedAt.Add(-time.Millisecond)), live) {
				t.Errorf("%s: a start received before the cancel waits for it", cancel.DeliveryID)
			}
			other := newTask(repo, 8)
			other.ID = tasks.IDFor("d-other")
			if waiting(startOn(8, later), other) {
				t.Errorf("%s: a start on another issue waits for it", cancel.DeliveryID)
			}
			held.release <- struct{}{}
			waitFor(t, 30*time.Second, "the cancel's intake to be done", func() bool { return !waiting(startOn(7, later), live) })
		}
	})
}

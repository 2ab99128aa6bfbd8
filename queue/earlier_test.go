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

// TestAStartBeingTakenInIsFoundByTheCancelAfterIt: what a cancel asks
// before it answers that there is nothing to cancel, on both databases.
func TestAStartBeingTakenInIsFoundByTheCancelAfterIt(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, time.Minute)
		held := &heldIntake{arrived: make(chan tasks.Trigger, 1), release: make(chan struct{})}
		b.queue = b.newQueueWithIntake(t, time.Minute, held)
		start(t, b.queue)
		ctx := context.Background()

		repo := "acme/widgets"
		if _, err := b.queue.Accept(ctx, tasks.Trigger{DeliveryID: "d-start", Event: "issue_comment",
			Command: tasks.CommandStart, Repo: repo, RepoID: repoID(repo), Issue: 7, Actor: "writer"}); err != nil {
			t.Fatal(err)
		}
		started := <-held.arrived
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

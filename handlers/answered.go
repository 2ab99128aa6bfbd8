package handlers

import (
	"context"
	"errors"
	"strings"

	"github.com/oneshot-dev/oneshot/tasks"
)

// Whether what a trigger asks for was done already, by a task its person
// started, or an attempt they queued, after the trigger came: a trigger
// GitHub kept failing is tried again for hours, and its person, seeing
// nothing happen, may ask again meanwhile.

// startedSince returns the task a later trigger of t's actor started on
// t's issue after t came, asking the same, or nil. A start GitHub kept
// failing is tried again for hours; its person, seeing nothing happen, may
// ask again meanwhile, and the task that started, ended by now, was the
// answer to both. Someone else's task answers only its own person, and a
// request for something else (a label, then "/oneshot use the v2 API")
// only itself.
func (in *Intake) startedSince(ctx context.Context, t tasks.Trigger) (*tasks.Task, error) {
	if t.ReceivedAt.IsZero() {
		return nil, nil
	}
	latest, err := in.Queue.Latest(ctx, t.RepoID, t.Issue)
	switch {
	case errors.Is(err, tasks.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case answers(latest, t):
		return latest, nil
	}
	return nil, nil
}

// retriedSince says whether task's current attempt was queued by t's
// person after t came: a Retry pressed twice, or a retry GitHub kept
// failing and its person asked again meanwhile. That attempt, running or
// ended, answered both; a second would only run the same again.
func (in *Intake) retriedSince(ctx context.Context, t tasks.Trigger, task *tasks.Task) (bool, error) {
	if t.ReceivedAt.IsZero() || task.Attempt < 2 {
		return false, nil
	}
	history, err := in.Queue.History(ctx, task.ID)
	if err != nil {
		return false, err
	}
	// The first: a hand-back at a restart queues the attempt again, by
	// no one.
	for _, e := range history {
		if e.Attempt == task.Attempt && e.State == tasks.Queued {
			return e.At.After(t.ReceivedAt) && strings.EqualFold(e.Actor, t.Actor), nil
		}
	}
	return false, nil
}

// answers says whether task, made after t came, is what t asks for: the
// answer to t too, running or ended.
func answers(task *tasks.Task, t tasks.Trigger) bool {
	return !t.ReceivedAt.IsZero() && task.CreatedAt.After(t.ReceivedAt) && asks(task, t)
}

// asks says whether task is what t asks for: its person's, with its
// instructions. Another person's task, or one asking something else,
// answers only its own trigger.
func asks(task *tasks.Task, t tasks.Trigger) bool {
	return strings.EqualFold(task.Requester, t.Actor) && task.Instructions == t.Instructions
}

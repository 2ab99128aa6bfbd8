package pipeline

import (
	"context"
	"testing"

	"github.com/oneshot-dev/oneshot/tasks"
)

// shipping is an attempt in its ship step.
func shipping() *run {
	return &run{report: Report{Steps: []Step{{Name: "setup"}, {Name: "ship"}}}, current: 1}
}

func TestAPublishedChangeOutlivesWhateverEndsTheAttemptAfterIt(t *testing.T) {
	t.Parallel()
	for _, cause := range []error{tasks.ErrCancelled, tasks.ErrDeadline, tasks.ErrShutdown} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		r := shipping()
		r.report.Published = Published{URL: "https://github.example/acme/uuid/pull/2", Number: 2}
		if got := r.ending(ctx, r.success()); got.State != tasks.Succeeded || got.Reason != "Opened pull request #2" {
			t.Errorf("%v after the pull request: %+v", cause, got)
		}
	}
}

func TestAnAttemptEndedBeforePublishingSaysWhatEndedIt(t *testing.T) {
	t.Parallel()
	for cause, want := range map[error]tasks.State{
		tasks.ErrCancelled: tasks.Cancelled,
		tasks.ErrDeadline:  tasks.TimedOut,
		tasks.ErrShutdown:  tasks.Queued,
	} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		got := shipping().ending(ctx, Outcome{State: tasks.Failed, Reason: "publish: context canceled"})
		if got.State != want {
			t.Errorf("%v before the pull request: %+v, want %s", cause, got, want)
		}
	}
}

func TestAnAttemptHandedBackSaysItWillRunAgainNotThatItStopped(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(tasks.ErrShutdown)
	r := shipping()
	out := r.ending(ctx, Outcome{State: tasks.Failed, Reason: "interrupted"})
	r.report.Final = &out
	if got := r.report.Title(); got != "Back in the queue: the bot is restarting; this attempt will run again from the start" {
		t.Fatalf("title %q", got)
	}
}

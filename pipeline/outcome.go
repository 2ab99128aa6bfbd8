package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/oneshot-dev/oneshot/contextgather"
	"github.com/oneshot-dev/oneshot/tasks"
)

// How an attempt ends: the outcome its steps reached, or what ended its
// context first, or a panic, shown on the report before it goes on.

// showPanic, deferred, shows the attempt stopped by a panic before the
// panic goes on to the queue, which logs it with its stack and ends the
// attempt. A panic after the change was published does not undo it: the
// attempt succeeded, and its report links the pull request.
func (r *run) showPanic(ctx context.Context) {
	v := recover()
	if v == nil {
		return
	}
	if f := r.report.Final; f != nil {
		// The final report itself panicked: made again, it would post a
		// second final comment. The end it was showing stands, which the
		// queue records and shows in words of its own; but a hand-back
		// would panic again, and the queue ends it as failed.
		if f.State.Final() {
			panic(&tasks.PanicAfterEnd{State: f.State, Detail: r.mask(f.Reason), Value: v})
		}
		panic(v)
	}
	if r.report.Published.URL != "" {
		out := r.success()
		r.finish(ctx, out)
		panic(&tasks.PanicAfterEnd{State: out.State, Detail: r.mask(out.Reason), Value: v})
	}
	r.finish(ctx, Outcome{State: tasks.Failed, Reason: "an internal error in the bot stopped it during " + r.report.Steps[r.current].Name})
	panic(v)
}

// finish shows the attempt's end, even when ctx is over.
func (r *run) finish(ctx context.Context, out Outcome) {
	r.report.Final = &out
	timeout := finishTimeout
	if out.State == tasks.Queued {
		timeout = handBackTimeout
	}
	finishCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	r.reporter.Finish(finishCtx, r.shown())
}

// stopError ends the attempt with an outcome the report already explains.
type stopError struct{ outcome Outcome }

func (e *stopError) Error() string {
	if e.outcome.Details == "" {
		return e.outcome.Reason
	}
	return e.outcome.Reason + ":\n" + e.outcome.Details
}

// errorOutcome is how a step that returned err ends the attempt. Reason is
// one line; an error of several, such as git's, goes on in Details. Both
// are shown as code: an error can quote what the sandbox wrote (git names
// what it could not read), which as Markdown could link or mention anyone.
func errorOutcome(step string, err error) Outcome {
	first, rest, _ := strings.Cut(strings.TrimSpace(err.Error()), "\n")
	out := Outcome{State: tasks.Failed, Reason: step + " failed: " + contextgather.CodeSpan(first)}
	if rest = strings.TrimSpace(rest); rest != "" {
		out.Details = contextgather.CodeBlock(rest)
	}
	return out
}

// fail stops the attempt as failed.
func fail(reason, details string) error {
	return &stopError{Outcome{State: tasks.Failed, Reason: reason, Details: details}}
}

// ending is how an attempt ended: out, unless its context ended first, and
// then how it was interrupted. A published change stays the outcome
// whatever ended the context after it: the pull request is there, and the
// task's report must link it. So does a pushed one's: its pull request is
// opened whatever ends the context (see Forge.Publish), and why it was not
// is what people need, not that a cancel or the deadline came meanwhile.
func (r *run) ending(ctx context.Context, out Outcome) Outcome {
	if ctx.Err() == nil || r.report.Published.URL != "" || r.pushed {
		return out
	}
	return r.interrupted(ctx)
}

// interrupted says how an attempt whose context ended stopped.
func (r *run) interrupted(ctx context.Context) Outcome {
	step := r.report.Steps[r.current].Name
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, tasks.ErrCancelled):
		return Outcome{State: tasks.Cancelled, Reason: "cancelled during " + step}
	case errors.Is(cause, tasks.ErrDeadline):
		return Outcome{State: tasks.TimedOut, Reason: cause.Error() + " during " + step}
	case errors.Is(cause, tasks.ErrTakenOver):
		return Outcome{State: tasks.Queued, Reason: "another process of the bot took this attempt over, and runs it"}
	case errors.Is(cause, tasks.ErrShutdown):
		return Outcome{State: tasks.Queued, Reason: "the bot is restarting; this attempt will run again from the start"}
	default:
		return Outcome{State: tasks.Failed, Reason: fmt.Sprintf("stopped during %s: %v", step, cause)}
	}
}

// success is the outcome of an attempt that shipped.
func (r *run) success() Outcome {
	p := r.report.Published
	switch {
	case p.Number == 0:
		return Outcome{State: tasks.Succeeded, Reason: "Made " + p.URL}
	case p.Updated:
		return Outcome{State: tasks.Succeeded, Reason: fmt.Sprintf("Updated pull request #%d", p.Number)}
	default:
		return Outcome{State: tasks.Succeeded, Reason: fmt.Sprintf("Opened pull request #%d", p.Number)}
	}
}

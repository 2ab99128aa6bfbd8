package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// Command says what a trigger asks for.
type Command string

// The commands.
const (
	CommandStart    Command = "start"     // the trigger label, or "/oneshot <instructions>" on an issue
	CommandRetry    Command = "retry"     // "/oneshot retry", or the check run's Retry button
	CommandRerun    Command = "rerun"     // the check run's re-run button
	CommandCancel   Command = "cancel"    // "/oneshot cancel", or the check run's Cancel button
	CommandHelp     Command = "help"      // "/oneshot help"
	CommandFollowUp Command = "follow_up" // "/oneshot <feedback>" on a pull request oneshot opened
)

// Trigger is something a person did on GitHub that may start, retry or stop
// a task. The webhook handlers make it from a payload; the intake decides,
// later and off the webhook's clock, what it becomes.
type Trigger struct {
	DeliveryID     string  `json:"delivery_id"`
	Event          string  `json:"event"`
	Command        Command `json:"command"`
	Repo           string  `json:"repo"`
	RepoID         int64   `json:"repo_id"`
	InstallationID int64   `json:"installation_id"`
	// Issue is the issue or pull request number; 0 for check run buttons,
	// which name the task instead.
	Issue       int  `json:"issue,omitempty"`
	PullRequest bool `json:"pull_request,omitempty"`
	// Actor is who labelled, commented or pressed the button.
	Actor string `json:"actor"`
	// CommentID is the triggering comment, which gets the reaction.
	CommentID    int64  `json:"comment_id,omitempty"`
	Instructions string `json:"instructions,omitempty"`
	// TaskID comes from our check run's external_id.
	TaskID     string `json:"task_id,omitempty"`
	CheckRunID int64  `json:"check_run_id,omitempty"`
}

// Kind names the River job.
func (Trigger) Kind() string { return "oneshot_intake" }

// InsertOpts puts triggers on the intake queue.
func (Trigger) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueIntake, MaxAttempts: intakeMaxAttempts}
}

type intakeWorker struct {
	river.WorkerDefaults[Trigger]
	q *Queue
}

func (w *intakeWorker) Work(ctx context.Context, job *river.Job[Trigger]) error {
	return w.q.cfg.Intake.Intake(ctx, job.Args)
}

func (w *intakeWorker) Timeout(*river.Job[Trigger]) time.Duration { return intakeTimeout }

// attemptArgs is the River job of one attempt. Unique by task and attempt,
// so an attempt is never queued twice.
type attemptArgs struct {
	TaskID  string `json:"task_id" river:"unique"`
	Attempt int    `json:"attempt" river:"unique"`
}

func (attemptArgs) Kind() string { return "oneshot_attempt" }

func (attemptArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueTasks, MaxAttempts: taskMaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type attemptWorker struct {
	river.WorkerDefaults[attemptArgs]
	q *Queue
}

func (w *attemptWorker) Timeout(*river.Job[attemptArgs]) time.Duration {
	return w.q.cfg.TaskTimeout + handBackGrace
}

func (w *attemptWorker) Work(ctx context.Context, job *river.Job[attemptArgs]) error {
	q := w.q
	t, err := q.db.Get(ctx, job.Args.TaskID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	log := q.cfg.Logger.With().Str("task_id", t.ID).Str("repo", t.Repo).Int("issue", t.Issue).
		Str("delivery_id", t.DeliveryID).Int("attempt", job.Args.Attempt).Logger()
	if t.Attempt != job.Args.Attempt || t.State.Final() {
		log.Debug().Str("state", string(t.State)).Msg("Skipping an attempt that is no longer current.")
		return nil
	}
	// Running here means River rescued the job from a process that died.
	detail := "started"
	if t.State == Running {
		detail = "resumed after the bot restarted"
	}
	if err := q.conclude(ctx, t, t.State, Running, detail); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil // cancelled while it waited
		}
		return err
	}
	log.Info().Msg("Attempt started.")

	state, detail := q.runAttempt(ctx, t)
	// Record the end even when ctx is over: that is when it matters most.
	end := context.WithoutCancel(ctx)
	if err := q.conclude(end, t, Running, state, detail); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	log.Info().Str("state", string(state)).Str("detail", detail).Msg("Attempt ended.")
	if state == Queued {
		// Back in the queue at once, without using up an attempt.
		return river.JobSnooze(0)
	}
	return nil
}

// runAttempt runs the runner under the attempt's deadline and cancel, and
// says how the attempt ended. Queued means it was handed back at shutdown.
func (q *Queue) runAttempt(ctx context.Context, t *Task) (State, string) {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	runCtx, stop := context.WithTimeoutCause(runCtx, q.cfg.TaskTimeout, errTimedOut)
	defer stop()

	q.mu.Lock()
	q.running[t.ID] = cancel
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		delete(q.running, t.ID)
		q.mu.Unlock()
	}()
	// Shutdown may have begun just before this attempt was tracked.
	if q.stopping.Load() {
		cancel(errShutdown)
	}
	stopWatch := q.watchCancel(runCtx, t.ID, cancel)
	state, detail, err := q.cfg.Runner.Run(runCtx, t)
	stopWatch()

	switch cause := context.Cause(runCtx); {
	case errors.Is(cause, errShutdown) || (ctx.Err() != nil && q.stopping.Load()):
		return Queued, "handed back to the queue: the bot is shutting down"
	case errors.Is(cause, errCancelRequested):
		return Cancelled, "cancelled on request"
	case errors.Is(cause, errTimedOut), ctx.Err() != nil:
		return TimedOut, fmt.Sprintf("the task deadline of %v passed", q.cfg.TaskTimeout)
	case err != nil:
		return Failed, err.Error()
	case state == Succeeded || state == Failed:
		return state, detail
	default:
		return Failed, fmt.Sprintf("the attempt ended in state %q", state)
	}
}

// watchCancel polls for a cancel requested by any process, since the one
// that received the request may not be the one running the attempt. The
// returned function stops the watch and waits for it.
func (q *Queue) watchCancel(ctx context.Context, id string, cancel context.CancelCauseFunc) (stop func()) {
	ctx, stopCtx := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(cancelPollInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if requested, err := q.db.cancelRequested(ctx, id); err == nil && requested {
					cancel(errCancelRequested)
					return
				}
			}
		}
	}()
	return func() {
		stopCtx()
		<-done
	}
}

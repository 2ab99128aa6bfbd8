package queue

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/oneshot-dev/oneshot/tasks"
)

// How a write the notifier owes is tried again: after resendWait, then
// twice as long each time up to resendMaxWait, for about two hours in
// all, whatever restarts come between.
const (
	resendWait        = 10 * time.Second
	resendMaxWait     = 5 * time.Minute
	resendMaxAttempts = 30
	resendWorkers     = 2
)

// resendArgs is the River job of a write the notifier owes: an attempt's
// end that GitHub did not take. Unique by task and attempt: an attempt
// ends once.
type resendArgs struct {
	TaskID  string `json:"task_id" river:"unique"`
	Attempt int    `json:"attempt" river:"unique"`
	Owed    []byte `json:"owed"` // as the notifier wrote it, whatever it holds
}

func (resendArgs) Kind() string { return "oneshot_resend" }

func (resendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueResend, MaxAttempts: resendMaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type resendWorker struct {
	river.WorkerDefaults[resendArgs]
	q *Queue
}

func (w *resendWorker) Work(ctx context.Context, job *river.Job[resendArgs]) error {
	t, err := w.q.DB.Get(ctx, job.Args.TaskID)
	if errors.Is(err, tasks.ErrNotFound) {
		return nil // the database no longer has it: nothing to show
	}
	if err != nil {
		return err
	}
	err = w.q.cfg.Notifier.Resend(ctx, t, job.Args.Owed)
	if err != nil && job.Attempt >= job.MaxAttempts {
		w.q.cfg.Logger.Error().Err(err).Str("task_id", t.ID).Int("attempt", job.Args.Attempt).
			Msg("Gave up showing how the attempt ended: GitHub did not take it.")
	}
	return err
}

func (w *resendWorker) NextRetry(job *river.Job[resendArgs]) time.Time {
	return time.Now().Add(w.q.resendAfter(job.Attempt + 1))
}

func (w *resendWorker) Timeout(*river.Job[resendArgs]) time.Duration { return intakeTimeout }

// resendAfter is the wait before an owed write's try, the first being 1.
func (q *Queue) resendAfter(try int) time.Duration {
	wait := cmp.Or(q.cfg.ResendWait, resendWait)
	for range try - 1 {
		wait = min(2*wait, resendMaxWait)
	}
	return wait
}

// owe keeps a write the notifier could not make, to be tried again. It is
// the last chance to show how an attempt ended, the attempt being over:
// like recordEnd, it tries for a while when the database fails.
func (q *Queue) owe(ctx context.Context, t *tasks.Task, owed []byte) {
	err := retryFor(context.WithoutCancel(ctx), recordEndFor, func(ctx context.Context) error {
		_, err := q.river.Insert(ctx, resendArgs{TaskID: t.ID, Attempt: t.Attempt, Owed: owed},
			&river.InsertOpts{ScheduledAt: time.Now().Add(q.resendAfter(1))})
		return err
	}, func(error) bool { return true })
	if err != nil {
		q.cfg.Logger.Error().Err(err).Str("task_id", t.ID).Int("attempt", t.Attempt).
			Msg("Could not keep the attempt's end to show it again; its check run may stay in progress.")
	}
}

package queue

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

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
	return w.q.showEnd(ctx, job.JobRow, job.Args.TaskID, job.Args.Attempt, func(t *tasks.Task) error {
		return w.q.cfg.Notifier.Resend(ctx, t, job.Args.Owed)
	})
}

// showEnd is the work of a job that shows an attempt's end: show, with
// the task as the database has it now, logged when the job's last try
// fails too.
func (q *Queue) showEnd(ctx context.Context, job *rivertype.JobRow, taskID string, attempt int, show func(*tasks.Task) error) error {
	t, err := q.DB.Get(ctx, taskID)
	if errors.Is(err, tasks.ErrNotFound) {
		return nil // the database no longer has it: nothing to show
	}
	if err != nil {
		return err
	}
	err = show(t)
	if err != nil && job.Attempt >= job.MaxAttempts {
		q.cfg.Logger.Error().Err(err).Str("task_id", t.ID).Int("attempt", attempt).Str("job", job.Kind).
			Msg("Gave up showing how the attempt ended: GitHub kept failing.")
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

// confirmWait is how long after an attempt's end the queue checks that it
// shows: longer than showing it and keeping what GitHub did not take
// (recordEndFor) take, so that in the usual case the check finds it shown.
const confirmWait = 10 * time.Minute

// confirmArgs is the River job that checks an attempt's end shows on its
// check run (see tasks.Notifier.Confirm). It is inserted in the
// transaction that records the end, so that a process that dies before
// the end shows, or before it keeps the write GitHub did not take, still
// leaves it to be shown: without it, the check run would show the task
// running for ever. Unique by task and attempt: an attempt ends once.
type confirmArgs struct {
	TaskID     string      `json:"task_id" river:"unique"`
	Attempt    int         `json:"attempt" river:"unique"`
	CheckRunID int64       `json:"check_run_id"`
	End        tasks.Event `json:"end"`
}

func (confirmArgs) Kind() string { return "oneshot_confirm_end" }

func (confirmArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueResend, MaxAttempts: resendMaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// confirmLater inserts, in tx, the check that e shows on t's check run.
func (q *Queue) confirmLater(ctx context.Context, tx *sql.Tx, t *tasks.Task, e tasks.Event) error {
	_, err := q.river.InsertTx(ctx, tx, confirmArgs{TaskID: t.ID, Attempt: t.Attempt, CheckRunID: t.CheckRunID, End: e},
		&river.InsertOpts{ScheduledAt: time.Now().Add(cmp.Or(q.cfg.ConfirmWait, confirmWait))})
	if err != nil {
		return fmt.Errorf("queue the check that attempt %d of %s shows its end: %w", t.Attempt, t.ID, err)
	}
	return nil
}

type confirmWorker struct {
	river.WorkerDefaults[confirmArgs]
	q *Queue
}

func (w *confirmWorker) Work(ctx context.Context, job *river.Job[confirmArgs]) error {
	return w.q.showEnd(ctx, job.JobRow, job.Args.TaskID, job.Args.Attempt, func(t *tasks.Task) error {
		return w.q.cfg.Notifier.Confirm(ctx, t, job.Args.CheckRunID, job.Args.End)
	})
}

func (w *confirmWorker) NextRetry(job *river.Job[confirmArgs]) time.Time {
	return time.Now().Add(w.q.resendAfter(job.Attempt + 1))
}

func (w *confirmWorker) Timeout(*river.Job[confirmArgs]) time.Duration { return intakeTimeout }

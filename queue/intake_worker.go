package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/riverqueue/river"

	"github.com/oneshot-dev/oneshot/tasks"
)

// intakeArgs is the River job of one trigger. Its JSON is the trigger's.
type intakeArgs struct{ tasks.Trigger }

func (intakeArgs) Kind() string { return "oneshot_intake" }

func (a intakeArgs) InsertOpts() river.InsertOpts {
	opts := river.InsertOpts{Queue: QueueIntake, MaxAttempts: intakeMaxAttempts}
	if a.Issue != 0 {
		opts.Tags = append(opts.Tags, issueTag(a.RepoID, a.Issue))
	}
	switch {
	case a.TaskID != "":
		opts.Tags = append(opts.Tags, taskTag(a.TaskID))
	case a.Command == tasks.CommandStart || a.Command == tasks.CommandFollowUp:
		// The task it makes, whose check run's buttons work before it is.
		opts.Tags = append(opts.Tags, taskTag(tasks.IDFor(a.DeliveryID)))
	}
	return opts
}

// issueTag tags the intake of a trigger on an issue or pull request, so
// that EarlierStartWaiting finds the intakes of one issue. A button's
// trigger is on the issue of the task it names, when that is known as it
// is queued (see issueOfTask).
func issueTag(repoID int64, issue int) string {
	return fmt.Sprintf("issue_%d_%d", repoID, issue)
}

// taskTag tags the intake of a trigger that names a task, or makes one, so
// that EarlierStartWaiting finds the intakes of one task.
func taskTag(taskID string) string { return "task_" + taskID }

type intakeWorker struct {
	river.WorkerDefaults[intakeArgs]
	q *Queue
}

func (w *intakeWorker) Work(ctx context.Context, job *river.Job[intakeArgs]) error {
	// A try cut short by a shutdown counts as none, but did what it did
	// before it was: every process that took the job is on its list.
	if job.Attempt > 1 || len(job.AttemptedBy) > 1 {
		ctx = tasks.Retried(ctx)
	}
	if job.Attempt > intakeMaxAttempts {
		// Made ready once more after a process died on the last try (see
		// readyRunning): not tried again, but answered.
		w.q.cfg.Logger.Error().Str("delivery_id", job.Args.DeliveryID).Str("repo", job.Args.Repo).Int("issue", job.Args.Issue).
			Msg("The bot stopped during an intake's last try; telling whoever asked.")
		w.giveUpUnlessQueued(ctx, job, errIntakeStopped)
		return river.JobCancel(errIntakeStopped)
	}
	err := w.q.intake(ctx, job)
	if err == nil {
		return nil
	}
	if errors.Is(err, tasks.ErrEarlierWaiting) {
		// Not a failure: it uses up no try, however long the earlier
		// intake takes (GitHub may fail it for hours).
		return river.JobSnooze(earlierWait(job.Metadata))
	}
	log := w.q.cfg.Logger.With().Err(err).Str("delivery_id", job.Args.DeliveryID).Str("repo", job.Args.Repo).
		Int("issue", job.Args.Issue).Int("try", job.Attempt).Int("of", job.MaxAttempts).Logger()
	if errors.Is(err, errIntakePanicked) {
		// It would panic again at every try, for hours, while whoever
		// asked waits on nothing.
		w.giveUpUnlessQueued(ctx, job, err)
		return river.JobCancel(err)
	}
	if job.Attempt < job.MaxAttempts {
		log.Warn().Msg("Intake failed; River will try it again later.")
		return err
	}
	if w.q.stopping.Load() && errors.Is(err, context.Canceled) {
		// Cut short by the shutdown, which River takes for no try: the
		// next process tries it again.
		log.Info().Msg("Intake stopped by the shutdown; the next start tries it again.")
		return err
	}
	// The last try: whoever asked must not be left waiting on nothing.
	log.Error().Msg("Intake failed for the last time; telling whoever asked.")
	w.q.cfg.Intake.GiveUp(ctx, job.Args.Trigger, err)
	return err
}

// How an intake ends that cannot be tried again.
var (
	errIntakePanicked = errors.New("the intake stopped on an internal error in the bot")
	errIntakeStopped  = errors.New("the bot stopped during the intake's last try")
)

// giveUpUnlessQueued tells whoever asked that their trigger was not taken,
// unless the intake queued an attempt for it before it stopped, which
// runs: told nothing runs, they would ask again.
func (w *intakeWorker) giveUpUnlessQueued(ctx context.Context, job *river.Job[intakeArgs], cause error) {
	if _, _, err := w.q.DB.ByDelivery(ctx, job.Args.DeliveryID); err != nil {
		w.q.cfg.Intake.GiveUp(ctx, job.Args.Trigger, cause)
	}
}

// intake takes a trigger in, turning a panic into errIntakePanicked: River
// would take it for a failed try.
func (q *Queue) intake(ctx context.Context, job *river.Job[intakeArgs]) (err error) {
	defer func() {
		if v := recover(); v != nil {
			q.cfg.Logger.Error().Str("delivery_id", job.Args.DeliveryID).Str("panic", fmt.Sprint(v)).Str("stack", string(debug.Stack())).
				Msg("The intake panicked; whoever asked is told, and it is not tried again.")
			err = errIntakePanicked
		}
	}()
	return q.cfg.Intake.Intake(ctx, job.Args.Trigger)
}

// earlierWait is how long an intake waits for the earlier ones on its
// issue before it looks again: a second at first, as an intake is quick,
// and twice as long each time after, up to a minute, as one GitHub fails
// goes on for hours. River counts the times it waited in the job's
// metadata.
func earlierWait(metadata []byte) time.Duration {
	var waited struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(metadata, &waited) // none counted: the first wait
	return min(time.Second<<min(waited.Snoozes, 6), time.Minute)
}

func (w *intakeWorker) Timeout(*river.Job[intakeArgs]) time.Duration { return intakeTimeout }

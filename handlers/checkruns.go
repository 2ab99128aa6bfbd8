package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/tasks"
)

// The check runs of attempts: made queued before the attempt is recorded,
// and closed as skipped when it never will be.

// overtaken handles a start that met a limit only as it was recorded:
// other triggers started meanwhile. Its check run is closed as skipped.
func (in *Intake) overtaken(ctx context.Context, repo *githubapi.Repo, t tasks.Trigger, checkRunID int64, over *tasks.Limited) error {
	skipCheckRun(ctx, repo, checkRunID, skipOf(t, "A rate limit was met as this attempt was about to be queued."))
	return in.reply(ctx, repo, t, in.limitReply(t, over))
}

func (in *Intake) queueCheckRun(ctx context.Context, repo *githubapi.Repo, t tasks.Trigger, taskID string, attempt int) (int64, string, error) {
	_, sha, err := repo.DefaultBranchHead(ctx)
	if err != nil {
		return 0, "", err
	}
	run := githubapi.QueuedRun{TaskID: taskID, Attempt: attempt, DeliveryID: t.DeliveryID, DetailsURL: githubapi.TaskURL(in.PublicURL, taskID)}
	// An earlier try may have made the run and lost GitHub's answer.
	if tasks.IsRetried(ctx) {
		if id := repo.FindCheckRun(ctx, sha, run); id != 0 {
			return id, sha, nil
		}
	}
	id, err := repo.QueueCheckRun(ctx, sha, run)
	return id, sha, err
}

// unqueued closes the check run of an attempt the queue did not take, so
// that it does not wait as queued forever; the intake's next try makes
// another. It returns err. A commit can succeed and its answer be lost
// (the connection dropped, the intake's time ran out): an attempt the
// queue holds after all keeps its run, and the intake is done.
func (in *Intake) unqueued(ctx context.Context, repo *githubapi.Repo, t tasks.Trigger, checkRunID int64, err error) error {
	task, lookErr := in.recorded(ctx, t)
	switch {
	case lookErr == nil:
		zerolog.Ctx(ctx).Warn().Err(err).Str("task_id", task.ID).Msg("The queue answered with an error, yet holds the attempt: it stands.")
		return nil
	case errors.Is(lookErr, tasks.ErrNotFound):
		// The intake's next try makes another run: this one offers nothing.
		skipCheckRun(ctx, repo, checkRunID, githubapi.Skip{Why: "oneshot could not record this attempt. It tries again with a check run of its own, or says on the issue that it gave up."})
		return err
	}
	// Whether the attempt was recorded is not known. Skipped, its run
	// would show an attempt that runs as skipped throughout; left queued,
	// it is the attempt's if it was, and the next try finds it again (see
	// queueCheckRun) if it was not.
	zerolog.Ctx(ctx).Warn().Err(lookErr).Int64("check_run_id", checkRunID).Msg("Could not tell whether the queue holds the attempt; its check run is left queued for the intake's next try.")
	return err
}

// recorded looks up the attempt t's delivery queued, a few times while the
// queue cannot answer: an error at a commit often comes of a moment's
// trouble, which the first look would meet too.
func (in *Intake) recorded(ctx context.Context, t tasks.Trigger) (*tasks.Task, error) {
	look, cancel := context.WithTimeout(context.WithoutCancel(ctx), skipTimeout)
	defer cancel()
	wait := skipRetry
	for tries := 1; ; tries++ {
		task, _, err := in.Queue.ByDelivery(look, t.DeliveryID)
		if err == nil || errors.Is(err, tasks.ErrNotFound) || tries == recordedLooks {
			return task, err
		}
		select {
		case <-look.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// recordedLooks bounds recorded's looks: with skipRetry's waits between,
// three take about three seconds.
const recordedLooks = 3

// closeStrayRun closes the queued check run an earlier try of t's intake
// made and left, when t ends with no attempt recorded: that try was
// killed, or could not tell whether the queue took the attempt, after
// making it, and a later one went another way (the issue busy by then, a
// limit met, the intake given up on). The run is looked for on the
// default branch's head, where it was made; one made on a head that has
// moved on since is not found.
func (in *Intake) closeStrayRun(ctx context.Context, t tasks.Trigger, why string) {
	if !t.Command.Starts() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), skipTimeout)
	defer cancel()
	if _, _, err := in.Queue.ByDelivery(ctx, t.DeliveryID); !errors.Is(err, tasks.ErrNotFound) {
		return // the attempt holds its run, or the queue cannot say
	}
	repo, err := githubapi.ForRepo(in.Clients, t.InstallationID, t.Repo)
	if err != nil {
		return
	}
	_, sha, err := repo.DefaultBranchHead(ctx)
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("Could not look for a check run an earlier try of the intake left queued.")
		return
	}
	if id := repo.FindDeliveryRun(ctx, sha, t.DeliveryID); id != 0 {
		zerolog.Ctx(ctx).Info().Int64("check_run_id", id).Msg("Closing the check run an earlier try of the intake left queued.")
		skipCheckRun(ctx, repo, id, skipOf(t, why))
	}
}

// skipCheckRun closes a check run whose attempt will never run, whatever
// comes next: a retried intake would not find it again, and it would wait
// as queued for ever.
func skipCheckRun(ctx context.Context, repo *githubapi.Repo, checkRunID int64, skip githubapi.Skip) {
	writeCheckRun(ctx, checkRunID, "Could not close a check run that will never run.", func(ctx context.Context) error {
		return repo.SkipCheckRun(ctx, checkRunID, skip)
	})
}

// writeCheckRun makes a write to a check run that nothing later makes
// again: it is tried again while GitHub fails for now, for up to
// skipTimeout, and goes on after ctx ends (the intake's own time may be
// what ran out). It reports whether GitHub took it; a failure is logged
// with failed.
func writeCheckRun(ctx context.Context, checkRunID int64, failed string, write func(context.Context) error) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), skipTimeout)
	defer cancel()
	if err := githubapi.UntilTaken(ctx, skipRetry, func() error { return write(ctx) }); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Int64("check_run_id", checkRunID).Msg(failed)
		return false
	}
	return true
}

// skipOf is how t's check run, skipped for why, may run again: as the
// start it was, with its instructions, on its issue, whose task was not
// made; as the next attempt of the task a retry named. A follow-up's,
// whose feedback it does not hold, does not.
func skipOf(t tasks.Trigger, why string) githubapi.Skip {
	switch t.Command {
	case tasks.CommandStart:
		return githubapi.Skip{Why: why, Retry: true, StartOn: t.Issue, Digest: t.IssueDigest, Instructions: t.Instructions}
	case tasks.CommandRetry, tasks.CommandRerun:
		return githubapi.Skip{Why: why, Retry: true}
	default:
		return githubapi.Skip{Why: why}
	}
}

// skipTimeout bounds closing a check run after its intake failed;
// skipRetry is the first wait before it is tried again.
const (
	skipTimeout = 30 * time.Second
	skipRetry   = time.Second
)

// lostRace handles a trigger that lost to another for the same branch
// between the check and the insert: its check run is closed as skipped.
//
// The comments of one review arrive at once, and race so: the one that
// lost finds its feedback in the winner's follow-up (see holds), and is
// acknowledged rather than told the issue is busy.
func (in *Intake) lostRace(ctx context.Context, repo *githubapi.Repo, t tasks.Trigger, checkRunID int64, branch int) error {
	skipCheckRun(ctx, repo, checkRunID, skipOf(t, "Another trigger on this issue or its pull request started a task first."))
	live, err := in.live(ctx, t, branch)
	if errors.Is(err, tasks.ErrNotFound) {
		// The winner has ended meanwhile. Asked by the same person for the
		// same (a label and "/oneshot" at once), it answered this trigger
		// too, as the skipped run says: tried again, the trigger would
		// start a second task. Another request is tried again, to run.
		winner, lookErr := in.Queue.Latest(ctx, t.RepoID, t.Issue)
		if lookErr == nil && asks(winner, t) {
			zerolog.Ctx(ctx).Info().Str("task_id", winner.ID).Msg("The task that won the race for the issue, asked the same, has ended already; this trigger starts nothing.")
			return nil
		}
		return fmt.Errorf("the task that won the race for %s#%d has ended; the trigger is taken in again: %w", t.Repo, t.Issue, err)
	}
	if err != nil {
		return err
	}
	return in.replyBusy(ctx, repo, t, live)
}

// cannotRunAgain answers a re-run or a Retry of a check run whose task
// this bot has no record of (a start or follow-up skipped before its task
// was made, or a database begun afresh), on the run itself: GitHub
// offers every run's re-run, and one that did nothing would look lost.
func (in *Intake) cannotRunAgain(ctx context.Context, repo *githubapi.Repo, t tasks.Trigger) error {
	if t.Command != tasks.CommandRetry && t.Command != tasks.CommandRerun {
		return nil
	}
	note := fmt.Sprintf("oneshot cannot run this again: it has no record of the task this check run was for. To start one, comment `%s <what to do>` on its issue or pull request.", in.Command)
	// Told on the run only: with no task, there is no issue to tell
	// instead.
	if writeCheckRun(ctx, t.CheckRunID, "Could not say on the check run that it cannot run again.", func(ctx context.Context) error {
		return repo.NoteOnCheckRun(ctx, t.CheckRunID, note)
	}) {
		zerolog.Ctx(ctx).Info().Msg("Said on the check run that it cannot run again.")
	}
	return nil
}

package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/tasks"
)

// Intake decides what each trigger becomes. It implements tasks.Intake,
// running on the intake queue, so its GitHub calls never delay a webhook's
// answer; an error retries the trigger later.
type Intake struct {
	Clients   githubapp.ClientCreator
	Queue     Work
	PublicURL string
	Command   string
	// TasksPerRepoPerHour and TasksPerActorPerHour limit how many attempts
	// start in an hour; 0 is no limit.
	TasksPerRepoPerHour  int
	TasksPerActorPerHour int
	Logger               zerolog.Logger
}

var _ tasks.Intake = (*Intake)(nil)

// Work is what the intake needs of the task queue; *queue.Queue is one.
type Work interface {
	Create(ctx context.Context, t *tasks.Task, limits tasks.Limits) error
	Retry(ctx context.Context, id string, s tasks.Start) (*tasks.Task, error)
	CancelAttempt(ctx context.Context, id string, attempt int, actor string) (bool, error)
	Get(ctx context.Context, id string) (*tasks.Task, error)
	Live(ctx context.Context, repoID int64, branchIssue int) (*tasks.Task, error)
	Latest(ctx context.Context, repoID int64, issue int) (*tasks.Task, error)
	History(ctx context.Context, id string) ([]tasks.Event, error)
	ByDelivery(ctx context.Context, deliveryID string) (*tasks.Task, int, error)
	OverLimit(ctx context.Context, repoID int64, actor string, limits tasks.Limits) (*tasks.Limited, error)
	ClaimReply(ctx context.Context, repo string, issue int, actor, kind, deliveryID string, since time.Time) (bool, error)
	EarlierStartWaiting(ctx context.Context, t tasks.Trigger) (bool, error)
	EarlierCancelWaiting(ctx context.Context, t tasks.Trigger, live *tasks.Task) (bool, error)
}

// Intake handles one trigger. When GitHub turns a request down in a way
// it will again (no such branch, a permission the App lacks), it tells
// whoever asked at once, rather than leave the intake to River's tries,
// which would keep them waiting for hours on an answer known now.
func (in *Intake) Intake(ctx context.Context, t tasks.Trigger) error {
	log := in.Logger.With().Str("delivery_id", t.DeliveryID).Str("repo", t.Repo).Int("issue", t.Issue).
		Str("actor", t.Actor).Str("command", string(t.Command)).Logger()
	ctx = log.WithContext(ctx)
	err := in.intake(ctx, t)
	if err == nil && tasks.IsRetried(ctx) {
		in.closeStrayRun(ctx, t, "oneshot did not queue this attempt: another task answered the request, or oneshot said on the issue why it did not run it.")
	}
	if !githubapi.Refused(err) {
		return err
	}
	log.Warn().Err(err).Msg("GitHub turned the intake down; telling whoever asked.")
	in.GiveUp(ctx, t, err)
	return nil
}

func (in *Intake) intake(ctx context.Context, t tasks.Trigger) error {
	log := zerolog.Ctx(ctx)
	repo, err := githubapi.ForRepo(in.Clients, t.InstallationID, t.Repo)
	if err != nil {
		return err
	}
	if t.Command == tasks.CommandHelp {
		help := helpText(in.Command)
		if t.Instructions != "" {
			// "/oneshot help me fix the login crash" asked for work.
			help += "\n\n" + wordFirst(in.Command, "help", "fix the crash that help pages hit")
		}
		return in.replyOnce(ctx, repo, t, replyHelp, help)
	}

	// A retried intake finds what its first try already did. Not knowing
	// is no answer: taken for "nothing", it would go on to a second start.
	if task, _, err := in.Queue.ByDelivery(ctx, t.DeliveryID); err == nil {
		log.Info().Str("task_id", task.ID).Msg("This delivery already queued an attempt.")
		return in.react(ctx, repo, t)
	} else if !errors.Is(err, tasks.ErrNotFound) {
		return fmt.Errorf("look up what delivery %s queued: %w", t.DeliveryID, err)
	}
	// Buttons and re-runs name a task rather than an issue.
	var named *tasks.Task
	if t.TaskID != "" {
		named, err = in.Queue.Get(ctx, t.TaskID)
		if errors.Is(err, tasks.ErrNotFound) {
			// A check run is made before its task is recorded, with its
			// Cancel button: the start making it may still be taken in.
			if err := in.awaitEarlierStart(ctx, t, "The check run's task is not recorded yet; the trigger waits for the start making it."); err != nil {
				return err
			}
			log.Warn().Str("task_id", t.TaskID).Msg("A check run names a task this bot does not know.")
			return in.cannotRunAgain(ctx, repo, t)
		}
		if err != nil {
			return err
		}
		if named.RepoID != t.RepoID {
			// Only the bot sets a run's external ID, but a task is acted
			// on only from its own repository, where the actor's access
			// is checked.
			log.Warn().Str("task_id", t.TaskID).Msg("A check run names a task of another repository.")
			return nil
		}
		t.Issue = named.Issue
	}

	allowed, err := repo.CanWrite(ctx, t.Actor)
	if err != nil {
		return err
	}
	if !allowed {
		log.Info().Msg("Refused a trigger from someone without write access.")
		return in.replyOnce(ctx, repo, t, replyRefusal, fmt.Sprintf(
			"@%s, thank you, but only people with write access to %s can ask oneshot for work, so I did nothing.",
			t.Actor, repo.FullName()))
	}

	switch t.Command {
	case tasks.CommandStart, tasks.CommandFollowUp:
		return in.start(ctx, repo, t)
	case tasks.CommandRetry, tasks.CommandRerun:
		return in.retry(ctx, repo, t, named)
	case tasks.CommandCancel:
		return in.cancel(ctx, repo, t, named)
	}
	log.Warn().Msg("Dropped a trigger with an unknown command.")
	return nil
}

// start creates a task, unless its branch has a live one or a limit is met.
func (in *Intake) start(ctx context.Context, repo *githubapi.Repo, t tasks.Trigger) error {
	pr, err := onPull(ctx, repo, t)
	if err != nil {
		return err
	}
	branch := branchIssue(t, pr)
	if pr != nil && pr.ended != "" {
		return in.reply(ctx, repo, t, in.pullEnded(t, t.Issue, pr, branch))
	}
	if live, err := in.live(ctx, t, branch); err == nil {
		return in.busy(ctx, repo, t, live)
	} else if !errors.Is(err, tasks.ErrNotFound) {
		return err
	}
	if done, err := in.heldByEnded(ctx, t); done || err != nil {
		if done {
			zerolog.Ctx(ctx).Info().Msg("A follow-up that ended took this review comment's feedback with its review.")
			return in.react(ctx, repo, t)
		}
		return err
	}
	if later, err := in.startedSince(ctx, t); later != nil || err != nil {
		if later != nil {
			zerolog.Ctx(ctx).Info().Str("task_id", later.ID).Msg("A later trigger started a task on the issue since this one came; this one starts nothing.")
			return in.react(ctx, repo, t)
		}
		return err
	}
	if limited, err := in.limited(ctx, repo, t); limited || err != nil {
		return err
	}
	if err := in.react(ctx, repo, t); err != nil {
		return err
	}
	task := &tasks.Task{
		ID:             tasks.IDFor(t.DeliveryID),
		Repo:           t.Repo,
		RepoID:         t.RepoID,
		InstallationID: t.InstallationID,
		Issue:          t.Issue,
		BranchIssue:    branch,
		Kind:           tasks.KindIssue,
		Requester:      t.Actor,
		Instructions:   t.Instructions,
		DeliveryID:     t.DeliveryID,
		IssueDigest:    t.IssueDigest,
	}
	if t.Command == tasks.CommandFollowUp {
		task.Kind, task.PullRequest = tasks.KindFollowUp, t.Issue
		if t.ReviewID != 0 {
			task.ReviewID, task.Instructions = t.ReviewID, in.wholeReview(ctx, repo, t)
		}
	}
	// The check run comes first so the task is never running without one
	// to show it on.
	if task.CheckRunID, task.HeadSHA, err = in.queueCheckRun(ctx, repo, t, task.ID, 1); err != nil {
		return err
	}
	var limited *tasks.Limited
	switch err := in.Queue.Create(ctx, task, in.limits()); {
	case errors.Is(err, tasks.ErrLive):
		return in.lostRace(ctx, repo, t, task.CheckRunID, branch)
	case errors.As(err, &limited):
		return in.overtaken(ctx, repo, t, task.CheckRunID, limited)
	case err != nil:
		return in.unqueued(ctx, repo, t, task.CheckRunID, err)
	}
	zerolog.Ctx(ctx).Info().Str("task_id", task.ID).Msg("Queued a new task.")
	return nil
}

// wholeReview is the feedback of every command the review of t's comment
// left, t's first. GitHub sends each comment of a review as a delivery of
// its own, and a reviewer who left several means them as one request;
// their deliveries after the first find the follow-up holding them (see
// holds). Only the reviewer's own comments count. When they cannot be
// listed, t's feedback goes alone, and the others' get the busy reply.
func (in *Intake) wholeReview(ctx context.Context, repo *githubapi.Repo, t tasks.Trigger) string {
	comments, err := repo.ReviewComments(ctx, t.Issue, t.ReviewID)
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("Could not list the review's other comments; the follow-up takes this one alone.")
		return t.Instructions
	}
	parts := []string{t.Instructions}
	for _, c := range comments {
		if c.GetID() == t.CommentID || !strings.EqualFold(c.GetUser().GetLogin(), t.Actor) {
			continue
		}
		if cmd, ok := ParseCommand(c.GetBody(), in.Command); ok && cmd.Command == tasks.CommandStart {
			parts = append(parts, onLine(c.GetPath(), c.GetLine(), cmd.Instructions))
		}
	}
	return strings.Join(parts, "\n\n")
}

// awaitEarlierStart returns tasks.ErrEarlierWaiting, having logged why,
// when a start received before t on its issue, or making the task t
// names, has not had its intake yet (see Queue.EarlierStartWaiting): the
// intake of t waits for it, and looks again. It returns nil when none is
// waiting.
func (in *Intake) awaitEarlierStart(ctx context.Context, t tasks.Trigger, why string) error {
	waiting, err := in.Queue.EarlierStartWaiting(ctx, t)
	if err != nil || !waiting {
		return err
	}
	zerolog.Ctx(ctx).Info().Msg(why)
	return tasks.ErrEarlierWaiting
}

// heldByEnded says whether the latest task on t's pull request, ended,
// held the feedback of t, a review comment: its intake came after the
// follow-up that took its review whole had run, and its feedback is done.
func (in *Intake) heldByEnded(ctx context.Context, t tasks.Trigger) (bool, error) {
	if t.Command != tasks.CommandFollowUp || t.ReviewID == 0 {
		return false, nil
	}
	latest, err := in.Queue.Latest(ctx, t.RepoID, t.Issue)
	if errors.Is(err, tasks.ErrNotFound) {
		return false, nil
	}
	return err == nil && holds(latest, t), err
}

// holds says whether a live follow-up already holds the feedback of t, a
// review comment: it came in the review the follow-up took whole, and is
// in its instructions (it is not when the review's comments could not be
// listed). A later review saying the same is a request of its own.
func holds(live *tasks.Task, t tasks.Trigger) bool {
	return t.Command == tasks.CommandFollowUp && t.ReviewID != 0 && live.Kind == tasks.KindFollowUp &&
		live.ReviewID == t.ReviewID && live.PullRequest == t.Issue && strings.Contains(live.Instructions, t.Instructions)
}

// retry queues the next attempt of the named task, or of the issue's
// latest one.
func (in *Intake) retry(ctx context.Context, repo *githubapi.Repo, t tasks.Trigger, task *tasks.Task) error {
	// A Retry pressed twice, or by two people at once, is two intakes at
	// once: taken in order, the later finds the attempt the earlier
	// queued (see retriedSince), where both would make a check run and the
	// one that lost would be told the issue is busy with its own attempt.
	if err := in.awaitEarlierStart(ctx, t, "The retry waits for a start or retry received before it to be taken in."); err != nil {
		return err
	}
	if task == nil {
		var err error
		if task, err = in.Queue.Latest(ctx, t.RepoID, t.Issue); errors.Is(err, tasks.ErrNotFound) {
			reply := fmt.Sprintf("@%s, there is no oneshot task on %s to retry.", t.Actor, this(t))
			if t.PullRequest {
				reply += fmt.Sprintf(" To change it, comment `%s <what to change>`.", in.Command)
			}
			return in.reply(ctx, repo, t, reply)
		} else if err != nil {
			return err
		}
	}
	if answered, err := in.retriedSince(ctx, t, task); err != nil {
		return err
	} else if answered {
		zerolog.Ctx(ctx).Info().Str("task_id", task.ID).Int("attempt", task.Attempt).
			Msg("An attempt its person queued since this retry came answers it; it queues nothing.")
		return in.react(ctx, repo, t)
	}
	if !task.State.Final() {
		return in.busy(ctx, repo, t, task)
	}
	branch, pr, err := taskBranch(ctx, repo, task)
	if err != nil {
		return err
	}
	if pr != nil && pr.ended != "" {
		return in.reply(ctx, repo, t, in.pullEnded(t, task.PullRequest, pr, branch))
	}
	if live, err := in.Queue.Live(ctx, t.RepoID, branch); err == nil {
		return in.busy(ctx, repo, t, live)
	} else if !errors.Is(err, tasks.ErrNotFound) {
		return err
	}
	if limited, err := in.limited(ctx, repo, t); limited || err != nil {
		return err
	}
	if err := in.react(ctx, repo, t); err != nil {
		return err
	}
	checkRunID, headSHA, err := in.queueCheckRun(ctx, repo, t, task.ID, task.Attempt+1)
	if err != nil {
		return err
	}
	next, err := in.Queue.Retry(ctx, task.ID, tasks.Start{
		Actor: t.Actor, DeliveryID: t.DeliveryID, Why: string(t.Command) + " by " + t.Actor,
		CheckRunID: checkRunID, HeadSHA: headSHA, BranchIssue: branch, Limits: in.limits(),
		Repo: t.Repo, InstallationID: t.InstallationID, IssueDigest: t.IssueDigest,
	})
	var limited *tasks.Limited
	if errors.Is(err, tasks.ErrLive) {
		return in.lostRace(ctx, repo, t, checkRunID, branch)
	} else if errors.As(err, &limited) {
		return in.overtaken(ctx, repo, t, checkRunID, limited)
	}
	if err != nil {
		return in.unqueued(ctx, repo, t, checkRunID, err)
	}
	zerolog.Ctx(ctx).Info().Str("task_id", next.ID).Int("attempt", next.Attempt).Msg("Queued another attempt.")
	if t.Instructions != "" {
		// "/oneshot retry, and use the v2 API this time" meant those
		// words to count. Said once: the retry is queued, and a failure
		// here must not have the intake tried again.
		note := fmt.Sprintf("@%s, oneshot runs the task again as it was first asked: the words after `retry` do not change it. To ask for something else, comment `%s <what to do>` once this run is over.",
			t.Actor, in.Command)
		if err := in.reply(ctx, repo, t, note); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("Could not say that the words after retry are not taken.")
		}
	}
	return nil
}

// cancel stops the named task, or the live one on the issue's branch.
//
// Intakes run side by side, so a cancel may come while the start before
// it, meant to be stopped, has not made its task: with nothing live, it
// waits until the earlier start has had its intake (ErrEarlierWaiting),
// and looks again.
func (in *Intake) cancel(ctx context.Context, repo *githubapi.Repo, t tasks.Trigger, task *tasks.Task) error {
	if task == nil {
		pr, err := onPull(ctx, repo, t)
		if err != nil {
			return err
		}
		branch := branchIssue(t, pr)
		task, err = in.live(ctx, t, branch)
		if errors.Is(err, tasks.ErrNotFound) {
			if err := in.awaitEarlierStart(ctx, t, "The cancel waits for a start received before it on the issue to be taken in."); err != nil {
				return err
			}
			// A start may have made its task between the two looks.
			task, err = in.live(ctx, t, branch)
		}
		if errors.Is(err, tasks.ErrNotFound) {
			reply := fmt.Sprintf("@%s, oneshot is not working on %s; there is nothing to cancel.", t.Actor, this(t))
			if t.Instructions != "" {
				// "/oneshot Cancel button is misaligned" asked for work.
				reply += " " + wordFirst(in.Command, "cancel", "fix the cancel button")
			}
			return in.reply(ctx, repo, t, reply)
		} else if err != nil {
			return err
		}
	}
	if t.CheckRunID != 0 && t.CheckRunID != task.CheckRunID {
		// The Cancel button of a run made for a retry not recorded yet,
		// which is waited for; or of an earlier attempt's run, which may
		// still show it while its end is on its way: not the attempt
		// running. A first attempt has no earlier one: the run is one
		// its start made on a try that could not record the task, pressed
		// before that try skipped it, and the press is for this attempt.
		if err := in.awaitEarlierStart(ctx, t, "The cancel waits for a retry received before it to be taken in."); err != nil {
			return err
		}
		if task.Attempt > 1 {
			return in.reply(ctx, repo, t, fmt.Sprintf("@%s, that run's attempt had already ended; there is nothing to cancel. The task's current run has its own Cancel button.", t.Actor))
		}
	}
	// The attempt as read above, before the permission call: the one the
	// button's run, or the comment's writer, saw.
	cancelled, err := in.Queue.CancelAttempt(ctx, task.ID, task.Attempt, t.Actor)
	if err != nil {
		return err
	}
	if !cancelled {
		return in.reply(ctx, repo, t, fmt.Sprintf("@%s, that task had already ended; there is nothing to cancel.", t.Actor))
	}
	zerolog.Ctx(ctx).Info().Str("task_id", task.ID).Msg("Cancelled a task.")
	// The cancel is done, and its check run will say so. An intake tried
	// again for a reaction would find nothing live and answer that there
	// was nothing to cancel.
	if err := in.react(ctx, repo, t); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("Could not react to the cancel; the task is cancelled all the same.")
	}
	return nil
}

// limited replies and reports true when a rate limit is met.
//
// The queue counts again as it records the start (see Work.Create), where
// intakes running at once take turns; this look saves the reaction and the
// check run when the limit is plainly met.
func (in *Intake) limited(ctx context.Context, repo *githubapi.Repo, t tasks.Trigger) (bool, error) {
	if in.limits() == (tasks.Limits{}) {
		return false, nil
	}
	over, err := in.Queue.OverLimit(ctx, t.RepoID, t.Actor, in.limits())
	if err != nil || over == nil {
		return false, err
	}
	return true, in.reply(ctx, repo, t, in.limitReply(t, over))
}

// limits are the caps the queue holds starts to.
func (in *Intake) limits() tasks.Limits {
	return tasks.Limits{PerRepo: in.TasksPerRepoPerHour, PerActor: in.TasksPerActorPerHour}
}

// limitReply says which limit t's start met. A person's limit counts
// their tasks in every repository the bot serves; the reply, on this one,
// names the limit, not how they spent it.
func (in *Intake) limitReply(t tasks.Trigger, over *tasks.Limited) string {
	if over.ByActor {
		return fmt.Sprintf("@%s, you have reached the limit of %d oneshot tasks a person may start in an hour, across the repositories oneshot serves. Please try again later.",
			t.Actor, in.TasksPerActorPerHour)
	}
	return fmt.Sprintf("@%s, oneshot has started %d tasks on %s in the last hour, which is its limit. Please try again later.",
		t.Actor, over.Started, t.Repo)
}

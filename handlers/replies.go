package handlers

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/tasks"
)

// What the intake says to people: where a trigger was made, and how.

// replyWindow is how long a person without write access, or one asking
// for help, waits for a second reply of the same kind on the same issue.
// Anyone may comment on a public repository; unbounded replies would let
// anyone make the bot post a comment for each of theirs.
const replyWindow = time.Hour

// giveUpTimeout bounds the reply to a trigger that could not be taken.
const giveUpTimeout = 30 * time.Second

// Kinds of reply that replyWindow bounds.
const (
	replyRefusal = "refusal"
	replyHelp    = "help"
)

// GiveUp replies to the person whose trigger could not be taken, on its
// issue, saying why and that asking again is the way on. It goes on after
// ctx ends, for up to giveUpTimeout: the intake's own time may be what ran
// out, and nothing later says it.
func (in *Intake) GiveUp(ctx context.Context, t tasks.Trigger, cause error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), giveUpTimeout)
	defer cancel()
	log := in.Logger.With().Str("delivery_id", t.DeliveryID).Str("repo", t.Repo).Int("issue", t.Issue).Logger()
	if t.Issue == 0 && t.TaskID != "" { // a button or a re-run names its task
		if task, err := in.Queue.Get(ctx, t.TaskID); err == nil && task.RepoID == t.RepoID {
			t.Issue = task.Issue
		}
	}
	repo, err := githubapi.ForRepo(in.Clients, t.InstallationID, t.Repo)
	if err == nil {
		err = in.reply(ctx, repo, t, giveUpText(t, cause))
	}
	if err != nil {
		log.Error().Err(err).Msg("Could not tell whoever asked that their trigger was dropped.")
	}
	in.closeStrayRun(log.WithContext(ctx), t, "oneshot gave up taking this request in, and said so on the issue.")
}

// giveUpText says why a trigger could not be taken: GitHub's answer,
// which concerns a repository whoever asked can see, but not the bot's own
// errors, which its log has, under the delivery's ID.
func giveUpText(t tasks.Trigger, cause error) string {
	why := githubapi.Answer(cause)
	if why == "" {
		why = "an error in the bot (its log has it, under delivery " + t.DeliveryID + ")"
	}
	// A cancel not taken leaves running whatever it was meant to stop.
	what, outcome, otherWay := "request", "nothing runs", ""
	if t.Command == tasks.CommandCancel {
		what, outcome = "cancel", "anything oneshot is running here goes on"
		otherWay = " The Cancel button on the task's check run is another way."
	}
	if githubapi.Refused(cause) {
		return fmt.Sprintf("@%s, oneshot could not take your %s, so %s: %s. Asking again will not help until that is put right.%s",
			t.Actor, what, outcome, why, otherWay)
	}
	return fmt.Sprintf("@%s, oneshot could not take your %s after trying for a while, so %s: %s. Please ask again later.%s",
		t.Actor, what, outcome, why, otherWay)
}

// busy answers a trigger that would start an attempt on a branch with a
// live task. An attempt asked to stop is live until it has, a few seconds:
// whoever cancelled it and asked again wants the new one, so the trigger
// waits for it to end (tasks.ErrEarlierWaiting) rather than be turned
// away, for cancelGrace at most (a bot that died holding it leaves it
// live until the queue rescues it). Otherwise it gets replyBusy.
func (in *Intake) busy(ctx context.Context, repo *githubapi.Repo, t tasks.Trigger, live *tasks.Task) error {
	if live.CancelRequested && time.Since(live.UpdatedAt) < cancelGrace {
		zerolog.Ctx(ctx).Info().Str("task_id", live.ID).Msg("The trigger waits for the attempt being cancelled on its branch to end.")
		return tasks.ErrEarlierWaiting
	}
	if waiting, err := in.Queue.EarlierCancelWaiting(ctx, t, live); err != nil {
		return err
	} else if waiting {
		zerolog.Ctx(ctx).Info().Str("task_id", live.ID).Msg("The trigger waits for a cancel received before it on its branch to be taken in.")
		return tasks.ErrEarlierWaiting
	}
	return in.replyBusy(ctx, repo, t, live)
}

// cancelGrace is how long after a cancel its attempt may take to end:
// the pipeline stops in seconds, and its final report takes two minutes
// at most.
const cancelGrace = 3 * time.Minute

// replyBusy answers a trigger whose branch has a live task: with a link to
// it, or with the reaction only when that task answers it (see answers),
// or, for a review comment, when the live follow-up took its feedback
// with its review.
func (in *Intake) replyBusy(ctx context.Context, repo *githubapi.Repo, t tasks.Trigger, live *tasks.Task) error {
	if answers(live, t) {
		// Its person asked again while this one waited to be taken in
		// (GitHub failing it), or asked twice at once: told the issue is
		// busy, they would be invited to cancel their own answer.
		zerolog.Ctx(ctx).Info().Str("task_id", live.ID).Msg("A task its person started since this trigger came, asking the same, answers it.")
		return in.react(ctx, repo, t)
	}
	if holds(live, t) {
		zerolog.Ctx(ctx).Info().Str("task_id", live.ID).Msg("The live follow-up took this review comment's feedback with its review.")
		return in.react(ctx, repo, t)
	}
	what := this(t)
	if live.Issue != t.Issue { // the issue's task, or a follow-up on its pull request
		what = fmt.Sprintf("the same branch, for #%d", live.Issue)
	}
	return in.reply(ctx, repo, t, fmt.Sprintf("@%s, oneshot is already working on %s: %s. Cancel it with `%s cancel` to start over.",
		t.Actor, what, githubapi.TaskURL(in.PublicURL, live.ID), in.Command))
}

// this names where a trigger was made, for a reply there.
func this(t tasks.Trigger) string {
	if t.PullRequest {
		return "this pull request"
	}
	return "this issue"
}

// react puts 👀 on the triggering comment, or on the issue for a label.
// Button presses and re-runs have nothing to react on.
func (in *Intake) react(ctx context.Context, repo *githubapi.Repo, t tasks.Trigger) error {
	switch t.Event {
	case "check_run":
		return nil
	case "pull_request_review_comment":
		return repo.ReactToReviewComment(ctx, t.Issue, t.CommentID, "eyes")
	}
	return repo.React(ctx, t.Issue, t.CommentID, "eyes")
}

// reply answers a trigger where it was made: a review comment in its
// thread, anything else on the issue or pull request.
func (in *Intake) reply(ctx context.Context, repo *githubapi.Repo, t tasks.Trigger, body string) error {
	switch {
	case t.Issue == 0:
		return nil
	case t.Event == "pull_request_review_comment" && t.CommentID != 0:
		// A trigger queued before ThreadID was known has only its comment.
		return repo.ReplyToReviewComment(ctx, t.Issue, cmp.Or(t.ThreadID, t.CommentID), body)
	}
	_, err := repo.Comment(ctx, t.Issue, body)
	return err
}

// replyOnce replies unless a reply of this kind went to the same person
// on the same issue within replyWindow, or as many replies as one gets in
// the repository (queue.MaxRepliesPerActor).
func (in *Intake) replyOnce(ctx context.Context, repo *githubapi.Repo, t tasks.Trigger, kind, body string) error {
	if t.Issue == 0 {
		return nil
	}
	ok, err := in.Queue.ClaimReply(ctx, t.Repo, t.Issue, t.Actor, kind, t.DeliveryID, time.Now().Add(-replyWindow))
	if err != nil {
		return err
	}
	if !ok {
		zerolog.Ctx(ctx).Info().Str("reply", kind).
			Msg("Did not reply: this person had the same reply on this issue, or as many replies as one gets in the repository, within the hour.")
		return nil
	}
	return in.reply(ctx, repo, t, body)
}

// wordFirst says that command is a command whatever follows it, for
// a comment that may have meant work beginning with that word: example
// is such work, with another word first.
func wordFirst(word, command, example string) string {
	return fmt.Sprintf("`%[1]s %[2]s` is a command whatever follows it: to ask for work that begins with the word, put another before it, as in `%[1]s %[3]s`.",
		word, command, example)
}

func helpText(word string) string {
	return fmt.Sprintf("oneshot turns issues into pull requests. People with write access can use:\n\n"+
		"| comment | does |\n|---|---|\n"+
		"| `%[1]s` or `%[1]s <instructions>` | work on this issue, with extra instructions if given |\n"+
		"| `%[1]s retry` | run the last task on this issue again |\n"+
		"| `%[1]s cancel` | stop the task running on this issue |\n"+
		"| `%[1]s <feedback>` on a pull request oneshot opened | apply the feedback to it |\n"+
		"| `%[1]s help` | show this |\n\n"+
		"Adding the trigger label to an issue starts a task too, and the check run's re-run button runs it again.", word)
}

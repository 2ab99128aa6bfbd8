package forge

import (
	"cmp"
	"context"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/tasks"
)

// How an attempt's end is shown on GitHub: by its reporter's final writes,
// tried again while GitHub fails for now, and, for an end no reporter
// here showed or one whose writes GitHub failed for longer than they
// waited, by the notifier's calls (Ended, Missed).

// Finish writes the final check run output, the status comment and the
// final comment, in the throttle's turns.
func (r *taskReporter) Finish(ctx context.Context, rep pipeline.Report) {
	// A progress write still waiting, on the throttle or on GitHub's
	// Retry-After, is abandoned: the final writes show everything it would
	// have, and must not spend their own time waiting for it. One already
	// sent is let finish, so that it cannot land after them; but one
	// GitHub stalls on is given up (see progressAnswerTimeout), and ctx
	// bounds the wait all the same: GitHub might still apply it late,
	// which is a smaller loss than no final report at all.
	r.abandon()
	close(r.stop)
	select {
	case <-r.stopped:
	case <-ctx.Done():
	}
	r.mu.Lock()
	r.latest, r.dirty, r.finished = rep, true, true
	r.mu.Unlock()
	checkRunErr := r.writeCheckRun(ctx, true)
	r.writeEnd(ctx, func() error { return r.writeStatusComment(ctx) })
	_ = r.recordStatusComment(ctx)
	if checkRunErr != nil && !githubapi.Refused(checkRunErr) {
		// Tried again after the comments, which say the more: the
		// notifier's words in its place would lose the steps and their
		// output, the logs the final comment links to.
		checkRunErr = githubapi.UntilTaken(ctx, finalRetry, func() error { return r.writeCheckRun(ctx, true) })
	}
	if checkRunErr != nil {
		// The run still shows the attempt under way: the notifier's
		// conclusion brings words of its own.
		r.p.owned.Delete(r.task.CheckRunID)
	}
}

// writeEnd shows on the issue how the attempt ended: writeStatus shows it
// on the status comment, and the final comment says why. Unlike progress,
// each is tried again while GitHub fails for now, within ctx: nothing
// later shows them. The final comment, which says the more, goes before
// the status comment's next tries. (A try that failed after GitHub made a
// comment is found, not made twice: see githubapi.Repo.Comment.)
func (r *taskReporter) writeEnd(ctx context.Context, writeStatus func() error) {
	err := writeStatus()
	r.writeFinalComment(ctx)
	if err != nil && !githubapi.Refused(err) {
		_ = githubapi.UntilTaken(ctx, finalRetry, writeStatus)
	}
}

// writeFinalComment posts the final comment on the latest report, if its
// end has one.
func (r *taskReporter) writeFinalComment(ctx context.Context) {
	r.mu.Lock()
	body := finalComment(r.latest, cmp.Or(r.p.Command, config.DefaultCommand))
	r.mu.Unlock()
	if body == "" {
		return
	}
	_ = githubapi.UntilTaken(ctx, finalRetry, func() error {
		return r.write(ctx, "final comment", true, func(ctx context.Context, repo *githubapi.Repo) error {
			_, err := repo.Comment(ctx, r.task.Issue, body)
			return err
		})
	})
}

// finalRetry is the first wait before a write of the attempt's end is
// tried again.
const finalRetry = 2 * time.Second

// finalCommentPosted says whether the attempt's final comment is on the
// issue: one of the issue's newest comments by the App ends with its
// marker. Anyone else's that does is not it: the marker is no secret, and
// a comment with it would keep the final comment from being posted.
func (r *taskReporter) finalCommentPosted(ctx context.Context) (bool, error) {
	repo, err := githubapi.ForRepo(r.p.Clients, r.task.InstallationID, r.task.Repo)
	if err != nil {
		return false, err
	}
	return repo.HasComment(ctx, r.task.Issue, r.p.BotLogin, strings.TrimSpace(finalMarker(&r.task)))
}

// Ended shows on the issue how an attempt ended that no reporter here saw
// end, as its reporter's Finish would have: the status comment, if it
// shows the attempt under way, says how it ended, keeping its steps, and a
// final comment says why and how to retry.
// The check run is the notifier's, which calls this.
//
// The attempt's reporter may have shown it after all, its check run's
// final write alone lost: then its words stay, and nothing is said twice.
func (p *Progress) Ended(ctx context.Context, t *tasks.Task, e tasks.Event) {
	r := p.newReporter(t)
	// When the comments cannot be read, the comment may come twice rather
	// than not at all.
	posted, err := r.finalCommentPosted(ctx)
	if err != nil {
		r.log.Warn().Err(err).Msg("Could not read the issue's comments to see whether the final comment is there.")
	}
	if posted {
		r.log.Info().Msg("The attempt's final comment is on the issue already.")
		return
	}
	r.latest = pipeline.Report{Task: t, Final: &pipeline.Outcome{State: e.State, Reason: e.Detail}}
	r.finished = true
	// No status comment is made this late: the final comment says it all.
	r.writeEnd(ctx, func() error { return r.endStatusComment(ctx, e) })
}

// Missed shows on the issue what the final writes of an attempt's reporter
// did not, when GitHub failed them for longer than the reporter could
// wait: the final comment, if it is not on the issue, and the attempt's end
// on its status comment, if that still shows it under way. The status
// comment keeps its steps; only its first line, the title, changes. It
// fails when the issue's comments cannot be read, rather than say anything
// twice.
func (p *Progress) Missed(ctx context.Context, t *tasks.Task, e tasks.Event) error {
	r := p.newReporter(t)
	posted, err := r.finalCommentPosted(ctx)
	if githubapi.Refused(err) {
		return nil // the issue is gone, say: there is nowhere to say it
	}
	if err != nil {
		return err
	}
	r.latest = pipeline.Report{Task: t, Final: &pipeline.Outcome{State: e.State, Reason: e.Detail}}
	r.finished = true
	if !posted {
		r.log.Warn().Msg("The attempt's final comment is not on the issue; posting it.")
		r.writeFinalComment(ctx)
	}
	return r.endStatusComment(ctx, e)
}

// endStatusComment shows the attempt's end on the task's status comment,
// if it still shows this attempt under way. The status comment keeps its
// steps; only its first line, the title, changes.
func (r *taskReporter) endStatusComment(ctx context.Context, e tasks.Event) error {
	if r.task.StatusCommentID == 0 {
		return nil
	}
	repo, err := githubapi.ForRepo(r.p.Clients, r.task.InstallationID, r.task.Repo)
	if err != nil {
		return err
	}
	c, _, err := repo.Client.Issues.GetComment(ctx, repo.Owner, repo.Name, r.task.StatusCommentID)
	if err != nil {
		if githubapi.Refused(err) {
			return nil // deleted, say: the final comment says it all
		}
		return err
	}
	// The status comment is the task's, which a later attempt may have
	// taken over meanwhile: only this attempt's is this attempt's to end.
	title, steps, _ := strings.Cut(c.GetBody(), "\n")
	shown, ours := strings.CutPrefix(title, statusHead(e.Attempt))
	if !ours || !githubapi.UnderWay(shown) {
		return nil
	}
	body := statusHead(e.Attempt) + r.latest.Title() + "\n" + steps
	return r.write(ctx, "status comment", false, func(ctx context.Context, repo *githubapi.Repo) error {
		_, _, err := repo.Client.Issues.EditComment(ctx, repo.Owner, repo.Name, r.task.StatusCommentID, &github.IssueComment{Body: &body})
		return err
	})
}

package forge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/contextgather"
	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/tasks"
)

// maxOutput is GitHub's limit on a check run's summary and text, and on a
// comment's body.
const maxOutput = 65535

// logTailSize is how much of the running step's output the check run
// shows while the attempt runs; finalStepTail how much of each step's the
// final output keeps, so that every step fits in GitHub's limit.
const (
	logTailSize   = 32 << 10
	finalStepTail = 6 << 10
)

// StatusComments records the comment each task edits in place;
// *queue.Queue is one.
type StatusComments interface {
	SetStatusComment(ctx context.Context, taskID string, commentID int64) error
}

// Progress shows the pipeline's reports on GitHub: the attempt's check run
// as steps pass, one status comment on the issue edited in place, and a
// final comment with the pull request or the reason it stopped. It makes a
// pipeline.Reporter per attempt.
type Progress struct {
	Clients  githubapp.ClientCreator
	Throttle *githubapi.Throttle
	Comments StatusComments
	Logger   zerolog.Logger
	// Command is the word that starts a command comment, as in "/oneshot",
	// for the final comment's advice; "" is config.DefaultCommand.
	Command string

	owned sync.Map // check run IDs whose output a reporter writes
	// retryFirst, when set, replaces progressRetry.
	retryFirst time.Duration
}

// Owns reports whether a reporter writes the output of a check run, which
// the notifier must then leave alone. A reporter whose final output GitHub
// did not take owns it no longer: the run would be concluded still showing
// the attempt under way.
func (p *Progress) Owns(checkRunID int64) bool {
	_, ok := p.owned.Load(checkRunID)
	return ok
}

// Release forgets a check run once its attempt has concluded.
func (p *Progress) Release(checkRunID int64) { p.owned.Delete(checkRunID) }

// Ended shows on the issue how an attempt ended that no reporter here saw
// end, as its reporter's Finish would have: the status comment, if the task
// has one, says how it ended, and a final comment says why and how to retry.
// The check run is the notifier's, which calls this.
//
// The attempt's reporter may have shown it after all, its check run's
// final write alone lost: then its words stay, and nothing is said twice.
func (p *Progress) Ended(ctx context.Context, t *tasks.Task, e tasks.Event) {
	r := p.newReporter(t)
	if r.finalCommentPosted(ctx) {
		r.log.Info().Msg("The attempt's final comment is on the issue already.")
		return
	}
	r.latest = pipeline.Report{Task: t, Final: &pipeline.Outcome{State: e.State, Reason: e.Detail}}
	r.finished = true
	// No status comment is made this late: the final comment says it all.
	r.writeEnd(ctx, t.StatusCommentID != 0)
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
	repo, err := githubapi.ForRepo(p.Clients, t.InstallationID, t.Repo)
	if err != nil {
		return err
	}
	posted, err := repo.HasComment(ctx, t.Issue, strings.TrimSpace(finalMarker(t)))
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
	if t.StatusCommentID == 0 {
		return nil
	}
	c, _, err := repo.Client.Issues.GetComment(ctx, repo.Owner, repo.Name, t.StatusCommentID)
	if err != nil {
		if githubapi.Refused(err) {
			return nil // deleted, say: the final comment says it all
		}
		return err
	}
	// The status comment is the task's, which a later attempt may have
	// taken over meanwhile: only this attempt's is this attempt's to end.
	title, steps, _ := strings.Cut(c.GetBody(), "\n")
	shown, ours := strings.CutPrefix(title, fmt.Sprintf("**oneshot**, attempt %d: ", e.Attempt))
	if !ours || !githubapi.UnderWay(shown) {
		return nil
	}
	body := statusComment(t.Attempt, r.latest)
	body, _, _ = strings.Cut(body, "\n")
	body += "\n" + steps
	return r.write(ctx, "status comment", false, func(ctx context.Context, repo *githubapi.Repo) error {
		_, _, err := repo.Client.Issues.EditComment(ctx, repo.Owner, repo.Name, t.StatusCommentID, &github.IssueComment{Body: &body})
		return err
	})
}

// For makes the reporter of a task's attempt.
func (p *Progress) For(t *tasks.Task) pipeline.Reporter {
	r := p.newReporter(t)
	if t.CheckRunID != 0 {
		p.owned.Store(t.CheckRunID, true)
	}
	r.waits, r.abandon = context.WithCancel(context.Background())
	go r.loop(githubapi.WithWaits(context.Background(), r.waits))
	return r
}

// newReporter makes a reporter of a task's attempt whose loop has not
// started.
func (p *Progress) newReporter(t *tasks.Task) *taskReporter {
	return &taskReporter{
		p:    p,
		task: *t,
		log: p.Logger.With().Str("task_id", t.ID).Str("repo", t.Repo).Int("issue", t.Issue).
			Str("delivery_id", t.DeliveryID).Int("attempt", t.Attempt).Logger(),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
		waits:   context.Background(),
		abandon: func() {},
	}
}

// progressAnswerTimeout is how long a progress write waits for GitHub's
// answer to one try. The final report waits for a progress write already
// sent, so that it cannot land after the final one, and its time, 20 s
// for an attempt handed back at a shutdown, must not go to a GitHub that
// stalls.
const progressAnswerTimeout = 10 * time.Second

// taskReporter writes one attempt's progress, coalescing updates: it
// writes the latest state when its turn in the throttle comes.
type taskReporter struct {
	p    *Progress
	task tasks.Task
	log  zerolog.Logger

	mu       sync.Mutex
	latest   pipeline.Report
	dirty    bool
	steps    string       // the step table last written to the status comment
	outputs  []stepOutput // each step run so far, in order
	finished bool

	wake          chan struct{}
	stop, stopped chan struct{}
	waits         context.Context    // the loop's writes wait while it lasts
	abandon       context.CancelFunc // ends waits
}

func (r *taskReporter) Update(rep pipeline.Report) {
	r.mu.Lock()
	r.latest, r.dirty = rep, true
	// A step's output stays shown after it ends, until the next starts.
	// verify runs again after each fix round, and has an output each time.
	if step := runningStep(rep); step != "" && (len(r.outputs) == 0 || r.outputs[len(r.outputs)-1].step != step) {
		r.outputs = append(r.outputs, stepOutput{step: step, tail: sandbox.NewOutputBuffer(2 * logTailSize)})
	}
	r.mu.Unlock()
	r.poke()
}

func (r *taskReporter) Log(e sandbox.Event) {
	r.mu.Lock()
	if len(r.outputs) == 0 {
		r.outputs = append(r.outputs, stepOutput{step: e.Phase, tail: sandbox.NewOutputBuffer(2 * logTailSize)})
	}
	r.outputs[len(r.outputs)-1].tail.Write(e.Data)
	r.dirty = true
	r.mu.Unlock()
	r.poke()
}

func (r *taskReporter) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// loop writes progress until Finish stops it. Each write takes the latest
// report when its turn in the throttle comes, so a busy step costs one
// write every MinWriteGap, however often it reports.
//
// A write GitHub failed for now is made again after a while, though
// nothing new is reported: a step can run for many minutes without a word
// (an agent that prints only at its end), and meanwhile the check run and
// the status comment would show the step before it.
func (r *taskReporter) loop(ctx context.Context) {
	defer close(r.stopped)
	retry := time.NewTimer(0)
	<-retry.C
	wait := cmp.Or(r.p.retryFirst, progressRetry)
	for {
		select {
		case <-r.stop:
			return
		case <-r.wake:
		case <-retry.C:
		}
		// A status comment not made yet goes before the check run's edit.
		// It creates content, and the pull request must come MinCreateGap
		// after the last content made; behind the edit, a report as it
		// is, it would wait MinWriteGap more, and the pull request with it.
		var errs []error
		first := r.task.StatusCommentID == 0 && r.statusChanged()
		if first {
			errs = append(errs, r.writeStatusComment(ctx))
		}
		errs = append(errs, r.writeCheckRun(ctx, false))
		if !first && r.statusChanged() {
			errs = append(errs, r.writeStatusComment(ctx))
		}
		if again, ok := r.retryIn(errs, wait); ok {
			retry.Reset(again)
			wait = min(2*wait, maxProgressRetry)
		} else {
			wait = cmp.Or(r.p.retryFirst, progressRetry)
		}
	}
}

// retryIn says whether a write of errs failed for now, and when to try
// again: after wait, or the longer wait GitHub's rate limit asked for.
func (r *taskReporter) retryIn(errs []error, wait time.Duration) (time.Duration, bool) {
	if !slices.ContainsFunc(errs, r.failedForNow) {
		return 0, false
	}
	for _, err := range errs {
		if held := (*githubapi.RateLimitedError)(nil); errors.As(err, &held) {
			wait = max(wait, held.Wait)
		}
	}
	return wait, true
}

// A progress write GitHub failed for now is made again progressRetry
// after, and twice as long after each next failure, up to
// maxProgressRetry.
const (
	progressRetry    = 10 * time.Second
	maxProgressRetry = 2 * time.Minute
)

// failedForNow says whether a progress write failed in a way a later try
// may not: neither refused, as it would be again, nor left to the final
// report. One that gave way to another of the task's writes (see write)
// failed for now: that write, the pull request's or the notifier's, does
// not show the progress.
func (r *taskReporter) failedForNow(err error) bool {
	return err != nil && !githubapi.Refused(err) && (!errors.Is(err, context.Canceled) || r.waits.Err() == nil)
}

// statusChanged says whether the status comment shows other steps than the
// latest report's.
func (r *taskReporter) statusChanged() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.latest.Task != nil && stepTable(r.latest) != r.steps
}

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
	if err := r.writeCheckRun(ctx, true); err != nil {
		// The run still shows the attempt under way: the notifier's
		// conclusion brings words of its own.
		r.p.owned.Delete(r.task.CheckRunID)
	}
	r.writeEnd(ctx, true)
}

// writeEnd shows on the issue how the attempt ended: the status comment
// says so, if status, and the final comment says why. Unlike
// progress, each is tried again while GitHub fails for now, within ctx:
// nothing later shows them. The final comment, which says the more, goes
// before the status comment's next tries. (A try that failed after GitHub
// made a comment is found, not made twice: see githubapi.Repo.Comment.)
func (r *taskReporter) writeEnd(ctx context.Context, status bool) {
	if !status {
		r.writeFinalComment(ctx)
		return
	}
	writeStatus := func() error { return r.writeStatusComment(ctx) }
	err := writeStatus()
	r.writeFinalComment(ctx)
	if err != nil && !githubapi.Refused(err) {
		untilTaken(ctx, writeStatus)
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
	untilTaken(ctx, func() error {
		return r.write(ctx, "final comment", true, func(ctx context.Context, repo *githubapi.Repo) error {
			_, err := repo.Comment(ctx, r.task.Issue, body)
			return err
		})
	})
}

// untilTaken runs write until GitHub takes it or refuses it for good,
// waiting finalRetry after the first failure and twice as long after each
// next one, while ctx leaves time for the wait.
func untilTaken(ctx context.Context, write func() error) {
	wait := finalRetry
	for {
		err := write()
		if err == nil || githubapi.Refused(err) || githubapi.PastDeadline(ctx, wait) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// finalRetry is the first wait before a write of the attempt's end is
// tried again.
const finalRetry = 2 * time.Second

// finalCommentPosted says whether the attempt's final comment is on the
// issue: one of the issue's newest comments ends with its marker. When
// that cannot be read, it says no, and the comment may come twice rather
// than not at all.
func (r *taskReporter) finalCommentPosted(ctx context.Context) bool {
	repo, err := githubapi.ForRepo(r.p.Clients, r.task.InstallationID, r.task.Repo)
	if err != nil {
		return false
	}
	posted, err := repo.HasComment(ctx, r.task.Issue, strings.TrimSpace(finalMarker(&r.task)))
	if err != nil {
		r.log.Warn().Err(err).Msg("Could not read the issue's comments to see whether the final comment is there.")
	}
	return posted
}

// stepOutput is the masked end of one run of a step's output.
type stepOutput struct {
	step string
	tail *sandbox.OutputBuffer
}

// snapshot takes the latest report and the check run's text, and whether
// anything changed since the last check run write. While the attempt runs
// the text is the end of the latest step's output; once it is over, the
// end of every step's, so that the check run keeps the logs.
func (r *taskReporter) snapshot() (pipeline.Report, string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	dirty := r.dirty
	r.dirty = false
	var b strings.Builder
	switch {
	case r.finished:
		// The newest steps first to go in, so that the step the attempt
		// ended on, a failing check after many fix rounds say, is kept
		// when they do not all fit.
		var sections []string
		for _, o := range r.outputs {
			if out := strings.ToValidUTF8(string(o.tail.Tail(finalStepTail)), "\uFFFD"); strings.TrimSpace(out) != "" {
				sections = append(sections, fmt.Sprintf("### %s, its end\n\n%s\n", o.step, contextgather.CodeBlock(out)))
			}
		}
		const room = maxOutput - 100 // for the note of what was left out
		first, size := len(sections), 0
		for first > 0 && size+len(sections[first-1]) <= room {
			first--
			size += len(sections[first])
		}
		if first > 0 {
			fmt.Fprintf(&b, "(The output of %d earlier steps is left out for room.)\n\n", first)
		}
		b.WriteString(strings.Join(sections[first:], ""))
	case len(r.outputs) > 0:
		if out := string(r.outputs[len(r.outputs)-1].tail.Tail(logTailSize)); strings.TrimSpace(out) != "" {
			fmt.Fprintf(&b, "Output of the latest step, its end:\n\n%s", contextgather.CodeBlock(out))
		}
	}
	return r.latest, b.String(), dirty
}

// writeCheckRun shows the latest report as the check run's output, unless
// nothing changed, and says whether that failed. Status and conclusion are
// the notifier's, which the queue calls on each state.
func (r *taskReporter) writeCheckRun(ctx context.Context, final bool) error {
	if r.task.CheckRunID == 0 {
		return nil
	}
	return r.write(ctx, "check run", false, func(ctx context.Context, repo *githubapi.Repo) error {
		rep, text, dirty := r.snapshot()
		if !dirty || rep.Task == nil {
			return nil
		}
		summary := rep.Summary()
		if final && rep.Final != nil && rep.Final.Details != "" {
			summary += "\n### Why\n\n" + rep.Final.Details
		}
		output := &github.CheckRunOutput{
			Title:   github.String(limit(rep.Title(), 200)),
			Summary: github.String(limit(summary, maxOutput)),
		}
		if text != "" {
			output.Text = github.String(limit(text, maxOutput))
		}
		_, _, err := repo.Client.Checks.UpdateCheckRun(ctx, repo.Owner, repo.Name, r.task.CheckRunID,
			github.UpdateCheckRunOptions{Name: githubapi.CheckName, Output: output})
		if r.failedForNow(err) {
			// Not shown: the next try writes it, unless a newer report
			// comes first.
			r.mu.Lock()
			r.dirty = true
			r.mu.Unlock()
		}
		return err
	})
}

// writeStatusComment creates the task's status comment, or edits it, with
// the latest report.
func (r *taskReporter) writeStatusComment(ctx context.Context) error {
	// Only this reporter sets the comment's ID, so it cannot change
	// between here and the write.
	return r.write(ctx, "status comment", r.task.StatusCommentID == 0, func(ctx context.Context, repo *githubapi.Repo) error {
		r.mu.Lock()
		rep := r.latest
		table := stepTable(rep)
		r.mu.Unlock()
		// The table counts as shown once GitHub took it, or refused it
		// as it will again (a locked issue): one that gave way to another
		// write, or failed for now, is written again at the next turn.
		// Written again after a refusal, on every line of output, it would
		// take the task's turns from the check run, and count against
		// GitHub's limits.
		shown := func() {
			r.mu.Lock()
			r.steps = table
			r.mu.Unlock()
		}
		body := statusComment(r.task.Attempt, rep)
		if r.task.StatusCommentID != 0 {
			_, resp, err := repo.Client.Issues.EditComment(ctx, repo.Owner, repo.Name, r.task.StatusCommentID, &github.IssueComment{Body: &body})
			if err == nil || (githubapi.Refused(err) && resp != nil && resp.StatusCode != http.StatusNotFound) {
				shown()
			}
			if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
				return err
			}
			// Someone deleted it: the task's status is shown anew.
		}
		c, err := repo.Comment(ctx, r.task.Issue, body)
		if err == nil || githubapi.Refused(err) {
			shown()
		}
		if err != nil {
			return err
		}
		r.task.StatusCommentID = c.GetID()
		return r.p.Comments.SetStatusComment(ctx, r.task.ID, c.GetID())
	})
}

// write runs one write in the task's turn, logging a failure and
// returning it: progress that cannot be shown must not stop the work.
// Writes while the pipeline runs are reports, which let the task's other
// writes go first, even from a wait to retry; the final ones take their
// turn in order. creates says whether it makes new content rather than
// editing.
func (r *taskReporter) write(ctx context.Context, what string, creates bool, fn func(context.Context, *githubapi.Repo) error) error {
	repo, err := githubapi.ForRepo(r.p.Clients, r.task.InstallationID, r.task.Repo)
	if err == nil {
		r.mu.Lock()
		w := githubapi.Write{Creates: creates, Report: !r.finished}
		r.mu.Unlock()
		if w.Report {
			// An edit the next one supersedes, or the status comment to
			// be made, which the final report makes if this one fails:
			// waited for without end, a stalled GitHub would take all of
			// the final report's time. A comment GitHub made but did not
			// answer for is found by githubapi.Repo.Comment, which looks
			// before it fails; one made later still stays beside the
			// next, a smaller loss than no final report.
			ctx = githubapi.AnswerWithin(ctx, progressAnswerTimeout)
		}
		err = r.p.Throttle.Do(ctx, r.task.ID, w, func(ctx context.Context) error { return fn(ctx, repo) })
	}
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled) && r.waits.Err() != nil:
		// Finish abandoned it, and writes what it would have.
		r.log.Debug().Msgf("Left the %s to the final report.", what)
	case errors.Is(err, context.Canceled) && ctx.Err() == nil:
		// It gave way to another of the task's writes while it waited
		// to retry; the loop makes it again (see failedForNow).
		r.log.Debug().Msgf("Left the %s to a later write.", what)
	default:
		r.log.Error().Err(err).Msgf("Could not write the %s.", what)
	}
	return err
}

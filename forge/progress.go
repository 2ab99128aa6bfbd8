package forge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

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
	// BotLogin is the App's own login, as "oneshot[bot]": only its
	// comments are taken for the final comments it posted.
	BotLogin string

	owned sync.Map // check run IDs whose output a reporter writes
	// retryFirst, when set, replaces progressRetry; outputGap,
	// outputWriteGap; recordWithin, recordTimeout.
	retryFirst, outputGap, recordWithin time.Duration
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
	dirty    bool         // the check run shows less than there is
	reported bool         // of it, a report, not only more output
	shown    time.Time    // when the check run was last written
	steps    string       // the step table last written to the status comment
	outputs  []stepOutput // each step run so far, in order
	finished bool
	// unrecorded says the status comment this reporter made is not
	// recorded yet (see recordStatusComment). Like task.StatusCommentID,
	// only the loop and then Finish touch it.
	unrecorded bool

	wake          chan struct{}
	stop, stopped chan struct{}
	waits         context.Context    // the loop's writes wait while it lasts
	abandon       context.CancelFunc // ends waits
}

func (r *taskReporter) Update(rep pipeline.Report) {
	r.mu.Lock()
	r.latest, r.dirty, r.reported = rep, true, true
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
	// The loop runs beside the attempt: a panic here would end the bot,
	// and every task it runs. Progress is no longer shown; Finish still
	// shows the end.
	defer func() {
		if v := recover(); v != nil {
			r.log.Error().Str("panic", fmt.Sprint(v)).Str("stack", string(debug.Stack())).Msg("Showing the attempt's progress panicked; GitHub shows it again at its end.")
		}
	}()
	retry, later := time.NewTimer(0), time.NewTimer(0)
	<-retry.C
	<-later.C
	wait := cmp.Or(r.p.retryFirst, progressRetry)
	for {
		select {
		case <-r.stop:
			return
		case <-r.wake:
		case <-retry.C:
		case <-later.C:
		}
		if hold := r.outputWait(); hold > 0 {
			later.Reset(hold)
			continue
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
		errs = append(errs, r.recordStatusComment(ctx))
		if again, ok := r.retryIn(errs, wait); ok {
			retry.Reset(again)
			wait = min(2*wait, maxProgressRetry)
		} else {
			wait = cmp.Or(r.p.retryFirst, progressRetry)
		}
	}
}

// outputWriteGap is the least time between two check run writes that
// only show more of a step's output. That is often enough to watch a step
// by, while a write every MinWriteGap for an agent that prints all the
// time would spend the rate limit that all the installation's tasks share.
const outputWriteGap = 10 * time.Second

// outputWait is how long to hold the next write when all it would show is
// more output: until outputWriteGap after the last.
func (r *taskReporter) outputWait() time.Duration {
	r.mu.Lock()
	onlyOutput, since := r.dirty && !r.reported, time.Since(r.shown)
	r.mu.Unlock()
	if !onlyOutput || r.statusChanged() {
		return 0
	}
	return max(0, cmp.Or(r.p.outputGap, outputWriteGap)-since)
}

// retryIn says whether a write of errs failed for now, and when to try
// again: after wait, or the longer wait GitHub's rate limit asked for.
func (r *taskReporter) retryIn(errs []error, wait time.Duration) (time.Duration, bool) {
	if !slices.ContainsFunc(errs, r.failedForNow) {
		return 0, false
	}
	for _, err := range errs {
		wait = max(wait, githubapi.AskedWait(err))
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

// stepOutput is the masked end of one run of a step's output.
type stepOutput struct {
	step string
	tail *sandbox.OutputBuffer
}

// snapshot takes the latest report and the check run's text, and whether
// anything changed since the last check run write, and whether a report
// did. While the attempt runs the text is the end of the latest step's
// output; once it is over, the end of every step's, so that the check run
// keeps the logs.
func (r *taskReporter) snapshot() (rep pipeline.Report, text string, dirty, reported bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	dirty, reported = r.dirty, r.reported
	r.dirty, r.reported = false, false
	if dirty {
		r.shown = time.Now()
	}
	var b strings.Builder
	switch {
	case r.finished:
		// The newest steps first to go in, so that the step the attempt
		// ended on, a failing check after many fix rounds say, is kept
		// when they do not all fit.
		var sections []string
		for _, o := range r.outputs {
			if out := lastText(o.tail.Tail(finalStepTail), finalStepTail); strings.TrimSpace(out) != "" {
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
		latest := r.outputs[len(r.outputs)-1]
		if out := lastText(latest.tail.Tail(logTailSize), logTailSize); strings.TrimSpace(out) != "" {
			fmt.Fprintf(&b, "Output of the latest step, its end:\n\n%s", contextgather.CodeBlock(out))
		} else {
			fmt.Fprintf(&b, "%s has printed nothing yet.", latest.step)
		}
	}
	switch {
	case b.Len() > 0:
	case r.finished:
		b.WriteString("No step printed anything.")
	default:
		b.WriteString("Nothing printed yet.")
	}
	return r.latest, b.String(), dirty, reported
}

// writeCheckRun shows the latest report as the check run's output, unless
// nothing changed, and says whether that failed. Status and conclusion are
// the notifier's, which the queue calls on each state.
func (r *taskReporter) writeCheckRun(ctx context.Context, final bool) error {
	if r.task.CheckRunID == 0 {
		return nil
	}
	return r.write(ctx, "check run", false, func(ctx context.Context, repo *githubapi.Repo) error {
		rep, text, dirty, reported := r.snapshot()
		if !dirty || rep.Task == nil {
			return nil
		}
		summary := rep.Summary()
		if final && rep.Final != nil && rep.Final.Details != "" {
			why := "\n### Why\n\n" + rep.Final.Details
			if len(strings.ToValidUTF8(summary+why, "\uFFFD")) > maxOutput {
				// Cut to the limit, it would end inside a code block of
				// the details, the failing checks' output, say, which
				// the text shows the end of with each step's.
				why = "\n### Why\n\nToo long to show beside the steps and the checks; the end of each step's output is in the text below.\n"
			}
			summary += why
		}
		output := &github.CheckRunOutput{
			Title:   github.String(limit(rep.Title(), 200)),
			Summary: github.String(limit(summary, maxOutput)),
		}
		// Always sent: left out, the text a step that printed nothing yet
		// follows would stay, shown as this one's.
		output.Text = github.String(limit(text, maxOutput))
		_, _, err := repo.Client.Checks.UpdateCheckRun(ctx, repo.Owner, repo.Name, r.task.CheckRunID,
			github.UpdateCheckRunOptions{Name: githubapi.CheckName, Output: output})
		if r.failedForNow(err) {
			// Not shown: the next try writes it, unless a newer report
			// comes first.
			r.mu.Lock()
			r.dirty, r.reported = true, r.reported || reported
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
		r.task.StatusCommentID, r.unrecorded = c.GetID(), true
		return nil
	})
}

// recordTimeout is how long recording the status comment may take. The
// loop records it, and Finish waits for the loop: a database that stalls
// must not take the final report's time.
const recordTimeout = 10 * time.Second

// recordStatusComment records the status comment this reporter made, if
// it is not recorded yet. The loop tries again while it fails, and Finish
// once more: a comment not recorded is one the next attempt makes anew,
// beside it, and one that a later process cannot end.
func (r *taskReporter) recordStatusComment(ctx context.Context) error {
	if !r.unrecorded {
		return nil
	}
	// Not in the throttle's turn: the database is no GitHub write, and
	// must not hold back those of the task.
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(r.p.recordWithin, recordTimeout))
	defer cancel()
	if err := r.p.Comments.SetStatusComment(ctx, r.task.ID, r.task.StatusCommentID); err != nil {
		r.log.Error().Err(err).Int64("comment_id", r.task.StatusCommentID).Msg("Could not record the status comment.")
		return fmt.Errorf("record status comment: %w", err)
	}
	r.unrecorded = false
	return nil
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

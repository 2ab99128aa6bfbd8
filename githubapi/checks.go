package githubapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/tasks"
)

// CheckName is the name of oneshot's check run; the handlers know our runs
// by it and by the App that made them.
const CheckName = "oneshot"

// Identifiers of the buttons on our check runs.
const (
	ActionRetry  = "retry"
	ActionCancel = "cancel"
)

var (
	retryButton  = &github.CheckRunAction{Label: "Retry", Description: "Run this task again", Identifier: ActionRetry}
	cancelButton = &github.CheckRunAction{Label: "Cancel", Description: "Stop this task", Identifier: ActionCancel}
)

// TaskURL is the page of a task on the bot, the check run's details link.
func TaskURL(publicURL, taskID string) string {
	return strings.TrimSuffix(publicURL, "/") + "/tasks/" + taskID
}

// CheckRunURL is a check run's page on GitHub, where its output is shown
// to those who may read the repository; "" without a check run.
func CheckRunURL(webURL, repo string, checkRunID int64) string {
	if checkRunID == 0 {
		return ""
	}
	return fmt.Sprintf("%s/%s/runs/%d", strings.TrimSuffix(webURL, "/"), repo, checkRunID)
}

// QueuedRun is what the queued check run of a task's attempt is made of.
type QueuedRun struct {
	TaskID  string
	Attempt int
	// DeliveryID is the trigger's. Two retries of a task make runs alike
	// in all else; a try of one finds its own run by it, never the other's.
	DeliveryID string
	DetailsURL string
}

// mark is hidden in the run's summary (an HTML comment, which GitHub
// does not show), naming its delivery by a digest of it.
func (q QueuedRun) mark() string {
	return "<!-- oneshot: made for delivery " + tasks.IDFor(q.DeliveryID) + " -->"
}

// QueueCheckRun creates the queued check run of a task's attempt on a
// commit, with a Cancel button. Its external ID is the task ID, which is how
// a re-run or a button press finds the task again.
func (r *Repo) QueueCheckRun(ctx context.Context, headSHA string, q QueuedRun) (int64, error) {
	run, _, err := r.Client.Checks.CreateCheckRun(ctx, r.Owner, r.Name, github.CreateCheckRunOptions{
		Name:       CheckName,
		HeadSHA:    headSHA,
		DetailsURL: &q.DetailsURL,
		ExternalID: &q.TaskID,
		Status:     github.String("queued"),
		Output: &github.CheckRunOutput{
			Title:   github.String(checkRunTitle(tasks.Queued, q.Attempt)),
			Summary: github.String("oneshot will start on this as soon as a worker is free.\n\n" + q.mark()),
		},
		Actions: []*github.CheckRunAction{cancelButton},
	})
	if err != nil && MayHaveHappened(err) {
		// It may have been made: a caller that tried again would make a
		// second, left queued for good.
		look, cancel := lookContext(ctx)
		defer cancel()
		if id := r.FindCheckRun(look, headSHA, q); id != 0 {
			return id, nil
		}
	}
	if err != nil {
		return 0, fmt.Errorf("create check run on %s: %w", r.FullName(), err)
	}
	return run.GetID(), nil
}

// FindCheckRun returns the ID of the check run QueueCheckRun made for q on
// headSHA that is still queued as made, or 0. An earlier attempt's run may
// be unconcluded too, its conclusion still being tried, and another
// delivery's retry of the task may have made one for the same attempt:
// neither is this one.
func (r *Repo) FindCheckRun(ctx context.Context, headSHA string, q QueuedRun) int64 {
	return r.findQueuedRun(ctx, headSHA, func(run *github.CheckRun) bool {
		return run.GetExternalID() == q.TaskID && run.GetOutput().GetTitle() == checkRunTitle(tasks.Queued, q.Attempt) &&
			strings.Contains(run.GetOutput().GetSummary(), q.mark())
	})
}

// FindDeliveryRun returns the ID of a check run QueueCheckRun made on
// headSHA for a trigger's delivery, whatever task and attempt it was for,
// that is still queued as made, or 0.
func (r *Repo) FindDeliveryRun(ctx context.Context, headSHA, deliveryID string) int64 {
	mark := QueuedRun{DeliveryID: deliveryID}.mark()
	return r.findQueuedRun(ctx, headSHA, func(run *github.CheckRun) bool {
		return strings.HasPrefix(run.GetOutput().GetTitle(), stateTitle[tasks.Queued]+" (attempt ") &&
			strings.Contains(run.GetOutput().GetSummary(), mark)
	})
}

// findQueuedRun returns the ID of the first queued check run of ours on
// headSHA that matches, or 0.
func (r *Repo) findQueuedRun(ctx context.Context, headSHA string, matches func(*github.CheckRun) bool) int64 {
	// Every queued run of the name, not GitHub's default of the latest one
	// only: another task's may have been made on the commit since, and on
	// a busy repository's head more than a page of them.
	opts := &github.ListCheckRunsOptions{
		CheckName: github.String(CheckName), Status: github.String("queued"), Filter: github.String("all"),
		ListOptions: github.ListOptions{PerPage: 100},
	}
	for page := 0; page < maxCheckRunPages; page++ {
		runs, resp, err := r.Client.Checks.ListCheckRunsForRef(ctx, r.Owner, r.Name, headSHA, opts)
		if err != nil {
			return 0
		}
		for _, run := range runs.CheckRuns {
			if run.GetStatus() == "queued" && matches(run) {
				return run.GetID()
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return 0
}

// maxCheckRunPages bounds FindCheckRun's look: a commit with more than
// a thousand runs queued is not one it waits through.
const maxCheckRunPages = 10

// Notifier shows each state change of an attempt on its check run: in
// progress, back in the queue, or concluded with a Retry button. It
// implements tasks.Notifier.
type Notifier struct {
	Clients githubapp.ClientCreator
	Logger  zerolog.Logger
	// Throttle spaces the writes of each task; the reporter shares it.
	Throttle *Throttle
	// Progress, when set, writes the output of running attempts' check
	// runs; the notifier then sets only their status. It also shows on the
	// issue the ends no reporter of this process showed.
	Progress Reports
}

// Reports is what shows attempts' progress; forge.Progress is one.
type Reports interface {
	// Owns reports whether a reporter writes a check run's output: while
	// its attempt runs, and after, once its final output is written.
	Owns(checkRunID int64) bool
	// Release forgets a check run once its attempt has concluded.
	Release(checkRunID int64)
	// Ended shows on the issue how an attempt ended that no reporter
	// here saw end: one cancelled before it ran, or ended by the queue
	// after the process running it died.
	Ended(ctx context.Context, t *tasks.Task, e tasks.Event)
	// Missed shows on the issue what the final writes of an attempt's
	// reporter, which showed its end on the check run, did not: the final
	// comment, and the end on a status comment still showing the attempt
	// under way. It fails when the issue cannot be read.
	Missed(ctx context.Context, t *tasks.Task, e tasks.Event) error
}

var _ tasks.Notifier = (*Notifier)(nil)

// Changed updates the check run. A failure is logged, not returned: the
// task's own state is already recorded, and GitHub being down must not
// undo it. A conclusion GitHub may take later is returned as owed: a check
// run left in progress shows the task running for ever, with no Retry
// button.
func (n *Notifier) Changed(ctx context.Context, t *tasks.Task, e tasks.Event) []byte {
	if t.CheckRunID == 0 {
		return nil
	}
	log := n.logger(t).With().Int("attempt", e.Attempt).Logger()
	update := checkRunUpdate(t, e)
	switch {
	case n.Progress == nil:
	case n.Progress.Owns(t.CheckRunID):
		update.Output = nil // the reporter's output stays
		if e.State.Final() || e.State == tasks.Queued {
			defer n.Progress.Release(t.CheckRunID)
		}
	case e.State.Final() && e.State != tasks.Succeeded:
		// After the check run, as a reporter writes them. A success is
		// only ever a runner's, whose reporter shows it.
		defer n.Progress.Ended(ctx, t, e)
	}
	err := n.update(ctx, t, t.CheckRunID, update)
	if err != nil && e.State.Final() && failedForNow(err) {
		log.Warn().Err(err).Str("state", string(e.State)).Msg("Could not conclude the check run; the queue will try again.")
		owed, err := json.Marshal(owedConclusion{CheckRunID: t.CheckRunID, Update: update})
		if err != nil {
			log.Error().Err(err).Msg("Could not keep the conclusion to try it again.")
			return nil
		}
		return owed
	}
	if err != nil {
		log.Error().Err(err).Str("state", string(e.State)).Msg("Could not show the task's state on its check run.")
	}
	return nil
}

// owedConclusion is a conclusion GitHub did not take, for the check run of
// the attempt that ended: a later attempt has a run of its own.
type owedConclusion struct {
	CheckRunID int64                        `json:"check_run_id"`
	Update     github.UpdateCheckRunOptions `json:"update"`
}

// Resend tries a conclusion Changed owed again. It returns an error while
// GitHub fails for now; GitHub's refusal is logged, and is the end of it.
func (n *Notifier) Resend(ctx context.Context, t *tasks.Task, owed []byte) error {
	log := n.logger(t)
	var c owedConclusion
	if err := json.Unmarshal(owed, &c); err != nil || c.CheckRunID == 0 {
		log.Error().Err(err).Msg("Cannot read a conclusion kept to try again; it is dropped.")
		return nil
	}
	err := n.update(ctx, t, c.CheckRunID, c.Update)
	switch {
	case err == nil:
		log.Info().Int64("check_run_id", c.CheckRunID).Msg("Concluded the check run.")
		return nil
	case failedForNow(err):
		return err
	default:
		log.Error().Err(err).Int64("check_run_id", c.CheckRunID).Msg("Could not conclude the check run.")
		return nil
	}
}

// Confirm concludes an attempt's check run from e, the end the queue
// recorded, when the run is not concluded: the process that recorded the
// end died before it showed it. When the attempt's reporter had written
// its final report there (the run's title no longer says the attempt is
// under way), only the conclusion was lost, and the report stays;
// otherwise e's words go in. The end gets the issue's final comment, if
// it has none: the reporter's may have met a GitHub that failed for
// longer than it could wait, however its check run ended. (A success's
// pull request is open whatever its comments say.)
func (n *Notifier) Confirm(ctx context.Context, t *tasks.Task, checkRunID int64, e tasks.Event) error {
	log := n.logger(t).With().Int("attempt", e.Attempt).Int64("check_run_id", checkRunID).Logger()
	repo, err := ForRepo(n.Clients, t.InstallationID, t.Repo)
	if err != nil {
		return err
	}
	run, _, err := repo.Client.Checks.GetCheckRun(ctx, repo.Owner, repo.Name, checkRunID)
	switch {
	case err != nil && failedForNow(err):
		return err
	case err != nil:
		log.Error().Err(err).Msg("Could not read the check run to see that its attempt's end shows.")
		return nil
	}
	reported := !UnderWay(run.GetOutput().GetTitle())
	if run.GetStatus() != "completed" {
		update := checkRunUpdate(t, e)
		if reported {
			update.Output = nil
		}
		if err := n.update(ctx, t, checkRunID, update); err != nil {
			if failedForNow(err) {
				return err
			}
			log.Error().Err(err).Msg("Could not conclude the check run.")
			return nil
		}
		log.Warn().Str("state", string(e.State)).Msg("Concluded a check run its attempt's end had not reached.")
	}
	// The issue's comments are the latest attempt's: a later one, started
	// meanwhile, speaks there now.
	if n.Progress == nil || t.Attempt != e.Attempt {
		return nil
	}
	if !reported {
		n.Progress.Ended(ctx, t, e)
		return nil
	}
	// The reporter wrote its report; what it wrote on the issue may have
	// met a GitHub that failed for longer than it could wait.
	return n.Progress.Missed(ctx, t, e)
}

// UnderWay says whether a check run's title, or a status comment's, is one
// an attempt's has while it is not over: this notifier's "Queued (attempt
// 1)" or "Running (attempt 1)", or a reporter's "Running: verify",
// "Finishing" or, for an attempt handed back to run again, "Back in the
// queue: ...".
func UnderWay(title string) bool {
	return title == "" || title == "Finishing" || strings.HasPrefix(title, "Running") ||
		strings.HasPrefix(title, "Queued") || strings.HasPrefix(title, "Back in the queue")
}

func (n *Notifier) logger(t *tasks.Task) zerolog.Logger {
	return n.Logger.With().Str("task_id", t.ID).Str("repo", t.Repo).Int("issue", t.Issue).
		Str("delivery_id", t.DeliveryID).Logger()
}

func (n *Notifier) update(ctx context.Context, t *tasks.Task, checkRunID int64, update github.UpdateCheckRunOptions) error {
	repo, err := ForRepo(n.Clients, t.InstallationID, t.Repo)
	if err != nil {
		return err
	}
	return n.Throttle.Do(ctx, t.ID, Write{}, func(context.Context) error {
		_, _, err := repo.Client.Checks.UpdateCheckRun(ctx, repo.Owner, repo.Name, checkRunID, update)
		return err
	})
}

func checkRunUpdate(t *tasks.Task, e tasks.Event) github.UpdateCheckRunOptions {
	opts := github.UpdateCheckRunOptions{Name: CheckName}
	title := checkRunTitle(e.State, e.Attempt)
	opts.Output = &github.CheckRunOutput{Title: &title, Summary: github.String(summary(e))}
	switch e.State {
	case tasks.Running:
		opts.Status = github.String("in_progress")
		opts.Actions = []*github.CheckRunAction{cancelButton}
	case tasks.Queued:
		opts.Status = github.String("queued")
		opts.Actions = []*github.CheckRunAction{cancelButton}
	default:
		opts.Status = github.String("completed")
		opts.Conclusion = github.String(conclusion[e.State])
		opts.CompletedAt = &github.Timestamp{Time: time.Now()}
		opts.Actions = []*github.CheckRunAction{retryButton}
	}
	return opts
}

// checkRunTitle is a check run's title in a state.
func checkRunTitle(s tasks.State, attempt int) string {
	return fmt.Sprintf("%s (attempt %d)", stateTitle[s], attempt)
}

var stateTitle = map[tasks.State]string{
	tasks.Queued:    "Queued",
	tasks.Running:   "Running",
	tasks.Succeeded: "Done",
	tasks.Failed:    "Failed",
	tasks.Cancelled: "Cancelled",
	tasks.TimedOut:  "Timed out",
}

var conclusion = map[tasks.State]string{
	tasks.Succeeded: "success",
	tasks.Failed:    "failure",
	tasks.Cancelled: "cancelled",
	tasks.TimedOut:  "timed_out",
}

func summary(e tasks.Event) string {
	if e.Detail == "" {
		return stateTitle[e.State] + "."
	}
	return e.Detail
}

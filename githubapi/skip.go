package githubapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/oneshot-dev/oneshot/tasks"
)

// Skip says why a check run's attempt will never run, and how the run may
// run again.
type Skip struct {
	Why string
	// Retry offers the Retry button, which the run's re-run does too:
	// the run names a task that exists, whose next attempt they make, or
	// the issue a skipped start was on (StartOn). Without it the run
	// shows no button: its Cancel, and a Retry, would do nothing.
	Retry bool
	// StartOn, when not 0, is the issue a start was skipped on, whose
	// task was never made, and Digest the issue as its trigger saw it:
	// the run's re-run and its Retry start one there (see
	// tasks.StartOnID).
	StartOn int
	Digest  string
	// Instructions are the skipped start's, which the run keeps in its
	// text for its re-run and Retry to give again.
	Instructions string
}

// SkipCheckRun concludes a check run that will never run as skipped.
func (r *Repo) SkipCheckRun(ctx context.Context, id int64, skip Skip) error {
	summary := skip.Why
	opts := github.UpdateCheckRunOptions{
		Name:        CheckName,
		Status:      github.String("completed"),
		Conclusion:  github.String("skipped"),
		CompletedAt: &github.Timestamp{Time: time.Now()},
		Output:      &github.CheckRunOutput{Title: github.String("Skipped"), Summary: &summary},
	}
	actions := []*github.CheckRunAction{}
	if skip.StartOn != 0 && skip.Instructions != "" {
		text := instructionsText(skip.Instructions)
		if len(text) > maxOutputText {
			// A re-run would start without them: none is offered.
			skip.StartOn, skip.Retry = 0, false
			summary += "\n\nIts instructions are too long to keep here: comment again to start."
		} else {
			opts.Output.Text = &text
		}
	}
	if skip.Retry {
		actions = append(actions, retryButton)
	}
	if skip.StartOn != 0 {
		opts.ExternalID = github.String(tasks.StartOnID(skip.StartOn, skip.Digest))
		summary += fmt.Sprintf("\n\nRe-run this check, or press Retry, to start on #%d again.", skip.StartOn)
	}
	// go-github leaves out an empty list of actions, which GitHub takes
	// for "keep the buttons": the queued run's Cancel would stay.
	body := struct {
		github.UpdateCheckRunOptions
		Actions []*github.CheckRunAction `json:"actions"`
	}{opts, actions}
	req, err := r.Client.NewRequest(http.MethodPatch, fmt.Sprintf("repos/%s/%s/check-runs/%d", r.Owner, r.Name, id), body)
	if err == nil {
		_, err = r.Client.Do(ctx, req, nil)
	}
	if err != nil {
		return fmt.Errorf("skip check run %d on %s: %w", id, r.FullName(), err)
	}
	return nil
}

// maxOutputText is GitHub's limit on a check run's summary, and on its
// text, in bytes.
const maxOutputText = 65535

// instructionsHeading opens the text of a skipped start's check run that
// keeps the start's instructions.
const instructionsHeading = "The instructions this start was given, which its re-run gives again:"

// instructionsText shows a skipped start's instructions in a code block
// that nothing in them can close.
func instructionsText(instructions string) string {
	longest, run := 0, 0
	for _, c := range instructions {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	return instructionsHeading + "\n\n" + fence + "\n" + instructions + "\n" + fence
}

// SkippedInstructions returns the instructions a skipped start's check
// run keeps in its text (see Skip), or "" when it keeps none. Only this
// App writes its check runs' text.
func SkippedInstructions(text string) string {
	rest, ok := strings.CutPrefix(text, instructionsHeading+"\n\n")
	if !ok {
		return ""
	}
	fence, body, ok := strings.Cut(rest, "\n")
	if !ok || len(fence) < 3 || strings.Trim(fence, "`") != "" {
		return ""
	}
	body, ok = strings.CutSuffix(body, "\n"+fence)
	if !ok {
		return ""
	}
	return body
}

// NoteOnCheckRun adds note to the end of a check run's summary, once,
// leaving its conclusion, text and buttons as they were: how a run that
// cannot run again answers its re-run, which GitHub offers on every run.
func (r *Repo) NoteOnCheckRun(ctx context.Context, id int64, note string) error {
	run, _, err := r.Client.Checks.GetCheckRun(ctx, r.Owner, r.Name, id)
	if err != nil {
		return fmt.Errorf("read check run %d on %s: %w", id, r.FullName(), err)
	}
	out := run.GetOutput()
	summary := out.GetSummary()
	if strings.HasSuffix(summary, note) {
		return nil
	}
	if summary != "" {
		summary += "\n\n"
	}
	if summary += note; len(summary) > maxOutputText {
		summary = note
	}
	title := out.GetTitle()
	if title == "" {
		title = CheckName
	}
	// Output is given whole, text too, so that nothing in it is lost
	// whether GitHub replaces the output or merges it.
	_, _, err = r.Client.Checks.UpdateCheckRun(ctx, r.Owner, r.Name, id, github.UpdateCheckRunOptions{
		Name:   CheckName,
		Output: &github.CheckRunOutput{Title: &title, Summary: &summary, Text: out.Text},
	})
	if err != nil {
		return fmt.Errorf("note on check run %d on %s: %w", id, r.FullName(), err)
	}
	return nil
}

package forge

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/tasks"
)

func TestLimitKeepsWideCharactersWithinGitHubsByteLimit(t *testing.T) {
	for _, text := range []string{
		strings.Repeat("✅ passed\n", 10_000), // three bytes a mark
		strings.Repeat("x", maxOutput+1),
		strings.Repeat("é", maxOutput),
	} {
		got := limit(text, maxOutput)
		if len(got) > maxOutput || !utf8.ValidString(got) || !strings.HasSuffix(got, "[... cut ...]") {
			t.Errorf("cut to %d bytes, valid %v, ends %q", len(got), utf8.ValidString(got), got[max(0, len(got)-20):])
		}
	}
	if short := "✅ passed"; limit(short, maxOutput) != short {
		t.Error("a short text was changed")
	}
	// Bytes that are not UTF-8, which JSON would send as three bytes each.
	binary := strings.Repeat("\xff", 40_000)
	if got := limit(binary, maxOutput); len(got) > maxOutput || !utf8.ValidString(got) {
		t.Errorf("binary output: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}

func TestAFinalCommentFitsAndEndsWithWhatPeopleCanDo(t *testing.T) {
	checks := make([]pipeline.CheckResult, 40)
	for i := range checks {
		checks[i] = pipeline.CheckResult{Name: "check", Command: strings.Repeat("x", 2000), Passed: true}
	}
	details := "```\n" + strings.Repeat("a failing line\n", 10_000) + "```"
	for _, rep := range []pipeline.Report{
		{Final: &pipeline.Outcome{State: tasks.Succeeded}, Checks: checks, Published: pipeline.Published{URL: "https://x/pull/1"}},
		{Final: &pipeline.Outcome{State: tasks.Failed, Reason: "checks fail", Details: details}, LogsURL: "https://x/tasks/t1"},
	} {
		got := finalComment(rep, "/oneshot")
		if len(got) > maxOutput {
			t.Errorf("%s: %d bytes", rep.Final.State, len(got))
		}
		if rep.Final.State == tasks.Failed && (!strings.HasSuffix(got, "Logs: https://x/tasks/t1") || !strings.Contains(got, "`/oneshot retry`")) {
			t.Errorf("the advice or the logs were cut: %q", got[max(0, len(got)-300):])
		}
	}
}

func TestTheFinalCommentAdvisesTheConfiguredCommand(t *testing.T) {
	for _, state := range []tasks.State{tasks.Failed, tasks.Cancelled, tasks.TimedOut} {
		rep := pipeline.Report{Final: &pipeline.Outcome{State: state, Reason: "it stopped"}}
		if got := finalComment(rep, "/bot"); !strings.Contains(got, "`/bot retry`") {
			t.Errorf("%s: final comment %q does not advise /bot retry", state, got)
		}
	}
}

// The Retry button runs from the issue as it was approved: after a stop
// that needs it approved again, only a comment can go on.
func TestAStopThatOnlyACommentCanGoOnFromAdvisesNoButton(t *testing.T) {
	rep := pipeline.Report{Final: &pipeline.Outcome{State: tasks.Failed, Reason: "the issue was edited", ByCommentOnly: true}}
	got := finalComment(rep, "/oneshot")
	if !strings.Contains(got, "To try again, comment `/oneshot retry`.") || strings.Contains(got, "press Retry") {
		t.Errorf("final comment %q, want a retry comment advised and no button", got)
	}
}

func TestTheFinalCheckRunTextKeepsTheNewestStepsWhenNotAllFit(t *testing.T) {
	// Verify and fix, five rounds each, every output long and wide: more
	// than the check run holds. The last verify is why the attempt ended.
	r := &taskReporter{finished: true}
	for i := range 12 {
		step := fmt.Sprintf("verify %d", i)
		if i%2 == 1 {
			step = fmt.Sprintf("fix %d", i)
		}
		tail := sandbox.NewOutputBuffer(2 * finalStepTail)
		tail.Write([]byte(strings.Repeat("─ output line of "+step+"\n", 1000)))
		r.outputs = append(r.outputs, stepOutput{step: step, tail: tail})
	}
	_, text, _, _ := r.snapshot()
	if len(text) > maxOutput || !strings.Contains(text, "### fix 11, its end") || !strings.Contains(text, "### verify 10, its end") ||
		!strings.HasPrefix(text, "(The output of") {
		t.Fatalf("%d bytes, starting %q", len(text), text[:min(len(text), 200)])
	}
}

// A final summary whose checks' table and failing output together pass
// GitHub's limit leaves the output to the text, which has it with each
// step's: cut, the summary would end inside the output's code block.
func TestAFinalSummaryTooLongForGitHubLeavesTheFailingOutputToTheText(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	checks := make([]pipeline.CheckResult, 120)
	for i := range checks {
		checks[i] = pipeline.CheckResult{Name: fmt.Sprintf("check %d", i), Command: strings.Repeat("x", 1000), ExitCode: 1}
	}
	details := "```\n" + strings.Repeat("a failing line\n", 2700) + "```\n"
	r := n.progress.For(n.task)
	r.Log(sandbox.Event{Phase: "verify", Data: []byte("a failing line\n")})
	r.Finish(t.Context(), pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "verify", State: pipeline.StepFailed}}, Checks: checks,
		Final: &pipeline.Outcome{State: tasks.Failed, Reason: "120 of 120 checks still fail", Details: details}})
	out := n.gh.CheckRuns(n.repo)[0].Output
	if len(out.Summary) > maxOutput || strings.Contains(out.Summary, "[... cut ...]") || strings.Count(out.Summary, "```")%2 != 0 ||
		!strings.Contains(out.Summary, "| check 119 |") || !strings.Contains(out.Summary, "in the text below") {
		t.Fatalf("a summary of %d bytes, ending %q", len(out.Summary), out.Summary[max(0, len(out.Summary)-200):])
	}
	if !strings.Contains(out.Text, "a failing line") {
		t.Fatalf("the text %q lacks the failing output", out.Text)
	}
}

func TestAProgressWriteGitHubRateLimitsDoesNotHoldBackThePullRequest(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	// GitHub asks the first progress write to come back in a minute,
	// which the client would wait out had it been asked to retry.
	n.gh.SecondaryRateLimit("PATCH", "/repos/{owner}/{repo}/check-runs/{id}", time.Minute, 1)
	r := n.progress.For(n.task)
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "ship", State: pipeline.StepRunning}}})
	waitForRequest(t, n.gh, "PATCH", "/repos/acme/widgets/check-runs/"+strconv.FormatInt(n.task.CheckRunID, 10))

	// The pull request's write, which Publish gives two minutes.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := n.progress.Throttle.Do(ctx, n.task.ID, githubapi.Write{Creates: true}, func(context.Context) error { return nil }); err != nil {
		t.Fatalf("the pull request's write waited behind a rate-limited progress write: %v", err)
	}
	r.Finish(t.Context(), pipeline.Report{Task: n.task, Final: &pipeline.Outcome{State: tasks.Failed, Reason: "the checks failed"}})
	if title := n.gh.CheckRuns(n.repo)[0].Output.Title; !strings.Contains(title, "the checks failed") {
		t.Fatalf("the check run is titled %q after the final report", title)
	}
}

func TestAStatusCommentEditThatGaveWayIsMadeAtTheNextTurn(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	r := n.progress.For(n.task)
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "setup", State: pipeline.StepRunning}, {Name: "gather", State: pipeline.StepPending}}})
	id := n.comments.wait(t, n.task.ID)
	n.task.StatusCommentID = id

	// The edit for the next step is rate-limited, and gives way to the
	// pull request while it waits to retry.
	edit := "/repos/acme/widgets/issues/comments/" + strconv.FormatInt(id, 10)
	n.gh.SecondaryRateLimit("PATCH", edit, time.Minute, 1)
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "setup", State: pipeline.StepPassed}, {Name: "gather", State: pipeline.StepRunning}}})
	waitForRequest(t, n.gh, "PATCH", edit)
	if err := n.progress.Throttle.Do(t.Context(), n.task.ID, githubapi.Write{Creates: true}, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}

	// The step's output, which changes no step, brings the next turn.
	r.Log(sandbox.Event{Phase: "gather", Data: []byte("reading the issue\n")})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, _ := n.gh.Comment(id); strings.Contains(c.Body, "gather: running") {
			break
		}
		if time.Now().After(deadline) {
			c, _ := n.gh.Comment(id)
			t.Fatalf("the status comment still says %q", c.Body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.Finish(t.Context(), pipeline.Report{Task: n.task, Final: &pipeline.Outcome{State: tasks.Failed, Reason: "gather failed"}})
}

// A step can run for many minutes without a word; a progress write GitHub
// failed at its start is made again meanwhile, not at the next report.
func TestAProgressWriteGitHubFailedIsMadeAgainWithoutANewReport(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	n.progress.retryFirst = 100 * time.Millisecond
	run := "/repos/acme/widgets/check-runs/" + strconv.FormatInt(n.task.CheckRunID, 10)
	n.gh.Fail("PATCH", "/repos/{owner}/{repo}/check-runs/{id}", http.StatusInternalServerError, 1)
	r := n.progress.For(n.task)
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "implement", State: pipeline.StepRunning}}})
	waitForRequest(t, n.gh, "PATCH", run)
	waitUntil(t, "the check run to show the step running", func() bool {
		return strings.Contains(n.gh.CheckRuns(n.repo)[0].Output.Summary, "implement")
	})
	r.Finish(t.Context(), pipeline.Report{Task: n.task, Final: &pipeline.Outcome{State: tasks.Failed, Reason: "the checks failed"}})
}

// A progress write that gave way to the pull request's, while it waited on
// GitHub's rate limit, is made again, though nothing new is reported.
func TestAProgressWriteThatGaveWayIsMadeAgainWithoutANewReport(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	n.progress.retryFirst = 100 * time.Millisecond
	n.gh.SecondaryRateLimit("PATCH", "/repos/{owner}/{repo}/check-runs/{id}", time.Minute, 1)
	r := n.progress.For(n.task)
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "ship", State: pipeline.StepRunning}}})
	waitForRequest(t, n.gh, "PATCH", "/repos/acme/widgets/check-runs/"+strconv.FormatInt(n.task.CheckRunID, 10))
	if err := n.progress.Throttle.Do(t.Context(), n.task.ID, githubapi.Write{Creates: true}, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the check run to show the step running", func() bool {
		return strings.Contains(n.gh.CheckRuns(n.repo)[0].Output.Summary, "ship")
	})
	r.Finish(t.Context(), pipeline.Report{Task: n.task, Final: &pipeline.Outcome{State: tasks.Failed, Reason: "stopped"}})
}

// An agent that prints all the time costs a check run write every
// outputWriteGap, not one a second: every task of an installation spends
// one rate limit. A step that changes is shown at once.
func TestAChattyStepIsShownEveryFewSecondsAndAStepChangeAtOnce(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	r := n.progress.For(n.task)
	const writes = "/repos/{owner}/{repo}/check-runs/{id}"
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "implement", State: pipeline.StepRunning}}})
	waitUntil(t, "the step to show", func() bool { return n.gh.Count("PATCH", writes) == 1 })
	// Three seconds of output, well within outputWriteGap.
	for i := range 30 {
		r.Log(sandbox.Event{Phase: "implement", Data: fmt.Appendf(nil, "line %d\n", i)})
		time.Sleep(100 * time.Millisecond)
	}
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "implement", State: pipeline.StepPassed}, {Name: "verify", State: pipeline.StepRunning}}})
	waitUntil(t, "the next step to show", func() bool {
		return strings.Contains(n.gh.CheckRuns(n.repo)[0].Output.Summary, "verify")
	})
	if got := n.gh.Count("PATCH", writes); got != 2 {
		t.Fatalf("%d check run writes, want the first step's and the next's only", got)
	}
	r.Finish(t.Context(), pipeline.Report{Task: n.task, Final: &pipeline.Outcome{State: tasks.Failed, Reason: "stopped"}})
}

// Output held back is shown when the gap has passed, with no new report.
func TestOutputHeldBackIsShownAfterTheGap(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	n.progress.outputGap = 200 * time.Millisecond
	r := n.progress.For(n.task)
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "implement", State: pipeline.StepRunning}}})
	waitUntil(t, "the step to show", func() bool { return n.gh.Count("PATCH", "/repos/{owner}/{repo}/check-runs/{id}") == 1 })
	r.Log(sandbox.Event{Phase: "implement", Data: []byte("the agent is thinking\n")})
	waitUntil(t, "the output to show", func() bool {
		return strings.Contains(n.gh.CheckRuns(n.repo)[0].Output.Text, "the agent is thinking")
	})
	r.Finish(t.Context(), pipeline.Report{Task: n.task, Final: &pipeline.Outcome{State: tasks.Failed, Reason: "stopped"}})
}

// A step that has printed nothing yet is said to have, not shown with the
// output of the step before it.
func TestAStepThatPrintedNothingYetIsNotShownWithTheOutputBefore(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	n.progress.outputGap = time.Millisecond
	r := n.progress.For(n.task)
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "setup", State: pipeline.StepRunning}}})
	r.Log(sandbox.Event{Phase: "setup", Data: []byte("npm ci output\n")})
	waitUntil(t, "setup's output to show", func() bool {
		return strings.Contains(n.gh.CheckRuns(n.repo)[0].Output.Text, "npm ci output")
	})
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "setup", State: pipeline.StepPassed}, {Name: "implement", State: pipeline.StepRunning}}})
	waitUntil(t, "implement to show", func() bool {
		return strings.Contains(n.gh.CheckRuns(n.repo)[0].Output.Title, "implement")
	})
	if text := n.gh.CheckRuns(n.repo)[0].Output.Text; text != "implement has printed nothing yet." {
		t.Fatalf("the check run's text is %q while implement has printed nothing", text)
	}
	r.Finish(t.Context(), pipeline.Report{Task: n.task, Final: &pipeline.Outcome{State: tasks.Failed, Reason: "stopped"}})
}

// Bytes that are no text are shown as replacement characters, three bytes
// each, and the text still keeps to GitHub's limit.
func TestOutputThatIsNoTextKeepsTheCheckRunWithinItsLimit(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	n.progress.outputGap = time.Millisecond
	r := n.progress.For(n.task)
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "implement", State: pipeline.StepRunning}}})
	r.Log(sandbox.Event{Phase: "implement", Data: bytes.Repeat([]byte("\xff\n"), 40<<10)})
	r.Log(sandbox.Event{Phase: "implement", Data: []byte("the last line\n")})
	waitUntil(t, "the output to show", func() bool {
		return strings.Contains(n.gh.CheckRuns(n.repo)[0].Output.Text, "the last line")
	})
	if text := n.gh.CheckRuns(n.repo)[0].Output.Text; len(text) > maxOutput || !strings.HasSuffix(text, "```\n") {
		t.Fatalf("the text has %d bytes, ending %q", len(text), text[max(0, len(text)-40):])
	}
	r.Finish(t.Context(), pipeline.Report{Task: n.task, Final: &pipeline.Outcome{State: tasks.Failed, Reason: "stopped"}})
}

package forge

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/tasks"
)

func TestAnAttemptEndedAfterItsProcessDiedIsShownOnTheIssue(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	ctx := t.Context()

	// The first process runs the attempt and shows its first step, then dies.
	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Running, Detail: "started"})
	r := n.progress.For(n.task)
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "setup", State: pipeline.StepRunning}}})
	n.task.StatusCommentID = n.comments.wait(t, n.task.ID)
	waitUntil(t, "the check run shows the first step", func() bool {
		return strings.Contains(n.gh.CheckRuns(n.repo)[0].Output.Summary, "setup")
	})

	// The queue of a later process ends it without running it.
	n.restart(t)
	const why = "the attempt was interrupted 2 times before it could finish"
	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: why})

	if run := n.gh.CheckRuns(n.repo)[0]; run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, why) {
		t.Fatalf("check run concluded %q: %q", run.Conclusion, run.Output.Summary)
	}
	comments := n.botComments()
	if len(comments) != 2 {
		t.Fatalf("bot comments: %+v", comments)
	}
	if status := comments[0].Body; strings.Contains(status, "Running") || !strings.Contains(status, why) {
		t.Fatalf("the status comment still says %q", status)
	}
	// It keeps the steps the attempt went through.
	if status := comments[0].Body; !strings.Contains(status, "setup") {
		t.Fatalf("the status comment lost its steps: %q", status)
	}
	if final := comments[1].Body; !strings.Contains(final, why) || !strings.Contains(final, "/oneshot retry") {
		t.Fatalf("final comment %q", final)
	}
}

// The final comment's marker is no secret: someone who ends a comment of
// their own with it does not keep the bot from saying how the attempt
// ended.
func TestAFinalCommentMarkerSomeoneElseWroteHidesNoFinalComment(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	ctx := t.Context()
	n.gh.AddComment(n.repo, 1, "mallory", "Nothing to see."+finalMarker(n.task))

	// The end is shown by the notifier, as after the process that ran
	// the attempt died, and then confirmed.
	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"})
	if finals := finalComments(n); finals != 1 {
		t.Fatalf("%d final comments from the bot: %+v", finals, n.botComments())
	}
	if err := n.notifier.Confirm(ctx, n.task, n.task.CheckRunID, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"}); err != nil {
		t.Fatal(err)
	}
	if finals := finalComments(n); finals != 1 {
		t.Fatalf("%d final comments from the bot after the confirm: %+v", finals, n.botComments())
	}
}

func TestAnAttemptItsReporterFinishedGetsOneFinalComment(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	ctx := t.Context()

	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Running, Detail: "started"})
	n.progress.For(n.task).Finish(ctx, checksFailed(n.task))
	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"})

	if finals := finalComments(n); finals != 1 {
		t.Fatalf("%d final comments: %+v", finals, n.botComments())
	}
}

// TestAnEndThatNeverReachedGitHubIsShownByItsConfirm has a process record
// attempts' ends and die before showing them: the queue's later confirm
// concludes each check run, keeping a report the attempt's reporter
// finished, and leaves one already concluded alone.
func TestAnEndThatNeverReachedGitHubIsShownByItsConfirm(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("the reporter never finished", func(t *testing.T) {
		t.Parallel()
		n := newNotifiedIssue(t)
		n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Running, Detail: "started"})
		n.restart(t)
		const why = "stopped during implement: the bot was killed"
		if err := n.notifier.Confirm(ctx, n.task, n.task.CheckRunID, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: why}); err != nil {
			t.Fatal(err)
		}
		if run := n.gh.CheckRuns(n.repo)[0]; run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, why) {
			t.Fatalf("check run concluded %q: %q", run.Conclusion, run.Output.Summary)
		}
		if comments := n.botComments(); len(comments) != 1 || !strings.Contains(comments[0].Body, why) {
			t.Fatalf("bot comments %+v, want the final one", comments)
		}
	})

	t.Run("a later attempt runs", func(t *testing.T) {
		t.Parallel()
		n := newNotifiedIssue(t)
		n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Running, Detail: "started"})
		n.restart(t)
		first := n.task.CheckRunID
		n.task.Attempt = 2 // retried meanwhile: the issue's comments are attempt 2's now
		if err := n.notifier.Confirm(ctx, n.task, first, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "killed"}); err != nil {
			t.Fatal(err)
		}
		if run := n.gh.CheckRuns(n.repo)[0]; run.Conclusion != "failure" {
			t.Fatalf("attempt 1's check run concluded %q", run.Conclusion)
		}
		if comments := n.botComments(); len(comments) != 0 {
			t.Fatalf("attempt 1's end was said on the issue while attempt 2 runs: %+v", comments)
		}
	})

	t.Run("the reporter finished", func(t *testing.T) {
		t.Parallel()
		n := newNotifiedIssue(t)
		n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Running, Detail: "started"})
		rep := checksFailed(n.task)
		n.progress.For(n.task).Finish(ctx, rep)
		n.restart(t) // the end was recorded, and the process died
		if err := n.notifier.Confirm(ctx, n.task, n.task.CheckRunID, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"}); err != nil {
			t.Fatal(err)
		}
		run := n.gh.CheckRuns(n.repo)[0]
		if run.Conclusion != "failure" || run.Output.Title != rep.Title() {
			t.Fatalf("check run concluded %q titled %q, want the reporter's %q", run.Conclusion, run.Output.Title, rep.Title())
		}
		if finals := finalComments(n); finals != 1 {
			t.Fatalf("%d final comments: %+v", finals, n.botComments())
		}

		// Concluded now: a second confirm writes nothing.
		patches := n.gh.Count("PATCH", "/repos/acme/widgets/check-runs/{id}")
		if err := n.notifier.Confirm(ctx, n.task, n.task.CheckRunID, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "x"}); err != nil {
			t.Fatal(err)
		}
		if n.gh.Count("PATCH", "/repos/acme/widgets/check-runs/{id}") != patches {
			t.Fatal("a confirm wrote to a concluded check run")
		}
	})
}

func TestAFinalCommentGitHubFailsForNowIsTriedAgain(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	r := n.verifying(t)
	// The next comment made is the final one.
	n.gh.Fail("POST", "/repos/acme/widgets/issues/{number}/comments", http.StatusBadGateway, 1)
	r.Finish(t.Context(), checksFailed(n.task))
	if finals := finalComments(n); finals != 1 {
		t.Fatalf("%d final comments after GitHub failed the first try: %+v", finals, n.botComments())
	}
}

// TestAFinalCheckRunOutputGitHubFailsForNowIsWrittenAgain: the
// notifier's words in its place would lose the steps and why the attempt
// stopped, the logs the final comment links to.
func TestAFinalCheckRunOutputGitHubFailsForNowIsWrittenAgain(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	ctx := t.Context()
	r := n.verifying(t)
	// Every try the client makes of the final output.
	n.gh.Fail("PATCH", "/repos/acme/widgets/check-runs/{id}", http.StatusBadGateway, githubapi.DefaultRetryAttempts)
	rep := checksFailed(n.task)
	rep.Final.Details = "go test ./... failed: TestParse"
	r.Finish(ctx, rep)
	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: rep.Final.Reason})

	run := n.gh.CheckRuns(n.repo)[0]
	if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, rep.Final.Details) {
		t.Fatalf("concluded %q with %q; want the reporter's summary, saying %q", run.Conclusion, run.Output.Summary, rep.Final.Details)
	}
}

// TestAStatusCommentGitHubFailsForNowAtTheEndIsEditedAgain: nothing later
// edits it, and it would say the attempt runs for good.
func TestAStatusCommentGitHubFailsForNowAtTheEndIsEditedAgain(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	r := n.verifying(t)
	// Every try the client makes of the final edit.
	n.gh.Fail("PATCH", "/repos/acme/widgets/issues/comments/{id}", http.StatusBadGateway, githubapi.DefaultRetryAttempts)
	r.Finish(t.Context(), checksFailed(n.task))
	for _, c := range n.botComments() {
		if c.ID == n.task.StatusCommentID && strings.Contains(c.Body, "Running") {
			t.Fatalf("the status comment still says the attempt runs: %q", c.Body)
		}
	}
	if finals := finalComments(n); finals != 1 {
		t.Fatalf("%d final comments: %+v", finals, n.botComments())
	}
}

// TestAConfirmSaysNothingTwiceWhenOnlyTheCheckRunMissedTheEnd has the
// reporter's final check run write fail while its comments go through:
// the confirm concludes the run, and posts no second final comment.
func TestAConfirmSaysNothingTwiceWhenOnlyTheCheckRunMissedTheEnd(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	ctx := t.Context()
	r := n.verifying(t)
	n.gh.Fail("PATCH", "/repos/acme/widgets/check-runs/{id}", http.StatusInternalServerError, 1)
	r.Finish(ctx, checksFailed(n.task))

	n.restart(t)
	if err := n.notifier.Confirm(ctx, n.task, n.task.CheckRunID, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"}); err != nil {
		t.Fatal(err)
	}
	if run := n.gh.CheckRuns(n.repo)[0]; run.Conclusion != "failure" {
		t.Fatalf("check run concluded %q", run.Conclusion)
	}
	if finals := finalComments(n); finals != 1 {
		t.Fatalf("%d final comments: %+v", finals, n.botComments())
	}
}

// TestAFinalCommentGitHubFailedForLongerThanTheReporterWaitedIsPostedByTheConfirm:
// the check run shows the end, and nothing else would say it on the issue.
func TestAFinalCommentGitHubFailedForLongerThanTheReporterWaitedIsPostedByTheConfirm(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	r := n.verifying(t)
	n.gh.Fail("POST", "/repos/acme/widgets/issues/{number}/comments", http.StatusBadGateway, 1)
	finish, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	r.Finish(finish, checksFailed(n.task))
	if run := n.gh.CheckRuns(n.repo)[0]; run.Output.Title == "" || strings.HasPrefix(run.Output.Title, "Running") {
		t.Fatalf("the check run is titled %q, want the end", run.Output.Title)
	}
	if finals := finalComments(n); finals != 0 {
		t.Fatalf("%d final comments, want none yet", finals)
	}

	// The queue records the end, which the reporter showed on the run.
	n.notifier.Changed(t.Context(), n.task, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"})
	if finals := finalComments(n); finals != 0 {
		t.Fatalf("%d final comments from the conclusion, want them left to the reporter", finals)
	}
	n.restart(t)
	if err := n.notifier.Confirm(t.Context(), n.task, n.task.CheckRunID, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"}); err != nil {
		t.Fatal(err)
	}
	if finals := finalComments(n); finals != 1 {
		t.Fatalf("%d final comments after the confirm: %+v", finals, n.botComments())
	}
	// The status comment's title says the end; its steps stay.
	status, _ := n.gh.Comment(n.task.StatusCommentID)
	if title, steps, _ := strings.Cut(status.Body, "\n"); strings.Contains(title, "Running") || !strings.Contains(title, "the checks failed") ||
		!strings.Contains(steps, "- verify") {
		t.Fatalf("the status comment reads %q, want the end in its title and its steps kept", status.Body)
	}
	// Said once: a second confirm finds it.
	if err := n.notifier.Confirm(t.Context(), n.task, n.task.CheckRunID, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"}); err != nil {
		t.Fatal(err)
	}
	if finals := finalComments(n); finals != 1 {
		t.Fatalf("%d final comments after a second confirm", finals)
	}
}

// A success's final comment, which GitHub failed for longer than the
// reporter waited, is posted by the confirm too, naming the pull request.
func TestASuccessWhoseFinalCommentGitHubFailedIsPostedByTheConfirm(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	r := n.verifying(t)
	n.gh.Fail("POST", "/repos/acme/widgets/issues/{number}/comments", http.StatusBadGateway, 1)
	n.gh.Fail("PATCH", "/repos/acme/widgets/issues/comments/{id}", http.StatusBadGateway, 1)
	finish, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	r.Finish(finish, pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "ship", State: pipeline.StepPassed}},
		Published: pipeline.Published{URL: "https://github.example/acme/widgets/pull/2", Number: 2},
		Final:     &pipeline.Outcome{State: tasks.Succeeded, Reason: "Opened pull request #2"}})
	if finals := finalComments(n); finals != 0 {
		t.Fatalf("%d final comments, want none yet", finals)
	}

	end := tasks.Event{Attempt: 1, State: tasks.Succeeded, Detail: "Opened pull request #2"}
	n.notifier.Changed(t.Context(), n.task, end)
	n.restart(t)
	if err := n.notifier.Confirm(t.Context(), n.task, n.task.CheckRunID, end); err != nil {
		t.Fatal(err)
	}
	var final string
	for _, c := range n.botComments() {
		if strings.HasPrefix(c.Body, "oneshot made") {
			final = c.Body
		}
	}
	if !strings.Contains(final, "Opened pull request #2.") {
		t.Fatalf("final comment %q, want it naming the pull request", final)
	}
	status, _ := n.gh.Comment(n.task.StatusCommentID)
	if title, _, _ := strings.Cut(status.Body, "\n"); strings.Contains(title, "Running") {
		t.Fatalf("the status comment reads %q, want the end in its title", status.Body)
	}
}

// The status comment is the task's: a later attempt that took it over
// keeps it, though the earlier one's end is confirmed after.
func TestAConfirmLeavesTheStatusCommentALaterAttemptTookOver(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	r := n.verifying(t)
	finish, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	n.gh.Fail("POST", "/repos/acme/widgets/issues/{number}/comments", http.StatusBadGateway, 1)
	r.Finish(finish, checksFailed(n.task))
	n.notifier.Changed(t.Context(), n.task, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"})

	repo, err := githubapi.ForRepo(n.clients, 7, "acme/widgets")
	if err != nil {
		t.Fatal(err)
	}
	second := "**oneshot**, attempt 2: Running: setup\n\n- setup: running\n"
	if _, _, err := repo.Client.Issues.EditComment(t.Context(), "acme", "widgets", n.task.StatusCommentID, &github.IssueComment{Body: &second}); err != nil {
		t.Fatal(err)
	}
	n.restart(t)
	if err := n.notifier.Confirm(t.Context(), n.task, n.task.CheckRunID, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"}); err != nil {
		t.Fatal(err)
	}
	if status, _ := n.gh.Comment(n.task.StatusCommentID); status.Body != second {
		t.Fatalf("the status comment reads %q, want attempt 2's left as it was", status.Body)
	}
}

// A confirm that cannot read the issue's comments says nothing, rather
// than say the end twice, and is tried again.
func TestAConfirmThatCannotReadTheIssueSaysNothingAndFails(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	r := n.verifying(t)
	r.Finish(t.Context(), checksFailed(n.task))
	n.notifier.Changed(t.Context(), n.task, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"})
	before := len(n.botComments())

	n.restart(t)
	n.gh.Fail("GET", "/repos/acme/widgets/issues/{number}/comments", http.StatusInternalServerError, -1)
	if err := n.notifier.Confirm(t.Context(), n.task, n.task.CheckRunID, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"}); err == nil {
		t.Fatal("the confirm did not fail, and would not be tried again")
	}
	if after := len(n.botComments()); after != before {
		t.Fatalf("%d bot comments after the confirm, %d before", after, before)
	}
}

func TestAnAttemptHandedBackAndNeverRunAgainIsConfirmedInWords(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	ctx := t.Context()
	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Running, Detail: "started"})
	// Handed back at shutdown; the process that took it again died first.
	n.progress.For(n.task).Finish(ctx, pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "setup", State: pipeline.StepRunning}},
		Final: &pipeline.Outcome{State: tasks.Queued, Reason: "the bot is restarting"}})
	n.restart(t)
	const why = "the attempt was interrupted 2 times before it could finish"
	if err := n.notifier.Confirm(ctx, n.task, n.task.CheckRunID, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: why}); err != nil {
		t.Fatal(err)
	}
	if run := n.gh.CheckRuns(n.repo)[0]; run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, why) {
		t.Fatalf("check run concluded %q: %q", run.Conclusion, run.Output.Summary)
	}
	if finals := finalComments(n); finals != 1 {
		t.Fatalf("%d final comments: %+v", finals, n.botComments())
	}
}

// verifying starts the issue's attempt and shows its verify step running,
// the status comment made, and returns the attempt's reporter.
func (n *notifiedIssue) verifying(t *testing.T) pipeline.Reporter {
	t.Helper()
	n.notifier.Changed(t.Context(), n.task, tasks.Event{Attempt: 1, State: tasks.Running, Detail: "started"})
	r := n.progress.For(n.task)
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "verify", State: pipeline.StepRunning}}})
	n.task.StatusCommentID = n.comments.wait(t, n.task.ID)
	return r
}

// checksFailed is the final report of an attempt whose checks failed.
func checksFailed(task *tasks.Task) pipeline.Report {
	return pipeline.Report{Task: task, Steps: []pipeline.Step{{Name: "verify", State: pipeline.StepFailed}},
		Final: &pipeline.Outcome{State: tasks.Failed, Reason: "the checks failed"}}
}

// finalComments counts the issue's final comments.
func finalComments(n *notifiedIssue) int {
	finals := 0
	for _, c := range n.botComments() {
		if strings.HasPrefix(c.Body, "oneshot stopped") || strings.HasPrefix(c.Body, "oneshot made") {
			finals++
		}
	}
	return finals
}

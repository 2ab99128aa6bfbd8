package forge

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/tasks"
)

func TestTheFinalReportDoesNotWaitForAProgressWriteGitHubHeldBack(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	gh, repo, p, task := n.gh, n.repo, n.progress, n.task

	// The status comment's first write is told to come back in a minute.
	const comments = "/repos/{owner}/{repo}/issues/{n}/comments"
	gh.SecondaryRateLimit("POST", comments, time.Minute, 1)
	r := p.For(task)
	rep := pipeline.Report{Task: task, Steps: []pipeline.Step{{Name: "setup", State: pipeline.StepRunning}}}
	r.Update(rep)
	waitForRequest(t, gh, "POST", "/repos/acme/widgets/issues/1/comments")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep.Steps[0].State = pipeline.StepFailed
	rep.Final = &pipeline.Outcome{State: tasks.Failed, Reason: "setup failed: no network"}
	r.Finish(ctx, rep)
	if ctx.Err() != nil {
		t.Fatal("the final report waited out the held-back write")
	}
	var final bool
	for _, c := range gh.Comments(repo, 1) {
		final = final || strings.Contains(c.Body, "no network")
	}
	if !final {
		t.Fatalf("no final comment: %+v", gh.Comments(repo, 1))
	}
}

func TestAConclusionGitHubFailsIsOwedAndCanBeSentByTheNextProcess(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	ctx := t.Context()
	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Running, Detail: "started"})
	n.progress.For(n.task).Finish(ctx, pipeline.Report{Task: n.task, Final: &pipeline.Outcome{State: tasks.Failed, Reason: "the checks failed"}})
	const checkRun = "/repos/acme/widgets/check-runs/{id}"
	n.gh.Fail("PATCH", checkRun, http.StatusBadGateway, githubapi.DefaultRetryAttempts+1)
	owed := n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"})
	if owed == nil || n.gh.CheckRuns(n.repo)[0].Status == "completed" {
		t.Fatalf("owed %q with the check run %s, want the conclusion owed", owed, n.gh.CheckRuns(n.repo)[0].Status)
	}

	// The bot restarts; GitHub is still down at the first try.
	n.restart(t)
	n.gh.Fail("PATCH", checkRun, http.StatusBadGateway, githubapi.DefaultRetryAttempts+1)
	if err := n.notifier.Resend(ctx, n.task, owed); err == nil {
		t.Fatal("a resend GitHub failed says it went through")
	}
	if err := n.notifier.Resend(ctx, n.task, owed); err != nil {
		t.Fatal(err)
	}
	run := n.gh.CheckRuns(n.repo)[0]
	if run.Status != "completed" || run.Conclusion != "failure" || len(run.Actions) != 1 || run.Actions[0].Identifier != githubapi.ActionRetry {
		t.Fatalf("check run %s %q with actions %+v, want failure with a Retry button", run.Status, run.Conclusion, run.Actions)
	}
	if !strings.Contains(run.Output.Title, "the checks failed") {
		t.Fatalf("output title %q: the reporter's output was replaced", run.Output.Title)
	}
}

func TestAConclusionGitHubRefusesIsNotOwed(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	ctx := t.Context()
	n.gh.Fail("PATCH", "/repos/acme/widgets/check-runs/{id}", http.StatusUnprocessableEntity, 1)
	if owed := n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"}); owed != nil {
		t.Fatalf("owed %q for a conclusion GitHub refused", owed)
	}
	if err := n.notifier.Resend(ctx, n.task, []byte("not what Changed owes")); err != nil {
		t.Fatalf("an owed write that cannot be read is tried again: %v", err)
	}
}

func TestAConclusionOwedToAnInstallationThatIsGoneIsDropped(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	ctx := t.Context()
	n.gh.Fail("PATCH", "/repos/acme/widgets/check-runs/{id}", http.StatusBadGateway, githubapi.DefaultRetryAttempts+1)
	owed := n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"})
	if owed == nil {
		t.Fatal("nothing owed")
	}
	// The next process asks for a token of an installation GitHub no
	// longer has.
	clients, err := githubapi.NewClientCreator(n.gh.AppConfig(), "test", githubapi.RetryPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	n.gh.Fail("POST", "/app/installations/{id}/access_tokens", http.StatusNotFound, -1)
	notifier := &githubapi.Notifier{Clients: clients, Throttle: &githubapi.Throttle{}, Logger: zerolog.New(zerolog.NewTestWriter(t))}
	if err := notifier.Resend(ctx, n.task, owed); err != nil {
		t.Fatalf("a resend to an installation that is gone would be tried again: %v", err)
	}
}

func TestADeletedStatusCommentIsWrittenAnew(t *testing.T) {
	n := newNotifiedIssue(t)
	r := n.progress.For(n.task)
	rep := pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "setup", State: pipeline.StepRunning}}}
	r.Update(rep)
	waitForRequest(t, n.gh, "POST", "/repos/acme/widgets/issues/1/comments")
	status := n.botComments()
	if len(status) != 1 {
		t.Fatalf("bot comments %+v", status)
	}
	// Someone deletes it while the attempt runs.
	n.gh.DeleteComment(n.repo, 1, status[0].ID)

	// A report of its own, as the pipeline passes: the reporter may still
	// be reading the one Update had.
	r.Finish(t.Context(), pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "setup", State: pipeline.StepFailed}},
		Final: &pipeline.Outcome{State: tasks.Failed, Reason: "setup failed: no network"}})
	var shown bool
	for _, c := range n.botComments() {
		shown = shown || (c.ID != status[0].ID && strings.Contains(c.Body, "setup: failed"))
	}
	if !shown {
		t.Fatalf("the status is not shown anew: %+v", n.botComments())
	}
}

func TestTheFinalReportIsShownThoughGitHubNeverAnswersAProgressWrite(t *testing.T) {
	t.Parallel()
	for name, stalled := range map[string]struct{ method, path string }{
		"the check run's edit":          {"PATCH", "/repos/{owner}/{repo}/check-runs/{id}"},
		"the status comment's creation": {"POST", "/repos/{owner}/{repo}/issues/{number}/comments"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n := newNotifiedIssue(t)
			reached := n.gh.Stall(stalled.method, stalled.path, 1)
			r := n.progress.For(n.task)
			r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "verify", State: pipeline.StepRunning}}})
			select {
			case <-reached:
			case <-time.After(10 * time.Second):
				t.Fatal("no progress write reached GitHub")
			}

			// The time an attempt handed back at a shutdown has for its report.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			r.Finish(ctx, pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "verify", State: pipeline.StepFailed}},
				Final: &pipeline.Outcome{State: tasks.Failed, Reason: "2 of 2 checks still fail"}})
			if title := n.gh.CheckRuns(n.repo)[0].Output.Title; !strings.Contains(title, "still fail") {
				t.Errorf("the check run is titled %q", title)
			}
			if finals := finalComments(n); finals != 1 {
				t.Errorf("%d final comments: %+v", finals, n.botComments())
			}
		})
	}
}

func TestARunWhoseFinalOutputGitHubFailedIsConcludedWithWordsOfItsOwn(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	ctx := t.Context()
	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Running, Detail: "started"})
	r := n.progress.For(n.task)
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "verify", State: pipeline.StepRunning}}})
	waitUntil(t, "the run shows verify running", func() bool {
		return strings.HasPrefix(n.gh.CheckRuns(n.repo)[0].Output.Title, "Running: verify")
	})

	// GitHub fails the final output's every try for longer than the
	// final report may wait, then is back.
	n.gh.Fail("PATCH", "/repos/{owner}/{repo}/check-runs/{id}", http.StatusBadGateway, githubapi.DefaultRetryAttempts)
	const why = "2 of 2 checks still fail"
	finishCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	r.Finish(finishCtx, pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "verify", State: pipeline.StepFailed}},
		Final: &pipeline.Outcome{State: tasks.Failed, Reason: why}})
	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: why})

	run := n.gh.CheckRuns(n.repo)[0]
	if run.Conclusion != "failure" || strings.HasPrefix(run.Output.Title, "Running") || !strings.Contains(run.Output.Summary, why) {
		t.Errorf("concluded %q titled %q: %q", run.Conclusion, run.Output.Title, run.Output.Summary)
	}
	if finals := finalComments(n); finals != 1 {
		t.Errorf("%d final comments: %+v", finals, n.botComments())
	}
}

// A status comment GitHub refuses for good (a locked issue) is not asked
// for again while the steps stay the same: tried on every line of output,
// it would take the check run's turns and count against GitHub's limits.
func TestAStatusCommentGitHubRefusesIsNotAskedForOnEveryLine(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	n.gh.Fail("POST", "/repos/{owner}/{repo}/issues/{number}/comments", http.StatusForbidden, -1)
	n.progress.outputGap = 100 * time.Millisecond // output shown as often as the throttle lets it
	r := n.progress.For(n.task)
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "agent", State: pipeline.StepRunning}}})
	edits := func() int { return n.gh.Count("PATCH", "/repos/{owner}/{repo}/check-runs/{id}") }
	waitUntil(t, "three check run edits while the agent writes", func() bool {
		r.Log(sandbox.Event{Phase: "agent", Data: []byte("working\n")})
		return edits() >= 3
	})
	if posts := n.gh.Count("POST", "/repos/{owner}/{repo}/issues/{number}/comments"); posts != 1 {
		t.Errorf("%d tries to make a status comment GitHub refuses, with no step changed", posts)
	}
	r.Finish(t.Context(), pipeline.Report{Task: n.task, Final: &pipeline.Outcome{State: tasks.Failed, Reason: "x"}})
}

// TestAPanicShowingProgressEndsNeitherTheBotNorTheFinalReport: the
// reporter's loop runs in a goroutine of its own, where a panic would end
// the bot and every task it runs.
func TestAPanicShowingProgressEndsNeitherTheBotNorTheFinalReport(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	ctx := t.Context()
	comments := &panicsOnce{StatusComments: n.comments}
	n.progress.Comments = comments
	r := n.progress.For(n.task)
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "verify", State: pipeline.StepRunning}}})
	waitUntil(t, "recording the status comment panicked", comments.panicked.Load)

	r.Finish(ctx, checksFailed(n.task))
	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"})
	if run := n.gh.CheckRuns(n.repo)[0]; run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, "verify") {
		t.Errorf("concluded %q with %q; want the reporter's summary", run.Conclusion, run.Output.Summary)
	}
	if finals := finalComments(n); finals != 1 {
		t.Errorf("%d final comments: %+v", finals, n.botComments())
	}
}

// panicsOnce panics the first time a status comment is recorded.
type panicsOnce struct {
	StatusComments
	panicked atomic.Bool
}

func (p *panicsOnce) SetStatusComment(ctx context.Context, taskID string, id int64) error {
	if p.panicked.CompareAndSwap(false, true) {
		panic("recording the status comment")
	}
	return p.StatusComments.SetStatusComment(ctx, taskID, id)
}

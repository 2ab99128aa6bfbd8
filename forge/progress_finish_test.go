package forge

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/pipeline"
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

func TestAConclusionGitHubFailsIsTriedAgainUntilItTakes(t *testing.T) {
	n := newNotifiedIssue(t)
	n.notifier.ConcludeRetry = 10 * time.Millisecond
	ctx := t.Context()
	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Running, Detail: "started"})
	n.progress.For(n.task).Finish(ctx, pipeline.Report{Task: n.task, Final: &pipeline.Outcome{State: tasks.Failed, Reason: "the checks failed"}})
	// Every try of the first update fails, and the first of the next.
	n.gh.Fail("PATCH", "/repos/acme/widgets/check-runs/{id}", http.StatusBadGateway, githubapi.DefaultRetryAttempts+1)
	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"})

	deadline := time.Now().Add(30 * time.Second)
	for {
		run := n.gh.CheckRuns(n.repo)[0]
		if run.Status == "completed" {
			if run.Conclusion != "failure" || len(run.Actions) != 1 || run.Actions[0].Identifier != githubapi.ActionRetry {
				t.Fatalf("concluded %q with actions %+v", run.Conclusion, run.Actions)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the check run is still %s", run.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStoppingTheNotifierEndsTheConclusionsTriedInTheBackground(t *testing.T) {
	n := newNotifiedIssue(t)
	ctx := t.Context()
	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Running, Detail: "started"})
	n.gh.Fail("PATCH", "/repos/acme/widgets/check-runs/{id}", http.StatusBadGateway, -1)
	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"})
	stopped := make(chan struct{})
	go func() {
		n.notifier.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("Stop waited on a conclusion GitHub never takes")
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

	rep.Steps[0].State = pipeline.StepFailed
	rep.Final = &pipeline.Outcome{State: tasks.Failed, Reason: "setup failed: no network"}
	r.Finish(t.Context(), rep)
	var shown bool
	for _, c := range n.botComments() {
		shown = shown || (c.ID != status[0].ID && strings.Contains(c.Body, "setup: failed"))
	}
	if !shown {
		t.Fatalf("the status is not shown anew: %+v", n.botComments())
	}
}

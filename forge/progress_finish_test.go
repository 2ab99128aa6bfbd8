package forge

import (
	"context"
	"strings"
	"testing"
	"time"

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

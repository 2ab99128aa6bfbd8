package forge

import (
	"strings"
	"testing"

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
	if final := comments[1].Body; !strings.Contains(final, why) || !strings.Contains(final, "/oneshot retry") {
		t.Fatalf("final comment %q", final)
	}
}

func TestAnAttemptItsReporterFinishedGetsOneFinalComment(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	ctx := t.Context()

	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Running, Detail: "started"})
	r := n.progress.For(n.task)
	rep := pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "verify", State: pipeline.StepFailed}},
		Final: &pipeline.Outcome{State: tasks.Failed, Reason: "the checks failed"}}
	r.Finish(ctx, rep)
	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Failed, Detail: "the checks failed"})

	var finals int
	for _, c := range n.botComments() {
		if strings.HasPrefix(c.Body, "oneshot stopped") {
			finals++
		}
	}
	if finals != 1 {
		t.Fatalf("%d final comments: %+v", finals, n.botComments())
	}
}

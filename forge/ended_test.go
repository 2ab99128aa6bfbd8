package forge

import (
	"strings"
	"testing"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/internal/githubtest"
	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/tasks"
)

// notifiedIssue is an issue on the fake GitHub with a task whose attempt
// has a queued check run, and a notifier and progress as `bot serve` wires
// them.
type notifiedIssue struct {
	gh       *githubtest.Server
	repo     *githubtest.Repo
	task     *tasks.Task
	comments *statusComments
	clients  githubapp.ClientCreator
	progress *Progress
	notifier *githubapi.Notifier
}

func newNotifiedIssue(t *testing.T) *notifiedIssue {
	t.Helper()
	gh := githubtest.New(t)
	gh.AddInstallation(7)
	repo := gh.AddRepo(t, "acme/widgets", map[string]string{"README.md": "# widgets\n"})
	repo.InstallationID = 7
	gh.AddIssue(repo, githubtest.Issue{Number: 1, Title: "Fix it"})
	clients, err := githubapi.NewClientCreator(gh.AppConfig(), "test", githubapi.RetryPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	task := &tasks.Task{ID: "t1", Repo: "acme/widgets", InstallationID: 7, Issue: 1, Attempt: 1}
	r, err := githubapi.ForRepo(clients, 7, "acme/widgets")
	if err != nil {
		t.Fatal(err)
	}
	if task.CheckRunID, err = r.QueueCheckRun(t.Context(), gh.Head(t, repo, repo.DefaultBranch), task.ID, 1, "http://bot/tasks/t1"); err != nil {
		t.Fatal(err)
	}
	n := &notifiedIssue{gh: gh, repo: repo, task: task, comments: &statusComments{}, clients: clients}
	n.restart(t)
	return n
}

// restart makes the progress and notifier of a new process.
func (n *notifiedIssue) restart(t *testing.T) {
	log := zerolog.New(zerolog.NewTestWriter(t))
	throttle := &githubapi.Throttle{}
	n.progress = &Progress{Clients: n.clients, Throttle: throttle, Comments: n.comments, Logger: log}
	n.notifier = &githubapi.Notifier{Clients: n.clients, Throttle: throttle, Logger: log, Progress: n.progress}
}

func (n *notifiedIssue) botComments() []githubtest.Comment {
	var out []githubtest.Comment
	for _, c := range n.gh.Comments(n.repo, 1) {
		if strings.HasSuffix(c.User, "[bot]") {
			out = append(out, c)
		}
	}
	return out
}

func TestAnAttemptEndedAfterItsProcessDiedIsShownOnTheIssue(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	ctx := t.Context()

	// The first process runs the attempt and shows its first step, then dies.
	n.notifier.Changed(ctx, n.task, tasks.Event{Attempt: 1, State: tasks.Running, Detail: "started"})
	r := n.progress.For(n.task)
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "setup", State: pipeline.StepRunning}}})
	waitForRequest(t, n.gh, "POST", "/repos/acme/widgets/issues/1/comments")
	id, ok := n.comments.Load(n.task.ID)
	if !ok {
		t.Fatal("the status comment was not recorded")
	}
	n.task.StatusCommentID = id.(int64)

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

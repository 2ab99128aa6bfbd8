package forge

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/internal/githubtest"
	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/tasks"
)

type statusComments struct{ sync.Map }

func (s *statusComments) SetStatusComment(_ context.Context, taskID string, id int64) error {
	s.Store(taskID, id)
	return nil
}

func TestTheFinalReportDoesNotWaitForAProgressWriteGitHubHeldBack(t *testing.T) {
	t.Parallel()
	gh := githubtest.New(t)
	gh.AddInstallation(7)
	repo := gh.AddRepo(t, "acme/widgets", map[string]string{"README.md": "# widgets\n"})
	repo.InstallationID = 7
	gh.AddIssue(repo, githubtest.Issue{Number: 1, Title: "Fix it"})
	clients, err := githubapi.NewClientCreator(gh.AppConfig(), "test", githubapi.RetryPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	p := &Progress{Clients: clients, Throttle: &githubapi.Throttle{}, Comments: &statusComments{}, Logger: zerolog.New(zerolog.NewTestWriter(t))}
	task := &tasks.Task{ID: "t1", Repo: "acme/widgets", InstallationID: 7, Issue: 1, Attempt: 1}

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

// waitForRequest waits, up to 10 s, for the fake to answer a request.
func waitForRequest(t *testing.T, gh *githubtest.Server, method, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, req := range gh.Requests() {
			if req.Method == method && req.Path == path && req.Status != 0 {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %s %s reached the fake", method, path)
}

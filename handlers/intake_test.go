package handlers_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/handlers"
	"github.com/oneshot-dev/oneshot/internal/githubtest"
	"github.com/oneshot-dev/oneshot/tasks"
)

// brokenQueue knows no task and records none: its database is failing.
type brokenQueue struct{ handlers.Work }

var errDatabase = errors.New("database is locked")

func (brokenQueue) Live(context.Context, string, int) (*tasks.Task, error) {
	return nil, tasks.ErrNotFound
}
func (brokenQueue) ByDelivery(context.Context, string) (*tasks.Task, int, error) {
	return nil, 0, tasks.ErrNotFound
}
func (brokenQueue) Create(context.Context, *tasks.Task) error { return errDatabase }

func newIntake(t *testing.T) (*handlers.Intake, *githubtest.Server, *githubtest.Repo) {
	t.Helper()
	gh := githubtest.New(t)
	gh.AddInstallation(7)
	repo := gh.AddRepo(t, "acme/widgets", map[string]string{"README.md": "# widgets\n"})
	repo.InstallationID = 7
	gh.AddIssue(repo, githubtest.Issue{Number: 1, Title: "Fix it"})
	gh.SetPermission(repo, "writer", "write")
	clients, err := githubapi.NewClientCreator(gh.AppConfig(), "test", githubapi.RetryPolicy{Attempts: 1, Base: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &handlers.Intake{
		Clients: clients, Queue: brokenQueue{}, PublicURL: "http://oneshot.test", Command: "/oneshot",
		Logger: zerolog.New(zerolog.NewTestWriter(t)),
	}, gh, repo
}

var trigger = tasks.Trigger{
	Event: "issues", Command: tasks.CommandStart, DeliveryID: "d1", Repo: "acme/widgets",
	InstallationID: 7, Issue: 1, Actor: "writer",
}

func TestACheckRunWhoseTaskWasNotQueuedDoesNotWaitAsQueued(t *testing.T) {
	t.Parallel()
	in, gh, repo := newIntake(t)
	if err := in.Intake(context.Background(), trigger); !errors.Is(err, errDatabase) {
		t.Fatalf("err = %v, want the queue's, so that the intake is tried again", err)
	}
	runs := gh.CheckRuns(repo)
	if len(runs) != 1 || runs[0].Status != "completed" || runs[0].Conclusion != "skipped" {
		t.Fatalf("check runs %+v, want one, skipped", runs)
	}
}

func TestATriggerGivenUpOnGetsAReplySayingWhy(t *testing.T) {
	t.Parallel()
	in, gh, repo := newIntake(t)
	in.GiveUp(context.Background(), trigger, errDatabase)
	comments := gh.Comments(repo, 1)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "@writer") || !strings.Contains(comments[0].Body, errDatabase.Error()) {
		t.Fatalf("comments %+v, want one to @writer saying why", comments)
	}
}

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
	repo := gh.AddInstalledRepo(t, 7, "acme/widgets", map[string]string{"README.md": "# widgets\n"})
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

// racedQueue is a queue where another trigger for the same issue queued a
// task between the intake's look and its insert.
type racedQueue struct {
	handlers.Work
	looked bool
}

var winner = &tasks.Task{ID: "twinner", Repo: "acme/widgets", Issue: 1, State: tasks.Queued}

func (q *racedQueue) Live(context.Context, string, int) (*tasks.Task, error) {
	if !q.looked {
		q.looked = true
		return nil, tasks.ErrNotFound
	}
	return winner, nil
}
func (*racedQueue) ByDelivery(context.Context, string) (*tasks.Task, int, error) {
	return nil, 0, tasks.ErrNotFound
}
func (*racedQueue) Create(context.Context, *tasks.Task) error { return tasks.ErrLive }

func TestATriggerThatLosesTheRaceForAnIssueSkipsItsCheckRunAndLinksTheWinner(t *testing.T) {
	t.Parallel()
	in, gh, repo := newIntake(t)
	in.Queue = &racedQueue{}
	if err := in.Intake(context.Background(), trigger); err != nil {
		t.Fatal(err)
	}
	runs := gh.CheckRuns(repo)
	if len(runs) != 1 || runs[0].Conclusion != "skipped" || !strings.Contains(runs[0].Output.Summary, "Another trigger") {
		t.Fatalf("check runs %+v, want one, skipped for the other trigger", runs)
	}
	comments := gh.Comments(repo, 1)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "already working") || !strings.Contains(comments[0].Body, winner.ID) {
		t.Fatalf("comments %+v, want one linking the winner", comments)
	}
}

// foreignQueue holds one task, of another repository than the trigger's,
// and records what is asked of it.
type foreignQueue struct {
	handlers.Work
	asked []string
}

var foreign = &tasks.Task{ID: "t0123456789abcdef", Repo: "victim/secret", RepoID: 99, Issue: 5, State: tasks.Failed}

func (q *foreignQueue) Get(context.Context, string) (*tasks.Task, error) { return foreign, nil }
func (q *foreignQueue) ByDelivery(context.Context, string) (*tasks.Task, int, error) {
	return nil, 0, tasks.ErrNotFound
}
func (q *foreignQueue) Retry(_ context.Context, id string, _ tasks.Start) (*tasks.Task, error) {
	q.asked = append(q.asked, "retry "+id)
	return foreign, nil
}
func (q *foreignQueue) Cancel(_ context.Context, id, _ string) (bool, error) {
	q.asked = append(q.asked, "cancel "+id)
	return true, nil
}

func TestAButtonNamingATaskOfAnotherRepositoryDoesNothing(t *testing.T) {
	t.Parallel()
	for _, command := range []tasks.Command{tasks.CommandRetry, tasks.CommandCancel} {
		in, gh, repo := newIntake(t)
		q := &foreignQueue{}
		in.Queue = q
		button := tasks.Trigger{Event: "check_run", Command: command, DeliveryID: "d1", Repo: "acme/widgets", RepoID: 1,
			InstallationID: 7, Actor: "writer", TaskID: foreign.ID, CheckRunID: 3}
		if err := in.Intake(context.Background(), button); err != nil {
			t.Fatal(err)
		}
		if len(q.asked) != 0 || len(gh.CheckRuns(repo)) != 0 {
			t.Errorf("%s: the queue was asked %v; check runs %+v", command, q.asked, gh.CheckRuns(repo))
		}
	}
}

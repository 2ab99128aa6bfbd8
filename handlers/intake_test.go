package handlers_test

import (
	"context"
	"errors"
	"net/http"
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

func (brokenQueue) Live(context.Context, int64, int) (*tasks.Task, error) {
	return nil, tasks.ErrNotFound
}
func (brokenQueue) ByDelivery(context.Context, string) (*tasks.Task, int, error) {
	return nil, 0, tasks.ErrNotFound
}
func (brokenQueue) Create(context.Context, *tasks.Task, tasks.Limits) error { return errDatabase }

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

func TestATriggerGivenUpOnGetsAReplyThatKeepsTheBotsErrorsToItsLog(t *testing.T) {
	t.Parallel()
	in, gh, repo := newIntake(t)
	in.GiveUp(context.Background(), trigger, errDatabase)
	comments := gh.Comments(repo, 1)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "@writer") || !strings.Contains(comments[0].Body, "delivery d1") ||
		!strings.Contains(comments[0].Body, "ask again later") || strings.Contains(comments[0].Body, errDatabase.Error()) {
		t.Fatalf("comments %+v, want one to @writer pointing at the log, not quoting it", comments)
	}
}

// The intake's own time running out may be why it is given up on.
func TestATriggerGivenUpOnIsAnsweredThoughTheIntakesTimeRanOut(t *testing.T) {
	t.Parallel()
	in, gh, repo := newIntake(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in.GiveUp(ctx, trigger, context.DeadlineExceeded)
	if comments := gh.Comments(repo, 1); len(comments) != 1 || !strings.Contains(comments[0].Body, "@writer") {
		t.Fatalf("comments %+v, want one to @writer", comments)
	}
}

// TestACancelGivenUpOnSaysTheTaskGoesOn: the person who asked to stop a
// task must not read that nothing runs.
func TestACancelGivenUpOnSaysTheTaskGoesOn(t *testing.T) {
	t.Parallel()
	in, gh, repo := newIntake(t)
	cancel := trigger
	cancel.Event, cancel.Command, cancel.CommentID = "issue_comment", tasks.CommandCancel, 42
	in.GiveUp(context.Background(), cancel, errDatabase)
	comments := gh.Comments(repo, 1)
	if len(comments) != 1 || strings.Contains(comments[0].Body, "nothing runs") || !strings.Contains(comments[0].Body, "goes on") ||
		!strings.Contains(comments[0].Body, "Cancel button") {
		t.Fatalf("comments %+v, want one saying the task goes on and how else to stop it", comments)
	}
}

// TestATriggerGitHubTurnsDownIsAnsweredAtOnce has GitHub refuse the
// permission check as it would an App without the permission: the intake
// ends at once with a reply quoting GitHub, rather than be tried for hours.
func TestATriggerGitHubTurnsDownIsAnsweredAtOnce(t *testing.T) {
	t.Parallel()
	in, gh, repo := newIntake(t)
	gh.Fail("GET", "/repos/acme/widgets/collaborators/{login}/permission", http.StatusForbidden, -1)
	if err := in.Intake(context.Background(), trigger); err != nil {
		t.Fatalf("err = %v, want none: trying again cannot help", err)
	}
	comments := gh.Comments(repo, 1)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "GitHub answered 403") || !strings.Contains(comments[0].Body, "will not help") {
		t.Fatalf("comments %+v, want one quoting GitHub's refusal", comments)
	}
}

// forgetfulQueue cannot say what a delivery queued: its database fails
// that one lookup. Everything else must not be asked.
type forgetfulQueue struct{ handlers.Work }

func (forgetfulQueue) ByDelivery(context.Context, string) (*tasks.Task, int, error) {
	return nil, 0, errDatabase
}

// TestARetriedIntakeThatCannotLookUpItsDeliveryStartsNothing: the first
// try may have queued the task; going on could start it twice, or close
// the check run the first try made for it.
func TestARetriedIntakeThatCannotLookUpItsDeliveryStartsNothing(t *testing.T) {
	t.Parallel()
	in, gh, repo := newIntake(t)
	in.Queue = forgetfulQueue{}
	if err := in.Intake(tasks.Retried(context.Background()), trigger); !errors.Is(err, errDatabase) {
		t.Fatalf("err = %v, want the queue's, so that the intake is tried again", err)
	}
	if runs, comments := gh.CheckRuns(repo), gh.Comments(repo, 1); len(runs) != 0 || len(comments) != 0 {
		t.Fatalf("check runs %+v, comments %+v, want none", runs, comments)
	}
}

// racedQueue is a queue where another trigger for the same issue queued a
// task between the intake's look and its insert.
type racedQueue struct {
	handlers.Work
	looked bool
	// winnerEnded says the winner ended before the loser looked again.
	winnerEnded bool
}

// Latest is the winner, once ended, asked by the same person as trigger.
func (q *racedQueue) Latest(context.Context, int64, int) (*tasks.Task, error) {
	ended := *winner
	ended.State, ended.Requester = tasks.Failed, trigger.Actor
	return &ended, nil
}

var winner = &tasks.Task{ID: "twinner", Repo: "acme/widgets", Issue: 1, State: tasks.Queued}

func (q *racedQueue) Live(context.Context, int64, int) (*tasks.Task, error) {
	if !q.looked || q.winnerEnded {
		q.looked = true
		return nil, tasks.ErrNotFound
	}
	return winner, nil
}
func (*racedQueue) ByDelivery(context.Context, string) (*tasks.Task, int, error) {
	return nil, 0, tasks.ErrNotFound
}
func (*racedQueue) Create(context.Context, *tasks.Task, tasks.Limits) error { return tasks.ErrLive }

func TestATriggerThatLosesTheRaceForAnIssueSkipsItsCheckRunAndLinksTheWinner(t *testing.T) {
	t.Parallel()
	in, gh, repo := newIntake(t)
	in.Queue = &racedQueue{}
	start := trigger
	start.IssueDigest = tasks.DigestOf("Fix it", "The parser crashes.")
	if err := in.Intake(context.Background(), start); err != nil {
		t.Fatal(err)
	}
	runs := gh.CheckRuns(repo)
	if len(runs) != 1 || runs[0].Conclusion != "skipped" || !strings.Contains(runs[0].Output.Summary, "Another trigger") {
		t.Fatalf("check runs %+v, want one, skipped for the other trigger", runs)
	}
	// No task has its ID: run again, it starts on the issue as the
	// trigger saw it.
	if runs[0].ExternalID != tasks.StartOnID(1, start.IssueDigest) || len(runs[0].Actions) != 1 || runs[0].Actions[0].Identifier != "retry" ||
		!strings.Contains(runs[0].Output.Summary, "start on #1 again") {
		t.Fatalf("skipped run %+v, want it named for a start on #1, with a Retry button", runs[0])
	}
	comments := gh.Comments(repo, 1)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "already working") || !strings.Contains(comments[0].Body, winner.ID) {
		t.Fatalf("comments %+v, want one linking the winner", comments)
	}
}

func TestATriggerThatLostTheRaceToATaskEndedSinceIsDoneAndNotTriedAgain(t *testing.T) {
	t.Parallel()
	in, gh, repo := newIntake(t)
	in.Queue = &racedQueue{winnerEnded: true}
	// An error would have the queue try the intake again, which would
	// find the issue free and start a second task.
	if err := in.Intake(context.Background(), trigger); err != nil {
		t.Fatalf("intake: %v; want it done", err)
	}
	runs := gh.CheckRuns(repo)
	if len(runs) != 1 || runs[0].Conclusion != "skipped" || !strings.Contains(runs[0].Output.Summary, "Another trigger") {
		t.Fatalf("check runs %+v, want one, skipped for the other trigger", runs)
	}
	// Someone else's request, which the winner did not answer, is taken
	// in again, to run.
	other := trigger
	other.Actor, other.DeliveryID = "maintainer", "d2"
	gh.SetPermission(repo, "maintainer", "maintain")
	in.Queue = &racedQueue{winnerEnded: true}
	if err := in.Intake(context.Background(), other); err == nil {
		t.Fatal("another person's trigger that lost to an ended task is done; want it tried again")
	}
}

// askedAgainQueue is a queue where the actor's later trigger on the
// issue started a task, which has ended, while this one's intake waited
// to be tried again.
type askedAgainQueue struct {
	handlers.Work
	later   *tasks.Task
	created int
}

func (*askedAgainQueue) ByDelivery(context.Context, string) (*tasks.Task, int, error) {
	return nil, 0, tasks.ErrNotFound
}
func (*askedAgainQueue) Live(context.Context, int64, int) (*tasks.Task, error) {
	return nil, tasks.ErrNotFound
}
func (q *askedAgainQueue) Latest(context.Context, int64, int) (*tasks.Task, error) {
	return q.later, nil
}
func (*askedAgainQueue) OverLimit(context.Context, int64, string, tasks.Limits) (*tasks.Limited, error) {
	return nil, nil
}
func (q *askedAgainQueue) Create(context.Context, *tasks.Task, tasks.Limits) error {
	q.created++
	return nil
}

func TestAStartTriedAgainAfterItsActorAskedAgainStartsNothing(t *testing.T) {
	t.Parallel()
	came := time.Now().Add(-time.Hour)
	start := trigger
	start.ReceivedAt = came
	for _, tc := range []struct {
		requester, instructions string
		want                    int
	}{{"writer", "", 0}, {"someone-else", "", 1}, {"writer", "use the v2 API", 1}} {
		in, _, _ := newIntake(t)
		q := &askedAgainQueue{later: &tasks.Task{ID: "tlater", Repo: "acme/widgets", Issue: 1, State: tasks.Failed,
			Requester: tc.requester, Instructions: tc.instructions, CreatedAt: came.Add(20 * time.Minute)}}
		in.Queue = q
		if err := in.Intake(tasks.Retried(context.Background()), start); err != nil {
			t.Fatal(err)
		}
		if q.created != tc.want {
			t.Errorf("a later task of %s asking %q: %d tasks created, want %d", tc.requester, tc.instructions, q.created, tc.want)
		}
	}
}

// overtakenQueue is a queue where other triggers met the repository's
// limit between the intake's count and its insert.
type overtakenQueue struct{ handlers.Work }

func (overtakenQueue) ByDelivery(context.Context, string) (*tasks.Task, int, error) {
	return nil, 0, tasks.ErrNotFound
}
func (overtakenQueue) Live(context.Context, int64, int) (*tasks.Task, error) {
	return nil, tasks.ErrNotFound
}
func (overtakenQueue) OverLimit(context.Context, int64, string, tasks.Limits) (*tasks.Limited, error) {
	return nil, nil // 2 of 3 started, as it looked
}
func (overtakenQueue) Create(_ context.Context, _ *tasks.Task, limits tasks.Limits) error {
	return &tasks.Limited{Started: limits.PerRepo}
}

func TestAStartThatMeetsALimitAsItIsRecordedSkipsItsCheckRunAndSaysSo(t *testing.T) {
	t.Parallel()
	in, gh, repo := newIntake(t)
	in.Queue, in.TasksPerRepoPerHour = overtakenQueue{}, 3
	if err := in.Intake(context.Background(), trigger); err != nil {
		t.Fatal(err)
	}
	runs := gh.CheckRuns(repo)
	if len(runs) != 1 || runs[0].Conclusion != "skipped" || !strings.Contains(runs[0].Output.Summary, "rate limit") {
		t.Fatalf("check runs %+v, want one, skipped for the limit", runs)
	}
	comments := gh.Comments(repo, 1)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "started 3 tasks on acme/widgets in the last hour") {
		t.Fatalf("comments %+v, want one saying the limit was met", comments)
	}
}

// A skipped start keeps its instructions for its re-run, which has only
// the check run to go on; ones too long to keep offer no re-run that
// would drop them.
func TestASkippedStartKeepsItsInstructionsForItsRerun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		instructions string
		kept         bool
	}{
		{"use the v2 API\n\n```go\nclient.V2()\n```\n````\nnot closed", true},
		{strings.Repeat("long ", 14000), false},
	} {
		in, gh, repo := newIntake(t)
		in.Queue, in.TasksPerRepoPerHour = overtakenQueue{}, 3
		start := trigger
		start.Instructions = tc.instructions
		if err := in.Intake(context.Background(), start); err != nil {
			t.Fatal(err)
		}
		run := gh.CheckRuns(repo)[0]
		got := githubapi.SkippedInstructions(run.Output.Text)
		offered := len(run.Actions) == 1 && strings.HasPrefix(run.ExternalID, "start-on-issue-1")
		if tc.kept && (got != tc.instructions || !offered) {
			t.Fatalf("skipped run %+v keeps instructions %q, want %q and a re-run", run, got, tc.instructions)
		}
		if !tc.kept && (got != "" || offered || !strings.Contains(run.Output.Summary, "comment again")) {
			t.Fatalf("skipped run %+v with instructions too long to keep offers a re-run", run)
		}
	}
}

// foreignQueue holds one live task, of another repository than the
// trigger's, and records what is asked of it. Everything an intake goes on
// to ask has an answer, so that one that went on could act on the task.
type foreignQueue struct {
	handlers.Work
	task  *tasks.Task
	asked []string
}

func (q *foreignQueue) Get(context.Context, string) (*tasks.Task, error) { return q.task, nil }
func (q *foreignQueue) ByDelivery(context.Context, string) (*tasks.Task, int, error) {
	return nil, 0, tasks.ErrNotFound
}
func (q *foreignQueue) Live(context.Context, int64, int) (*tasks.Task, error) {
	return nil, tasks.ErrNotFound
}
func (q *foreignQueue) EarlierStartWaiting(context.Context, tasks.Trigger) (bool, error) {
	return false, nil
}
func (q *foreignQueue) OverLimit(context.Context, int64, string, tasks.Limits) (*tasks.Limited, error) {
	return nil, nil
}
func (q *foreignQueue) Retry(_ context.Context, id string, _ tasks.Start) (*tasks.Task, error) {
	q.asked = append(q.asked, "retry "+id)
	return q.task, nil
}
func (q *foreignQueue) CancelAttempt(_ context.Context, id string, _ int, _ string) (bool, error) {
	q.asked = append(q.asked, "cancel "+id)
	return true, nil
}

func TestAButtonNamingATaskOfAnotherRepositoryDoesNothing(t *testing.T) {
	t.Parallel()
	// Each as its button finds it: a task ended, to retry; one running,
	// to cancel from its run.
	for command, state := range map[tasks.Command]tasks.State{tasks.CommandRetry: tasks.Failed, tasks.CommandCancel: tasks.Running} {
		in, gh, repo := newIntake(t)
		foreign := &tasks.Task{ID: "t0123456789abcdef", Repo: "victim/secret", RepoID: 99, Issue: 5, State: state, CheckRunID: 3}
		q := &foreignQueue{task: foreign}
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

package server_test

// Commands on issues and on oneshot's check runs: starts, retries, re-runs,
// cancels and help, and how they meet when they come close together.

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/internal/githubtest"
	"github.com/oneshot-dev/oneshot/tasks"
)

func TestARerunOfOurCheckRunStartsTheNextAttemptOfTheSameTask(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.runner.open()
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, wait, "attempt 1 to end", func() bool { s, _ := b.state(t); return s == tasks.Succeeded })
	task := b.onlyTask(t)
	run := b.gh.CheckRuns(b.repo)[0]

	b.deliver(t, "check_run", "check_run.rerequested", b.ourRun(run, "writer"))
	waitFor(t, wait, "attempt 2 to end", func() bool { s, n := b.state(t); return n == 2 && s == tasks.Succeeded })
	if got := b.runner.starts(); !slices.Equal(got, []string{task.ID + "#1", task.ID + "#2"}) {
		t.Fatalf("attempts run: %v", got)
	}
	// GitHub is told after the database, in the task's next write turn.
	waitFor(t, wait, "the second check run to conclude", func() bool {
		runs := b.gh.CheckRuns(b.repo)
		return len(runs) == 2 && runs[1].Conclusion == "success"
	})
	if runs := b.gh.CheckRuns(b.repo); runs[1].ExternalID != task.ID {
		t.Fatalf("check runs %+v", runs)
	}

	// A re-run of another App's check run is not ours to act on.
	id := b.deliver(t, "check_run", "check_run.rerequested", func(p map[string]any) {
		b.ourRun(run, "writer")(p)
		p["check_run"].(map[string]any)["app"].(map[string]any)["id"] = 999
	})
	if b.seen(t, id) {
		t.Fatal("another app's re-run was accepted")
	}
}

// A start skipped before its task was made (a limit met, another trigger
// first) leaves a check run no task has: its re-run is that start again.
func TestARerunOfASkippedStartsCheckRunStartsOnItsIssue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.runner.open()
	digest := tasks.DigestOf("Fix it", "The parser crashes.")
	skipped := githubtest.CheckRun{ID: 4242, Name: "oneshot", ExternalID: tasks.StartOnID(1, digest), HeadSHA: b.gh.Head(t, b.repo, "main")}
	skipped.Output.Text = "The instructions this start was given, which its re-run gives again:\n\n```\nuse the v2 API\n```"
	b.deliver(t, "check_run", "check_run.rerequested", b.ourRun(skipped, "writer"))
	waitFor(t, wait, "a task on #1", func() bool { s, n := b.state(t); return n == 1 && s == tasks.Succeeded })
	// As the skipped trigger saw it and was told: an edit since is not
	// what was asked.
	if task := b.onlyTask(t); task.Issue != 1 || task.Kind != tasks.KindIssue || task.IssueDigest != digest || task.Instructions != "use the v2 API" {
		t.Fatalf("task %+v, want a start on #1 as its skipped trigger saw it, with its instructions", task)
	}

	// Its Cancel, had it one, has nothing to stop.
	id := b.deliver(t, "check_run", "check_run.requested_action", b.pressed(skipped, "cancel", "writer"))
	if b.seen(t, id) {
		t.Fatal("a cancel on a skipped start's run was taken in")
	}
}

// A run whose task was never recorded (a follow-up skipped before it was
// made, a database begun afresh) cannot run again; GitHub still offers its
// re-run, which the run itself answers.
func TestARerunOfACheckRunWhoseTaskIsUnknownSaysSoOnTheRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	skipped := b.gh.AddCheckRun(b.repo, githubtest.CheckRun{
		Name: "oneshot", ExternalID: tasks.IDFor("a delivery never recorded"), HeadSHA: b.gh.Head(t, b.repo, "main"),
		Status: "completed", Conclusion: "skipped",
		Output: githubtest.CheckRunOutput{Title: "Skipped", Summary: "Another trigger started a task first.", Text: "kept"},
	})
	const note = "oneshot cannot run this again: it has no record of the task this check run was for. To start one, comment `/oneshot <what to do>` on its issue or pull request."
	b.deliver(t, "check_run", "check_run.rerequested", b.ourRun(skipped, "writer"))
	waitFor(t, wait, "the note on the run", func() bool {
		return strings.Contains(b.gh.CheckRuns(b.repo)[0].Output.Summary, note)
	})
	// Its Retry, had it one, is answered the same, and noted once.
	b.deliver(t, "check_run", "check_run.requested_action", b.pressed(skipped, "retry", "writer"))
	waitFor(t, wait, "the press answered", func() bool { return strings.Count(b.logs.String(), "cannot run again") == 2 })
	run := b.gh.CheckRuns(b.repo)[0]
	if want := skipped.Output.Summary + "\n\n" + note; run.Output.Summary != want || run.Output.Text != "kept" || run.Conclusion != "skipped" {
		t.Fatalf("the run shows %+v, conclusion %s; want its summary noted once, its text and conclusion kept", run.Output, run.Conclusion)
	}
	if got := b.tasks(t); len(got) != 0 || len(b.gh.CheckRuns(b.repo)) != 1 {
		t.Fatalf("a re-run of a run with no task made tasks %v or runs", got)
	}
}

func TestTheCancelAndRetryButtonsWork(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, wait, "the attempt to start", func() bool { return len(b.runner.starts()) == 1 })
	run := b.gh.CheckRuns(b.repo)[0]

	b.deliver(t, "check_run", "check_run.requested_action", b.pressed(run, "cancel", "maintainer"))
	waitFor(t, wait, "the cancel", func() bool { s, _ := b.state(t); return s == tasks.Cancelled })
	waitFor(t, wait, "the check run to say cancelled", func() bool {
		return b.gh.CheckRuns(b.repo)[0].Conclusion == "cancelled"
	})

	b.runner.open()
	b.deliver(t, "check_run", "check_run.requested_action", b.pressed(run, "retry", "writer"))
	waitFor(t, wait, "attempt 2", func() bool { s, n := b.state(t); return n == 2 && s == tasks.Succeeded })
}

// The check run, with its Cancel button, is made before its task is
// recorded; here GitHub lost its answer, and the start looks for the run
// it may have made. A press meanwhile names a task not known yet: it
// waits for the start, and stops the task it makes.
func TestTheCancelButtonPressedBeforeItsTaskIsRecordedStopsIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gh.FailAfterServing("POST", "/repos/acme/widgets/check-runs", http.StatusBadGateway, 1)
	arrived, release := b.gh.Hold("GET", "/repos/acme/widgets/commits/{ref}/check-runs")
	defer release()
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	select {
	case <-arrived:
	case <-time.After(wait):
		t.Fatal("the start never looked for the check run it made")
	}
	run := b.gh.CheckRuns(b.repo)[0]
	b.deliver(t, "check_run", "check_run.requested_action", b.pressed(run, "cancel", "writer"))
	waitFor(t, wait, "the press to wait for the start", func() bool {
		return strings.Contains(b.logs.String(), "The check run's task is not recorded yet")
	})
	release()

	waitFor(t, wait, "the cancel", func() bool { s, _ := b.state(t); return s == tasks.Cancelled })
	waitFor(t, wait, "the check run to say cancelled", func() bool {
		runs := b.gh.CheckRuns(b.repo)
		return len(runs) == 1 && runs[0].Conclusion == "cancelled"
	})
}

func TestTheCancelButtonOfAnEarlierAttemptsRunLeavesTheRunningOneAlone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, wait, "attempt 1 to start", func() bool { return len(b.runner.starts()) == 1 })
	first := b.gh.CheckRuns(b.repo)[0]
	b.deliver(t, "check_run", "check_run.requested_action", b.pressed(first, "cancel", "writer"))
	waitFor(t, wait, "the cancel", func() bool { s, _ := b.state(t); return s == tasks.Cancelled })
	b.deliver(t, "check_run", "check_run.requested_action", b.pressed(first, "retry", "writer"))
	waitFor(t, wait, "attempt 2 to start", func() bool { return len(b.runner.starts()) == 2 })

	b.deliver(t, "check_run", "check_run.requested_action", b.pressed(first, "cancel", "writer"))
	waitFor(t, wait, "the reply", func() bool {
		return slices.ContainsFunc(b.botComments(1), func(c string) bool { return strings.Contains(c, "that run's attempt had already ended") })
	})
	if s, n := b.state(t); s != tasks.Running || n != 2 {
		t.Fatalf("attempt %d is %s, want attempt 2 running", n, s)
	}
}

func TestCommentCommandsCancelRetryAndHelp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot  please keep it small", "writer"))
	waitFor(t, wait, "the attempt to start", func() bool { return len(b.runner.starts()) == 1 })
	if got := b.onlyTask(t).Instructions; got != "please keep it small" {
		t.Fatalf("instructions %q", got)
	}
	comment := b.gh.Reactions(b.repo)[0]
	if comment.CommentID == 0 || comment.Content != "eyes" {
		t.Fatalf("the reaction is not on the comment: %+v", comment)
	}

	// A second start on the busy issue gets a link, not a second task.
	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot", "writer"))
	waitFor(t, wait, "the busy reply", func() bool { return len(b.botComments(1)) == 1 })
	if reply := b.botComments(1)[0]; !strings.Contains(reply, "already working") || !strings.Contains(reply, b.onlyTask(t).ID) {
		t.Fatalf("reply %q", reply)
	}

	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot cancel", "writer"))
	waitFor(t, wait, "the cancel", func() bool { s, _ := b.state(t); return s == tasks.Cancelled })
	// The test's runner shows nothing itself, so the notifier says how it ended.
	waitFor(t, wait, "the final comment", func() bool { return len(b.botComments(1)) == 2 })
	if final := b.botComments(1)[1]; !strings.Contains(final, "cancelled") || !strings.Contains(final, "/oneshot retry") {
		t.Fatalf("final comment %q", final)
	}

	b.runner.open()
	b.deliver(t, "issue_comment", "issue_comment.created", commented("/ONESHOT Retry", "writer"))
	waitFor(t, wait, "the retry", func() bool { s, n := b.state(t); return n == 2 && s == tasks.Succeeded })

	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot help", "reader"))
	waitFor(t, wait, "the help", func() bool { return len(b.botComments(1)) == 3 })
	if help := b.botComments(1)[2]; !strings.Contains(help, "/oneshot cancel") {
		t.Fatalf("help %q", help)
	}
}

// TestACancelThatOvertakesItsStartStillStopsIt: intakes run side by side,
// so a cancel can be taken in while the start before it is still making
// its check run. It must not answer that there is nothing to cancel and
// let the task run.
func TestACancelThatOvertakesItsStartStillStopsIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	arrived, release := b.gh.Hold("POST", "/repos/acme/widgets/check-runs")
	defer release()
	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot fix it", "writer"))
	select {
	case <-arrived:
	case <-time.After(wait):
		t.Fatal("the start never made its check run")
	}
	b.deliver(t, "issue_comment", "issue_comment.created", func(p map[string]any) {
		commented("/oneshot cancel", "writer")(p)
		p["comment"].(map[string]any)["id"] = 902
	})
	waitFor(t, wait, "the cancel to wait for the start", func() bool {
		return strings.Contains(b.logs.String(), "The cancel waits for a start received before it")
	})
	release()

	waitFor(t, wait, "the cancel", func() bool { s, _ := b.state(t); return s == tasks.Cancelled })
	waitFor(t, wait, "the check run to say cancelled", func() bool {
		runs := b.gh.CheckRuns(b.repo)
		return len(runs) == 1 && runs[0].Conclusion == "cancelled"
	})
	for _, c := range b.botComments(1) {
		if strings.Contains(c, "nothing to cancel") {
			t.Fatalf("the bot answered %q", c)
		}
	}
	waitFor(t, wait, "the 👀 on the cancel", func() bool {
		return slices.ContainsFunc(b.gh.Reactions(b.repo), func(r githubtest.Reaction) bool { return r.CommentID == 902 })
	})
}

// TestACancelWithATaskToStopDoesNotWaitForAnotherTrigger: a retry before
// it, busy, is still being answered (GitHub slow to take the reply); the
// task running is the one to stop, now.
func TestACancelWithATaskToStopDoesNotWaitForAnotherTrigger(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, wait, "the attempt to start", func() bool { return len(b.runner.starts()) == 1 })
	arrived, release := b.gh.Hold("POST", "/repos/acme/widgets/issues/1/comments")
	defer release()
	b.deliver(t, "issue_comment", "issue_comment.created", func(p map[string]any) {
		commented("/oneshot retry", "writer")(p)
		p["comment"].(map[string]any)["id"] = 901
	})
	select {
	case <-arrived:
	case <-time.After(wait):
		t.Fatal("the retry never answered that the issue is busy")
	}
	b.deliver(t, "issue_comment", "issue_comment.created", func(p map[string]any) {
		commented("/oneshot cancel", "writer")(p)
		p["comment"].(map[string]any)["id"] = 902
	})
	waitFor(t, wait, "the cancel, while the retry's reply is held", func() bool { s, _ := b.state(t); return s == tasks.Cancelled })
}

// TestAStartRightAfterACancelRunsOnceTheCancelledAttemptEnds: a cancelled
// attempt takes a few seconds to stop; whoever cancelled it and asked again
// at once wants the new one, not to be told the issue is busy.
func TestAStartRightAfterACancelRunsOnceTheCancelledAttemptEnds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	release := b.runner.holdStops()
	defer release()
	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot fix it", "writer"))
	waitFor(t, wait, "the attempt to start", func() bool { return len(b.runner.starts()) == 1 })
	b.deliver(t, "issue_comment", "issue_comment.created", func(p map[string]any) {
		commented("/oneshot cancel", "writer")(p)
		p["comment"].(map[string]any)["id"] = 902
	})
	waitFor(t, wait, "the cancel to be taken in", func() bool { return b.onlyTask(t).CancelRequested })
	b.deliver(t, "issue_comment", "issue_comment.created", func(p map[string]any) {
		commented("/oneshot fix it, but only in parser.go", "writer")(p)
		p["comment"].(map[string]any)["id"] = 903
	})
	busy := func() bool {
		return slices.ContainsFunc(b.botComments(1), func(c string) bool { return strings.Contains(c, "already working") })
	}
	waitFor(t, wait, "the start to wait for the cancelled attempt", func() bool {
		return busy() || strings.Contains(b.logs.String(), "The trigger waits for the attempt being cancelled on its branch to end.")
	})
	release()
	waitFor(t, wait, "the second start", func() bool { return len(b.runner.starts()) == 2 || busy() })
	if busy() {
		t.Fatalf("the start was answered that the issue is busy: %q", b.botComments(1))
	}
	if got := b.tasks(t); len(got) != 2 || got[1].Instructions != "fix it, but only in parser.go" {
		t.Fatalf("tasks %+v, want the second start's", got)
	}
}

// TestATaskKeepsTheIssueAsWhoeverAskedSawIt: the label's payload shows
// the issue, and a retry's shows it again, as it is then; the pipeline
// refuses an issue its author changed since (see contextgather).
func TestATaskKeepsTheIssueAsWhoeverAskedSawIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.runner.open()
	// Each trigger's payload shows the issue as it was; it is edited again
	// before the bot reads it from GitHub.
	var title string
	label := b.payload(t, "issues.labeled", func(p map[string]any) {
		labelled("agent", "writer")(p)
		issue := p["issue"].(map[string]any)
		title = issue["title"].(string)
		issue["body"] = "The parser crashes."
	})
	b.gh.EditIssue(b.repo, 1, title, "The parser crashes. (edited after the label)")
	statusOK(t, b.post(t, "issues", "delivery-label", label))
	waitFor(t, wait, "the attempt", func() bool { s, _ := b.state(t); return s == tasks.Succeeded })
	if got, want := b.onlyTask(t).IssueDigest, tasks.DigestOf(title, "The parser crashes."); got != want {
		t.Fatalf("the task holds the issue as %s, want %s, as the label's payload shows it", got, want)
	}

	b.gh.EditIssue(b.repo, 1, title, "The parser crashes on empty input.")
	retry := b.payload(t, "issue_comment.created", commented("/oneshot retry", "writer"))
	b.gh.EditIssue(b.repo, 1, title, "The parser crashes on empty input. (edited after the retry)")
	statusOK(t, b.post(t, "issue_comment", "delivery-retry", retry))
	waitFor(t, wait, "attempt 2", func() bool { s, n := b.state(t); return n == 2 && s == tasks.Succeeded })
	if got, want := b.onlyTask(t).IssueDigest, tasks.DigestOf(title, "The parser crashes on empty input."); got != want {
		t.Fatalf("after the retry the task holds the issue as %s, want %s, as the retry's payload shows it", got, want)
	}
}

func (b *testBundle) ourRun(run githubtest.CheckRun, by string) func(map[string]any) {
	return func(p map[string]any) {
		cr := p["check_run"].(map[string]any)
		cr["id"], cr["name"], cr["external_id"], cr["head_sha"] = run.ID, run.Name, run.ExternalID, run.HeadSHA
		cr["app"].(map[string]any)["id"] = b.gh.AppID
		cr["output"] = map[string]any{"title": run.Output.Title, "summary": run.Output.Summary, "text": run.Output.Text}
		p["sender"].(map[string]any)["login"] = by
	}
}

// pressed edits check_run.requested_action into a press of our button.
func (b *testBundle) pressed(run githubtest.CheckRun, identifier, by string) func(map[string]any) {
	return func(p map[string]any) {
		b.ourRun(run, by)(p)
		p["requested_action"] = map[string]any{"identifier": identifier}
	}
}

// "cancel" is a command whatever follows it, so that a cancel never starts
// work; when nothing runs, a comment that meant work hears how to ask.
func TestACancelThatMayHaveMeantWorkSaysHowToAskForIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot cancel", "writer"))
	waitFor(t, wait, "the first reply", func() bool { return len(b.botComments(1)) == 1 })
	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot Cancel button is misaligned on mobile", "writer"))
	waitFor(t, wait, "the second reply", func() bool { return len(b.botComments(1)) == 2 })
	const hint = "to ask for work that begins with the word, put another before it"
	if plain := b.botComments(1)[0]; !strings.Contains(plain, "nothing to cancel") || strings.Contains(plain, hint) {
		t.Errorf("reply to a plain cancel: %q", plain)
	}
	if meant := b.botComments(1)[1]; !strings.Contains(meant, "nothing to cancel") || !strings.Contains(meant, hint) {
		t.Errorf("reply to a cancel followed by words: %q", meant)
	}
	if n := len(b.tasks(t)); n != 0 {
		t.Fatalf("%d tasks started", n)
	}
}

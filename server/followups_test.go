package server_test

// Commands on pull requests oneshot opened: follow-ups, their reviews,
// and how they share a branch with the issue's task.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/internal/githubtest"
	"github.com/oneshot-dev/oneshot/tasks"
)

func TestFeedbackOnAPullRequestOneshotOpenedIsAFollowUp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pr := b.gh.AddPullRequest(b.repo, githubtest.PullRequest{Number: 3, Head: "oneshot/issue-1", Base: "main", User: b.gh.BotLogin()})
	b.deliver(t, "issue_comment", "issue_comment.created.on-pull-request", b.onPullRequest(pr.Number, "/oneshot rename the flag to --quiet", "writer"))
	waitFor(t, wait, "the follow-up", func() bool { return len(b.runner.starts()) == 1 })
	task := b.onlyTask(t)
	if task.Kind != tasks.KindFollowUp || task.PullRequest != pr.Number || task.BranchIssue != 1 || task.Instructions != "rename the flag to --quiet" {
		t.Fatalf("task %+v", task)
	}

	// The fixture's pull request, another's, under a number of its own:
	// nothing runs, and the help says where oneshot works.
	b.deliver(t, "issue_comment", "issue_comment.created.on-pull-request", func(p map[string]any) {
		commented("/oneshot rename the flag", "writer")(p)
		p["issue"].(map[string]any)["number"] = 5
	})
	waitFor(t, wait, "the reply on the other pull request", func() bool { return len(b.botComments(5)) == 1 })
	if reply := b.botComments(5)[0]; !strings.Contains(reply, "on a pull request oneshot opened") {
		t.Fatalf("reply %q, want the help", reply)
	}
	if n := len(b.tasks(t)); n != 1 {
		t.Fatalf("%d tasks, want the follow-up only", n)
	}

	// Another bot's, perhaps another oneshot's, is left to it.
	id := b.deliver(t, "issue_comment", "issue_comment.created.on-pull-request", func(p map[string]any) {
		commented("/oneshot rename the flag", "writer")(p)
		issue := p["issue"].(map[string]any)
		issue["number"] = 6
		issue["user"].(map[string]any)["login"], issue["user"].(map[string]any)["type"] = "oneshot-staging[bot]", "Bot"
	})
	if b.seen(t, id) {
		t.Fatal("a command on another bot's pull request was answered")
	}
}

func TestAnIssuesTaskAndAFollowUpOnItsPullRequestNeverRunAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Attempt 1 of issue 1's task opened this pull request from its branch.
	pr := b.gh.AddPullRequest(b.repo, githubtest.PullRequest{Number: 2, Head: "oneshot/issue-1", Base: "main", User: b.gh.BotLogin()})
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, wait, "the issue's task to start", func() bool { return len(b.runner.starts()) == 1 })
	issueTask := b.onlyTask(t)

	// Feedback on the pull request while the issue's task runs: both
	// would push to oneshot/issue-1.
	b.deliver(t, "issue_comment", "issue_comment.created.on-pull-request", b.onPullRequest(pr.Number, "/oneshot rename the flag", "writer"))
	waitFor(t, wait, "the busy reply on the pull request", func() bool { return len(b.botComments(pr.Number)) == 1 })
	if reply := b.botComments(pr.Number)[0]; !strings.Contains(reply, "already working on the same branch, for #1") ||
		!strings.Contains(reply, issueTask.ID) {
		t.Fatalf("reply %q", reply)
	}
	if n := len(b.tasks(t)); n != 1 {
		t.Fatalf("%d tasks, want the issue's only", n)
	}

	// Cancelled from the pull request, the issue's task makes way.
	b.deliver(t, "issue_comment", "issue_comment.created.on-pull-request", b.onPullRequest(pr.Number, "/oneshot cancel", "writer"))
	waitFor(t, wait, "the cancel", func() bool { s, _ := b.state(t); return s == tasks.Cancelled })
	b.deliver(t, "issue_comment", "issue_comment.created.on-pull-request", b.onPullRequest(pr.Number, "/oneshot rename the flag", "writer"))
	waitFor(t, wait, "the follow-up to start", func() bool { return len(b.runner.starts()) == 2 })

	// And now a retry on the issue waits for the follow-up instead.
	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot retry", "writer"))
	busy := fmt.Sprintf("already working on the same branch, for #%d", pr.Number)
	waitFor(t, wait, "the busy reply on the issue", func() bool {
		return slices.ContainsFunc(b.botComments(1), func(c string) bool { return strings.Contains(c, busy) })
	})
	if got, _ := b.srv.Queue().Get(context.Background(), issueTask.ID); got.Attempt != 1 || len(b.runner.starts()) != 2 {
		t.Fatalf("the issue's task went on to attempt %d; %d attempts started", got.Attempt, len(b.runner.starts()))
	}
	// Nothing showed the refused retry as if it were to run.
	if runs := b.gh.CheckRuns(b.repo); len(runs) != 2 {
		t.Fatalf("%d check runs, want the issue task's and the follow-up's", len(runs))
	}
}

func TestAFollowUpRecordedBeforeTasksKeptTheirBranchIsRetriedOnItsIssuesBranch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pr := b.gh.AddPullRequest(b.repo, githubtest.PullRequest{Number: 2, Head: "oneshot/issue-1", Base: "main", User: b.gh.BotLogin()})
	// The follow-up as a bot before this one recorded it: on its pull
	// request's number, which is what migration 4 gave it.
	ctx := context.Background()
	old := &tasks.Task{Repo: b.repo.FullName, RepoID: b.repo.ID, InstallationID: installationID, Issue: pr.Number,
		PullRequest: pr.Number, BranchIssue: pr.Number, Kind: tasks.KindFollowUp, Requester: "writer", DeliveryID: "d-old"}
	if err := b.srv.Queue().Create(ctx, old, tasks.Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.srv.Queue().Cancel(ctx, old.ID, "writer"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, wait, "the old follow-up to end", func() bool { got, _ := b.srv.Queue().Get(ctx, old.ID); return got.State.Final() })

	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, wait, "the issue's task to start", func() bool {
		_, err := b.srv.Queue().Live(ctx, b.repo.ID, 1)
		return err == nil
	})
	b.deliver(t, "issue_comment", "issue_comment.created.on-pull-request", b.onPullRequest(pr.Number, "/oneshot retry", "writer"))
	waitFor(t, wait, "the busy reply on the pull request", func() bool { return len(b.botComments(pr.Number)) == 1 })
	if reply := b.botComments(pr.Number)[0]; !strings.Contains(reply, "already working on the same branch, for #1") {
		t.Fatalf("reply %q", reply)
	}
	if got, _ := b.srv.Queue().Get(ctx, old.ID); got.Attempt != 1 {
		t.Fatalf("the old follow-up went on to attempt %d beside the issue's task", got.Attempt)
	}
}

func TestRetryAndCancelOnAPullRequestWithoutATaskSayWhatToDo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pr := b.gh.AddPullRequest(b.repo, githubtest.PullRequest{Number: 2, Head: "oneshot/issue-1", Base: "main", User: b.gh.BotLogin()})
	b.deliver(t, "issue_comment", "issue_comment.created.on-pull-request", b.onPullRequest(pr.Number, "/oneshot retry", "writer"))
	waitFor(t, wait, "the reply to the retry", func() bool { return len(b.botComments(pr.Number)) == 1 })
	if reply := b.botComments(pr.Number)[0]; !strings.Contains(reply, "no oneshot task on this pull request") ||
		!strings.Contains(reply, "`/oneshot <what to change>`") {
		t.Fatalf("reply %q", reply)
	}
	b.deliver(t, "issue_comment", "issue_comment.created.on-pull-request", b.onPullRequest(pr.Number, "/oneshot cancel", "writer"))
	waitFor(t, wait, "the reply to the cancel", func() bool { return len(b.botComments(pr.Number)) == 2 })
	if reply := b.botComments(pr.Number)[1]; !strings.Contains(reply, "not working on this pull request") {
		t.Fatalf("reply %q", reply)
	}
}

func TestFeedbackOnAPullRequestThatWasClosedStartsNothingAndSaysWhere(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pr := b.gh.AddPullRequest(b.repo, githubtest.PullRequest{Number: 2, Head: "oneshot/issue-1", Base: "main", User: b.gh.BotLogin()})
	b.gh.ClosePullRequest(t, b.repo, pr.Number)
	b.deliver(t, "issue_comment", "issue_comment.created.on-pull-request", b.onPullRequest(pr.Number, "/oneshot rename the flag", "writer"))
	waitFor(t, wait, "the reply", func() bool { return len(b.botComments(pr.Number)) == 1 })
	if reply := b.botComments(pr.Number)[0]; !strings.Contains(reply, "this pull request was closed") ||
		!strings.Contains(reply, "To work on #1 again, comment `/oneshot <instructions>` there.") {
		t.Fatalf("reply %q", reply)
	}
	if n := len(b.tasks(t)); n != 0 || len(b.gh.CheckRuns(b.repo)) != 0 {
		t.Fatalf("%d tasks and %d check runs for feedback on a closed pull request", n, len(b.gh.CheckRuns(b.repo)))
	}
}

// A follow-up's next attempt would change its pull request: once that is
// merged or closed, a retry starts nothing, wherever it is asked for.
func TestARetryOfAFollowUpWhosePullRequestEndedStartsNothingAndSaysWhere(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.runner.open()
	pr := b.gh.AddPullRequest(b.repo, githubtest.PullRequest{Number: 2, Head: "oneshot/issue-1", Base: "main", User: b.gh.BotLogin()})
	b.deliver(t, "issue_comment", "issue_comment.created.on-pull-request", b.onPullRequest(pr.Number, "/oneshot rename the flag", "writer"))
	waitFor(t, wait, "the follow-up to succeed", func() bool { s, n := b.state(t); return n == 1 && s == tasks.Succeeded })
	followUp := b.onlyTask(t)
	run := b.gh.CheckRuns(b.repo)[0]
	b.gh.ClosePullRequest(t, b.repo, pr.Number)

	b.deliver(t, "issue_comment", "issue_comment.created.on-pull-request", b.onPullRequest(pr.Number, "/oneshot retry", "writer"))
	waitFor(t, wait, "the reply to the comment", func() bool { return len(b.botComments(pr.Number)) == 1 })
	b.deliver(t, "check_run", "check_run.requested_action", b.pressed(run, "retry", "writer"))
	waitFor(t, wait, "the reply to the button", func() bool { return len(b.botComments(pr.Number)) == 2 })
	for i, want := range []string{"this pull request was closed", "pull request #2 was closed"} {
		if reply := b.botComments(pr.Number)[i]; !strings.Contains(reply, want) ||
			!strings.Contains(reply, "To work on #1 again, comment `/oneshot <instructions>` there.") {
			t.Fatalf("reply %q, want it to say %q and where to work again", reply, want)
		}
	}
	if got, _ := b.srv.Queue().Get(context.Background(), followUp.ID); got.Attempt != 1 || len(b.gh.CheckRuns(b.repo)) != 1 {
		t.Fatalf("the follow-up went on to attempt %d, with %d check runs", got.Attempt, len(b.gh.CheckRuns(b.repo)))
	}
}

// onPullRequest edits issue_comment.created.on-pull-request into a comment
// on pull request n, which oneshot opened.
func (b *testBundle) onPullRequest(n int, body, by string) func(map[string]any) {
	return func(p map[string]any) {
		commented(body, by)(p)
		issue := p["issue"].(map[string]any)
		issue["number"] = n
		issue["user"].(map[string]any)["login"] = b.gh.BotLogin()
	}
}

func TestACommandInAReviewOfAPullRequestOneshotOpenedIsAFollowUpOnItsLine(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const pull = 2 // the fixture's
	reviewed := func(body, by, pullAuthor string) func(map[string]any) {
		return func(p map[string]any) {
			p["comment"].(map[string]any)["body"] = body
			p["comment"].(map[string]any)["user"].(map[string]any)["login"] = by
			p["sender"].(map[string]any)["login"] = by
			p["pull_request"].(map[string]any)["user"].(map[string]any)["login"] = pullAuthor
		}
	}
	bot := b.gh.BotLogin()

	// Refused and ignored first, while the pull request has no live task.
	b.deliver(t, "pull_request_review_comment", "pull_request_review_comment.created",
		reviewed("/oneshot rename the flag", "reader", bot))
	// The refusal answers in the review comment's thread.
	waitFor(t, wait, "the refusal", func() bool { return len(b.gh.ReviewComments(b.repo, pull)) == 2 })
	if reply := b.gh.ReviewComments(b.repo, pull)[1]; reply.InReplyTo == 0 || reply.User != bot ||
		!strings.Contains(reply.Body, "@reader") || !strings.Contains(reply.Body, "write access") {
		t.Fatalf("reply %+v", reply)
	}
	if n := len(b.botComments(pull)); n != 0 {
		t.Fatalf("%d replies in the pull request's conversation", n)
	}
	for name, edit := range map[string]func(map[string]any){
		"on someone else's pull request": reviewed("/oneshot rename the flag", "writer", "writer"),
		"by a bot":                       reviewed("/oneshot rename the flag", "renovate[bot]", bot),
		"not a command":                  reviewed("please rename the flag", "writer", bot),
		"edited": func(p map[string]any) {
			reviewed("/oneshot rename the flag", "writer", bot)(p)
			p["action"] = "edited"
		},
	} {
		// In a review of their own, whose comments the follow-up below
		// does not take with its own.
		inOtherReview := func(p map[string]any) {
			edit(p)
			p["comment"].(map[string]any)["pull_request_review_id"] = 1
		}
		if id := b.deliver(t, "pull_request_review_comment", "pull_request_review_comment.created", inOtherReview); b.seen(t, id) {
			t.Errorf("a review comment %s was accepted", name)
		}
	}
	if n := len(b.tasks(t)); n != 0 {
		t.Fatalf("%d tasks", n)
	}

	b.deliver(t, "pull_request_review_comment", "pull_request_review_comment.created",
		reviewed("/oneshot rename the flag to --quiet", "writer", bot))
	waitFor(t, wait, "the follow-up", func() bool { return len(b.runner.starts()) == 1 })
	task := b.onlyTask(t)
	if task.Kind != tasks.KindFollowUp || task.PullRequest != pull || task.Requester != "writer" ||
		task.Instructions != "Review comment on `README.md` line 265:\nrename the flag to --quiet" {
		t.Fatalf("task %+v", task)
	}
	reactions := b.gh.Reactions(b.repo)
	if len(reactions) != 1 || !reactions[0].ReviewComment || reactions[0].Content != "eyes" {
		t.Fatalf("reactions %+v, want eyes on the review comment", reactions)
	}

	b.deliver(t, "pull_request_review_comment", "pull_request_review_comment.created",
		reviewed("/oneshot cancel", "writer", bot))
	waitFor(t, wait, "the cancel", func() bool { s, _ := b.state(t); return s == tasks.Cancelled })
}

// ourRun edits a check_run payload into one of our check runs.
// TestSeveralCommandsInOneReviewAreOneFollowUp submits a review with two
// /oneshot comments, which GitHub delivers one by one: one follow-up takes
// both, and the second is acknowledged, not answered as busy.
func TestSeveralCommandsInOneReviewAreOneFollowUp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const pull = 2 // the fixture's
	comment := b.inFixturesReview
	// GitHub has made both comments before it sends either.
	second := b.payload(t, "pull_request_review_comment.created", comment(902, 40, "/oneshot and log the error"))
	b.deliver(t, "pull_request_review_comment", "pull_request_review_comment.created", comment(901, 12, "/oneshot rename the flag"))
	waitFor(t, wait, "the follow-up", func() bool { return len(b.runner.starts()) == 1 })
	statusOK(t, b.post(t, "pull_request_review_comment", "delivery-review-2", second))
	waitFor(t, wait, "both comments acknowledged", func() bool { return len(b.gh.Reactions(b.repo)) == 2 })

	task := b.onlyTask(t)
	want := "Review comment on `README.md` line 12:\nrename the flag\n\nReview comment on `README.md` line 40:\nand log the error"
	if task.Instructions != want {
		t.Fatalf("instructions %q, want %q", task.Instructions, want)
	}
	noReplyIn(t, b, pull)
}

// A review's second comment whose intake comes after the follow-up that
// took the whole review has run is done, not a second follow-up that
// makes the same change again.
func TestAReviewsCommentTakenInAfterItsFollowUpRanIsNotRunAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.runner.open()
	comment := b.inFixturesReview
	second := b.payload(t, "pull_request_review_comment.created", comment(902, 40, "/oneshot and log the error"))
	b.deliver(t, "pull_request_review_comment", "pull_request_review_comment.created", comment(901, 12, "/oneshot rename the flag"))
	waitFor(t, wait, "the follow-up to end", func() bool { s, _ := b.state(t); return s == tasks.Succeeded })
	statusOK(t, b.post(t, "pull_request_review_comment", "delivery-review-2", second))
	waitFor(t, wait, "both comments acknowledged", func() bool { return len(b.gh.Reactions(b.repo)) == 2 })
	if n := len(b.tasks(t)); n != 1 || len(b.runner.starts()) != 1 {
		t.Fatalf("%d tasks, %d attempts, want the one follow-up", n, len(b.runner.starts()))
	}
}

// TestCommandsOfOneReviewThatRaceMakeOneFollowUp delivers a review's two
// commands at once, as GitHub does, and holds both intakes as they list the
// review's comments: both found the pull request free, one loses the race
// to create the follow-up, and finds its feedback in it.
func TestCommandsOfOneReviewThatRaceMakeOneFollowUp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const pull = 2 // the fixture's
	bot := b.gh.BotLogin()
	comment := func(id, line int, body string) []byte {
		return b.payload(t, "pull_request_review_comment.created", b.inFixturesReview(id, line, body))
	}
	first, second := comment(901, 12, "/oneshot rename the flag"), comment(902, 40, "/oneshot and log the error")
	// Both intakes list the review's comments, having found the pull
	// request free, before either goes on.
	const listed = "/repos/acme/widgets/pulls/{number}/reviews/{review}/comments"
	arrived1, release1 := b.gh.Hold("GET", listed)
	arrived2, release2 := b.gh.Hold("GET", listed)
	defer release1()
	defer release2()
	statusOK(t, b.post(t, "pull_request_review_comment", "delivery-race-1", first))
	statusOK(t, b.post(t, "pull_request_review_comment", "delivery-race-2", second))
	for _, arrived := range []<-chan struct{}{arrived1, arrived2} {
		select {
		case <-arrived:
		case <-time.After(wait):
			t.Fatal("the intakes did not both list the review's comments")
		}
	}
	release1()
	release2()
	// Both intakes took the pull request for free: the loser's check run
	// is closed as skipped.
	waitFor(t, wait, "the follow-up and the loser's skipped check run", func() bool {
		runs := b.gh.CheckRuns(b.repo)
		return len(b.runner.starts()) == 1 && len(runs) == 2 && slices.ContainsFunc(runs, func(r githubtest.CheckRun) bool {
			return r.Conclusion == "skipped"
		})
	})
	// The loser answers last: with a second 👀, its first being before
	// the race, or with a reply.
	waitFor(t, wait, "the loser's answer", func() bool {
		replied := slices.ContainsFunc(b.gh.ReviewComments(b.repo, pull), func(c githubtest.Comment) bool { return c.User == bot })
		return replied || b.gh.Count("POST", "/repos/acme/widgets/pulls/comments/{id}/reactions") == 3
	})
	if task := b.onlyTask(t); !strings.Contains(task.Instructions, "rename the flag") || !strings.Contains(task.Instructions, "and log the error") {
		t.Fatalf("instructions %q, want both comments'", task.Instructions)
	}
	noReplyIn(t, b, pull)
}

// inFixturesReview edits pull_request_review_comment.created into a
// writer's comment of the fixture's review, on the fixture's pull request,
// which the bot opened.
func (b *testBundle) inFixturesReview(id, line int, body string) func(map[string]any) {
	const review = 237895671 // the fixture's
	return func(p map[string]any) {
		c := p["comment"].(map[string]any)
		c["id"], c["line"], c["body"], c["pull_request_review_id"] = id, line, body, review
		c["user"].(map[string]any)["login"] = "writer"
		p["sender"].(map[string]any)["login"] = "writer"
		p["pull_request"].(map[string]any)["user"].(map[string]any)["login"] = b.gh.BotLogin()
	}
}

// noReplyIn fails the test if the bot answered in a review of pull.
func noReplyIn(t *testing.T, b *testBundle, pull int) {
	t.Helper()
	for _, c := range b.gh.ReviewComments(b.repo, pull) {
		if c.User == b.gh.BotLogin() {
			t.Fatalf("the bot answered in the review: %q", c.Body)
		}
	}
}

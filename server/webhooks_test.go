package server_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/internal/githubtest"
	"github.com/oneshot-dev/oneshot/tasks"
)

const wait = 30 * time.Second

func TestALabelByAWriterStartsOneTaskWithFeedbackInSeconds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	started := time.Now()
	delivery := b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, wait, "the attempt to start", func() bool { return len(b.runner.starts()) == 1 })
	if d := time.Since(started); d > 10*time.Second {
		t.Errorf("first feedback took %v", d)
	}

	list := b.tasks(t)
	if len(list) != 1 {
		t.Fatalf("%d tasks", len(list))
	}
	task := list[0]
	if task.Issue != 1 || task.Requester != "writer" || task.DeliveryID != delivery || task.Kind != tasks.KindIssue {
		t.Fatalf("task %+v", task)
	}
	reactions := b.gh.Reactions(b.repo)
	if len(reactions) != 1 || reactions[0].Content != "eyes" || reactions[0].Issue != 1 || reactions[0].CommentID != 0 {
		t.Fatalf("reactions %+v", reactions)
	}
	runs := b.gh.CheckRuns(b.repo)
	if len(runs) != 1 {
		t.Fatalf("%d check runs", len(runs))
	}
	run := runs[0]
	if run.Name != "oneshot" || run.ExternalID != task.ID || run.HeadSHA != b.gh.Head(t, b.repo, "main") ||
		run.DetailsURL != "http://oneshot.test/tasks/"+task.ID || run.History[0].Status != "queued" {
		t.Fatalf("check run %+v", run)
	}

	b.runner.open()
	waitFor(t, wait, "the check run to conclude", func() bool {
		return b.gh.CheckRuns(b.repo)[0].Status == "completed"
	})
	run = b.gh.CheckRuns(b.repo)[0]
	var statuses []string
	for _, h := range run.History {
		statuses = append(statuses, h.Status)
	}
	if !slices.Equal(statuses, []string{"queued", "in_progress", "completed"}) || run.Conclusion != "success" {
		t.Fatalf("check run went %v and concluded %q", statuses, run.Conclusion)
	}
}

func TestTheSameDeliverySentFiftyTimesStartsOneTask(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := b.payload(t, "issues.labeled", labelled("agent", "writer"))

	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statusOK(t, b.post(t, "issues", "the-one-delivery", body))
		}()
	}
	wg.Wait()
	waitFor(t, wait, "the attempt to start", func() bool { return len(b.runner.starts()) >= 1 })
	if n := len(b.tasks(t)); n != 1 {
		t.Fatalf("%d tasks from one delivery", n)
	}
	if n := len(b.gh.CheckRuns(b.repo)); n != 1 {
		t.Fatalf("%d check runs from one delivery", n)
	}
	if n := len(b.gh.Reactions(b.repo)); n != 1 {
		t.Fatalf("%d reactions from one delivery", n)
	}
}

func TestBadSignaturesAreRefusedAndChangeNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := b.payload(t, "issues.labeled", labelled("agent", "writer"))

	cases := map[string]func(r *http.Request){
		"wrong secret":      func(r *http.Request) { r.Header.Set("X-Hub-Signature-256", githubtest.Sign("not-the-secret", body)) },
		"missing signature": func(r *http.Request) { r.Header.Del("X-Hub-Signature-256") },
		"body changed after signing": func(r *http.Request) {
			changed := bytes.Replace(body, []byte(`"writer"`), []byte(`"someone"`), 1)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(changed)), int64(len(changed))
		},
	}
	for name, tamper := range cases {
		id := "bad-" + strings.ReplaceAll(name, " ", "-")
		req, _ := http.NewRequest(http.MethodPost, b.hookURL, bytes.NewReader(body))
		githubtest.SignDelivery(req, webhookSecret, "issues", id, body)
		tamper(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("%s: status %d, want 4xx", name, resp.StatusCode)
		}
		if b.seen(t, id) {
			t.Errorf("%s: the delivery was accepted", name)
		}
	}
	if n := b.writes(); n != 0 {
		t.Fatalf("%d writes to GitHub", n)
	}
}

func TestAPayloadLargerThanGitHubSendsIsRefusedAndStartsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	small := b.payload(t, "issues.labeled", labelled("agent", "writer"))
	body := append([]byte(`{"padding":"`+strings.Repeat("x", 26<<20)+`",`), small[1:]...)
	if status := b.post(t, "issues", "oversized", body); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", status)
	}
	if b.seen(t, "oversized") || b.writes() != 0 || len(b.tasks(t)) != 0 {
		t.Fatal("an oversized payload was acted on")
	}
}

func TestTruncatedJSONStartsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := b.payload(t, "issues.labeled", labelled("agent", "writer"))
	if status := b.post(t, "issues", "truncated", body[:len(body)/2]); status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", status)
	}
	if b.seen(t, "truncated") || b.writes() != 0 {
		t.Fatal("a truncated payload was acted on")
	}
}

func TestACommandFromAReadOnlyUserGetsOneReplyAndNoTask(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot fix this", "reader"))
	waitFor(t, wait, "the reply", func() bool { return len(b.botComments(1)) == 1 })
	if reply := b.botComments(1)[0]; !strings.Contains(reply, "@reader") || !strings.Contains(reply, "write access") {
		t.Fatalf("reply %q", reply)
	}
	if n := len(b.tasks(t)); n != 0 {
		t.Fatalf("%d tasks", n)
	}
	if n := len(b.gh.CheckRuns(b.repo)) + len(b.gh.Reactions(b.repo)); n != 0 {
		t.Fatalf("%d check runs and reactions", n)
	}
}

func TestRefusalsAndHelpAreRepliedOncePerPersonAndIssueAnHour(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, body := range []string{"/oneshot fix this", "/oneshot help", "/oneshot fix this", "/oneshot help", "/oneshot retry"} {
		b.deliver(t, "issue_comment", "issue_comment.created", commented(body, "reader"))
	}
	const silent = "Did not reply: this person had the same reply on this issue within the hour."
	waitFor(t, wait, "the intakes", func() bool { return strings.Count(b.logs.String(), silent) == 3 })
	replies := b.botComments(1)
	slices.Sort(replies)
	if len(replies) != 2 || !strings.Contains(replies[0], "write access") || !strings.Contains(replies[1], "/oneshot cancel") {
		t.Fatalf("replies %q, want one refusal and one help", replies)
	}

	// Another person, or another issue, gets a reply of their own.
	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot fix this", "stranger"))
	b.deliver(t, "issue_comment", "issue_comment.created", func(p map[string]any) {
		commented("/oneshot fix this", "reader")(p)
		p["issue"].(map[string]any)["number"] = 2
	})
	waitFor(t, wait, "their replies", func() bool { return len(b.botComments(1)) == 3 && len(b.botComments(2)) == 1 })
}

func TestBotsOtherLabelsAndOrdinaryCommentsStartNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	botComment := func(p map[string]any) {
		commented("/oneshot fix this", "dependabot[bot]")(p)
		p["sender"].(map[string]any)["type"] = "Bot"
		p["comment"].(map[string]any)["user"].(map[string]any)["type"] = "Bot"
	}
	cases := []struct {
		name, event, fixture string
		edit                 func(map[string]any)
	}{
		{"a bot's command", "issue_comment", "issue_comment.created", botComment},
		{"our own comment", "issue_comment", "issue_comment.created", commented("/oneshot fix this", b.gh.BotLogin())},
		{"another label", "issues", "issues.labeled", labelled("bug", "writer")},
		{"a label added by a bot", "issues", "issues.labeled", labelled("agent", "renovate[bot]")},
		{"an ordinary comment", "issue_comment", "issue_comment.created", commented("I'll fix this /oneshot later", "writer")},
		{"an edited comment", "issue_comment", "issue_comment.created", func(p map[string]any) {
			commented("/oneshot fix this", "writer")(p)
			p["action"] = "edited"
		}},
		{"an opened issue", "issues", "issues.opened", nil},
	}
	for _, tc := range cases {
		id := b.deliver(t, tc.event, tc.fixture, tc.edit)
		if b.seen(t, id) {
			t.Errorf("%s was accepted", tc.name)
		}
	}
	if n := b.writes(); n != 0 {
		t.Fatalf("%d writes to GitHub", n)
	}
}

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

	b.runner.open()
	b.deliver(t, "issue_comment", "issue_comment.created", commented("/ONESHOT Retry", "writer"))
	waitFor(t, wait, "the retry", func() bool { s, n := b.state(t); return n == 2 && s == tasks.Succeeded })

	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot help", "reader"))
	waitFor(t, wait, "the help", func() bool { return len(b.botComments(1)) == 2 })
	if help := b.botComments(1)[1]; !strings.Contains(help, "/oneshot cancel") {
		t.Fatalf("help %q", help)
	}
}

func TestTheRateLimitPerActorAnswersWithAComment(t *testing.T) {
	t.Parallel()
	b := setup(t, "ONESHOT_TASKS_PER_ACTOR_PER_HOUR", "1")
	b.runner.open()
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, wait, "the first task", func() bool { return len(b.runner.starts()) == 1 })
	b.deliver(t, "issues", "issues.labeled", func(p map[string]any) {
		labelled("agent", "writer")(p)
		p["issue"].(map[string]any)["number"] = 2
	})
	waitFor(t, wait, "the limit reply", func() bool { return len(b.botComments(2)) == 1 })
	if reply := b.botComments(2)[0]; !strings.Contains(reply, "limit") {
		t.Fatalf("reply %q", reply)
	}
	if n := len(b.tasks(t)); n != 1 {
		t.Fatalf("%d tasks", n)
	}
}

func TestTheRateLimitPerRepositoryAnswersWithACommentAndHandBacksDoNotCount(t *testing.T) {
	t.Parallel()
	b := setup(t, "ONESHOT_TASKS_PER_REPO_PER_HOUR", "2")
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, wait, "the first task", func() bool { return len(b.runner.starts()) == 1 })
	// A deploy hands the running attempt back; the next process runs it.
	if err := b.srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	b.srv = b.start(t)
	waitFor(t, wait, "the attempt to run again", func() bool { return len(b.runner.starts()) == 2 })

	onIssue := func(n int, by string) func(map[string]any) {
		return func(p map[string]any) {
			labelled("agent", by)(p)
			p["issue"].(map[string]any)["number"] = n
		}
	}
	b.deliver(t, "issues", "issues.labeled", onIssue(2, "maintainer"))
	waitFor(t, wait, "the second task", func() bool { return len(b.tasks(t)) == 2 })
	b.deliver(t, "issues", "issues.labeled", onIssue(3, "writer"))
	waitFor(t, wait, "the limit reply", func() bool { return len(b.botComments(3)) == 1 })
	if reply := b.botComments(3)[0]; !strings.Contains(reply, "limit") || !strings.Contains(reply, b.repo.FullName) {
		t.Fatalf("reply %q", reply)
	}
	if n := len(b.tasks(t)); n != 2 {
		t.Fatalf("%d tasks", n)
	}
}

func TestThePermissionCallIsRetriedOnServerErrorsAndRateLimits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.runner.open()
	permission := "/repos/{owner}/{repo}/collaborators/{user}/permission"

	b.gh.Fail("GET", permission, http.StatusBadGateway, 2)
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	// The client retries within about two seconds. Were the 502s left to
	// River, which retries the whole intake, it would wait one second and
	// then sixteen.
	waitFor(t, 10*time.Second, "the task after two 502s", func() bool { return len(b.tasks(t)) == 1 })
	if n := b.gh.Count("GET", permission); n != 3 {
		t.Fatalf("the permission endpoint was called %d times, want 3", n)
	}

	b.gh.SecondaryRateLimit("GET", permission, time.Second, 1)
	started := time.Now()
	b.deliver(t, "issues", "issues.labeled", func(p map[string]any) {
		labelled("agent", "writer")(p)
		p["issue"].(map[string]any)["number"] = 2
	})
	waitFor(t, wait, "the task after the secondary limit", func() bool { return len(b.tasks(t)) == 2 })
	if d := time.Since(started); d < time.Second {
		t.Fatalf("the Retry-After of 1s was not waited out (%v)", d)
	}
	if n := b.gh.Count("GET", permission); n != 5 {
		t.Fatalf("the permission endpoint was called %d times, want 5", n)
	}
}

func TestFeedbackOnAPullRequestOneshotOpenedIsAFollowUp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	onOurPR := func(p map[string]any) {
		commented("/oneshot rename the flag to --quiet", "writer")(p)
		p["issue"].(map[string]any)["user"].(map[string]any)["login"] = b.gh.BotLogin()
	}
	b.deliver(t, "issue_comment", "issue_comment.created.on-pull-request", onOurPR)
	waitFor(t, wait, "the follow-up", func() bool { return len(b.runner.starts()) == 1 })
	task := b.onlyTask(t)
	if task.Kind != tasks.KindFollowUp || task.PullRequest != 3 || task.Instructions != "rename the flag to --quiet" {
		t.Fatalf("task %+v", task)
	}

	id := b.deliver(t, "issue_comment", "issue_comment.created.on-pull-request",
		commented("/oneshot rename the flag", "writer"))
	if b.seen(t, id) {
		t.Fatal("a command on someone else's pull request was accepted")
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
	waitFor(t, wait, "the refusal", func() bool { return len(b.botComments(pull)) == 1 })
	if reply := b.botComments(pull)[0]; !strings.Contains(reply, "@reader") || !strings.Contains(reply, "write access") {
		t.Fatalf("reply %q", reply)
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
		if id := b.deliver(t, "pull_request_review_comment", "pull_request_review_comment.created", edit); b.seen(t, id) {
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

// onlyTask returns the one task, failing otherwise.
func (b *testBundle) onlyTask(t *testing.T) *tasks.Task {
	t.Helper()
	list := b.tasks(t)
	if len(list) != 1 {
		t.Fatalf("%d tasks, want 1", len(list))
	}
	return list[0]
}

// botComments returns the bodies of the bot's comments on an issue.
func (b *testBundle) botComments(issue int) []string {
	var out []string
	for _, c := range b.gh.Comments(b.repo, issue) {
		if c.User == b.gh.BotLogin() {
			out = append(out, c.Body)
		}
	}
	return out
}

// ourRun edits a check_run payload into one of our check runs.
func (b *testBundle) ourRun(run githubtest.CheckRun, by string) func(map[string]any) {
	return func(p map[string]any) {
		cr := p["check_run"].(map[string]any)
		cr["id"], cr["name"], cr["external_id"], cr["head_sha"] = run.ID, run.Name, run.ExternalID, run.HeadSHA
		cr["app"].(map[string]any)["id"] = b.gh.AppID
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

func TestAnAttemptThatPanicsConcludesItsCheckRunAsFailed(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	b.runner.panics = true
	b.srv = b.start(t)
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, wait, "the check run to conclude", func() bool {
		runs := b.gh.CheckRuns(b.repo)
		return len(runs) == 1 && runs[0].Status == "completed"
	})
	run := b.gh.CheckRuns(b.repo)[0]
	if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, "internal error") || strings.Contains(run.Output.Summary, "told to panic") {
		t.Fatalf("check run concluded %q: %q", run.Conclusion, run.Output.Summary)
	}
	if s, _ := b.state(t); s != tasks.Failed {
		t.Fatalf("the task is %s", s)
	}
	if n := len(b.runner.starts()); n != 1 {
		t.Fatalf("the attempt ran %d times", n)
	}
}

func TestAGracefulShutdownHandsTheRunningAttemptBackVisibly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, wait, "the attempt to start", func() bool { return len(b.runner.starts()) == 1 })
	if err := b.srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	run := b.gh.CheckRuns(b.repo)[0]
	if last := run.History[len(run.History)-1]; last.Status != "queued" || !strings.Contains(last.Output.Summary, "shutting down") {
		t.Fatalf("after shutdown the check run shows %q: %q", last.Status, last.Output.Summary)
	}

	b.runner.open()
	b.srv = b.start(t)
	waitFor(t, wait, "the next process to finish it", func() bool { s, _ := b.state(t); return s == tasks.Succeeded })
	if got := b.runner.starts(); len(got) != 2 || got[0] != got[1] {
		t.Fatalf("attempts run: %v, want the same attempt twice", got)
	}
}

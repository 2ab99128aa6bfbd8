package githubapi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/internal/githubtest"
)

func setup(t *testing.T, policy githubapi.RetryPolicy) (*githubtest.Server, *githubtest.Repo, *githubapi.Repo) {
	t.Helper()
	gh := githubtest.New(t)
	repo := gh.AddInstalledRepo(t, 7, "acme/widgets", map[string]string{"README.md": "x\n"})
	gh.AddIssue(repo, githubtest.Issue{Number: 1, Title: "t", User: "octocat"})
	cc, err := githubapi.NewClientCreator(gh.AppConfig(), "test", policy)
	if err != nil {
		t.Fatal(err)
	}
	r, err := githubapi.ForRepo(cc, 7, "acme/widgets")
	if err != nil {
		t.Fatal(err)
	}
	return gh, repo, r
}

func TestAPostIsNotRetriedAfterAServerError(t *testing.T) {
	t.Parallel()
	gh, _, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	// The comment may have been created before the 502: sending it again
	// could post it twice.
	gh.Fail("POST", "/repos/{owner}/{repo}/issues/{n}/comments", http.StatusBadGateway, 1)
	if _, err := repo.Comment(context.Background(), 1, "hello"); err == nil {
		t.Fatal("the 502 was hidden")
	}
	if n := gh.Count("POST", "/repos/{owner}/{repo}/issues/{n}/comments"); n != 1 {
		t.Fatalf("the POST was sent %d times", n)
	}
}

func TestACommentOrCheckRunMadeDespiteAServerErrorIsFoundNotMadeAgain(t *testing.T) {
	t.Parallel()
	gh, fake, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	// GitHub makes them and the answer is a 502: the caller cannot tell,
	// and trying again would make a second.
	gh.FailAfterServing("POST", "/repos/{owner}/{repo}/issues/{n}/comments", http.StatusBadGateway, 1)
	gh.FailAfterServing("POST", "/repos/{owner}/{repo}/check-runs", http.StatusBadGateway, 1)
	ctx := context.Background()
	c, err := repo.Comment(ctx, 1, "hello")
	if err != nil || c.GetID() == 0 {
		t.Fatalf("comment: %v %v", c, err)
	}
	if n := len(gh.Comments(fake, 1)); n != 1 {
		t.Fatalf("%d comments", n)
	}
	_, sha, err := repo.DefaultBranchHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := repo.QueueCheckRun(ctx, sha, githubapi.QueuedRun{TaskID: "t0123456789abcdef", Attempt: 1, DeliveryID: "d1", DetailsURL: "http://oneshot.test/tasks/t0123456789abcdef"})
	if runs := gh.CheckRuns(fake); err != nil || len(runs) != 1 || runs[0].ID != id {
		t.Fatalf("check run %d, %v; runs %+v", id, err, runs)
	}
}

func TestAReplyInAReviewMadeDespiteAServerErrorIsFoundNotMadeAgain(t *testing.T) {
	t.Parallel()
	gh, fake, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	gh.AddPullRequest(fake, githubtest.PullRequest{Number: 2, Title: "p", Head: "oneshot/issue-1", Base: "main"})
	asked := gh.AddReviewComment(fake, 2, "octocat", "README.md", 1, "/oneshot help")
	gh.FailAfterServing("POST", "/repos/{owner}/{repo}/pulls/{n}/comments", http.StatusBadGateway, 1)
	if err := repo.ReplyToReviewComment(context.Background(), 2, asked.ID, "the commands are..."); err != nil {
		t.Fatalf("reply: %v", err)
	}
	if n := len(gh.ReviewComments(fake, 2)); n != 2 {
		t.Fatalf("%d review comments, want the question and one reply", n)
	}
	// A reply GitHub did not make is still reported.
	gh.Fail("POST", "/repos/{owner}/{repo}/pulls/{n}/comments", http.StatusBadGateway, 1)
	if err := repo.ReplyToReviewComment(context.Background(), 2, asked.ID, "another answer"); err == nil {
		t.Fatal("a reply GitHub did not make was reported made")
	}
}

func TestAPostIsRetriedAfterASecondaryRateLimit(t *testing.T) {
	t.Parallel()
	gh, fake, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	gh.SecondaryRateLimit("POST", "/repos/{owner}/{repo}/issues/{n}/comments", time.Second, 1)
	if _, err := repo.Comment(context.Background(), 1, "hello"); err != nil {
		t.Fatal(err)
	}
	if n := len(gh.Comments(fake, 1)); n != 1 {
		t.Fatalf("%d comments", n)
	}
}

// TestALimitARequestSentOnceMetHoldsUpNoOtherRequest: the installation's
// client is shared by its tasks, and go-github, shown a secondary limit,
// refuses every later request of that client at once, where each would
// have waited the limit out.
func TestALimitARequestSentOnceMetHoldsUpNoOtherRequest(t *testing.T) {
	t.Parallel()
	gh, fake, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	gh.SecondaryRateLimit("GET", "/search/issues", time.Minute, 1)
	_, _, err := repo.Client.Search.Issues(githubapi.SendOnce(context.Background()), "repo:acme/widgets crash", nil)
	if err == nil || githubapi.Answer(err) != "GitHub's rate limit held" {
		t.Fatalf("search: %v, want the limit", err)
	}
	// Another task's comment: GitHub takes it.
	if _, err := repo.Comment(context.Background(), 1, "hello"); err != nil {
		t.Fatalf("comment after another request met a limit: %v", err)
	}
	if n := len(gh.Comments(fake, 1)); n != 1 {
		t.Fatalf("%d comments", n)
	}
}

func TestAWaitLongerThanTheCapFailsAtOnce(t *testing.T) {
	t.Parallel()
	gh, _, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond, MaxWait: time.Second})
	gh.SecondaryRateLimit("GET", "/repos/{owner}/{repo}", time.Hour, 1)
	started := time.Now()
	if _, _, err := repo.DefaultBranchHead(context.Background()); err == nil {
		t.Fatal("an hour's Retry-After was waited for, or hidden")
	}
	if d := time.Since(started); d > 10*time.Second {
		t.Fatalf("gave up after %v", d)
	}
}

func TestAWaitPastTheCallersDeadlineFailsAtOnce(t *testing.T) {
	t.Parallel()
	// A minute's Retry-After is within the cap, but not within the two
	// seconds the caller has: its next write should have them.
	gh, _, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	gh.SecondaryRateLimit("POST", "/repos/{owner}/{repo}/issues/{n}/comments", time.Minute, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := repo.Comment(ctx, 1, "hello"); err == nil || ctx.Err() != nil {
		t.Fatalf("err = %v, context %v: want the limit's error before the deadline", err, ctx.Err())
	}
}

func TestAResetFarOffIsNotRetriedAtOnce(t *testing.T) {
	t.Parallel()
	// A reset sent in milliseconds is thousands of years off: it saturates
	// the wait, which must not overflow into none.
	gh, _, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	gh.PrimaryRateLimit("GET", "/repos/{owner}/{repo}", time.Unix(time.Now().UnixMilli(), 0), 1)
	if _, _, err := repo.DefaultBranchHead(context.Background()); err == nil {
		t.Fatal("the limit was hidden")
	}
	if n := gh.Count("GET", "/repos/{owner}/{repo}"); n != 1 {
		t.Fatalf("the GET was sent %d times, want once", n)
	}
}

func TestServerErrorsOnReadsAreRetriedWithBackoff(t *testing.T) {
	t.Parallel()
	const base = 20 * time.Millisecond
	gh, _, repo := setup(t, githubapi.RetryPolicy{Base: base})
	gh.Fail("GET", "/repos/{owner}/{repo}", http.StatusServiceUnavailable, 3)
	if _, _, err := repo.DefaultBranchHead(context.Background()); err != nil {
		t.Fatal(err)
	}
	var tries []time.Time
	for _, r := range gh.Requests() {
		if r.Method == "GET" && r.Path == "/repos/acme/widgets" {
			tries = append(tries, r.Time)
		}
	}
	if len(tries) != 4 {
		t.Fatalf("%d tries, want 4", len(tries))
	}
	// Each wait at least twice the one before: the base, doubled.
	for i := 1; i < len(tries); i++ {
		if gap, least := tries[i].Sub(tries[i-1]), base<<(i-1); gap < least {
			t.Errorf("try %d came %v after the one before, want at least %v", i+1, gap, least)
		}
	}
}

// A 503 that asks for a wait gets it, not the backoff's milliseconds.
func TestAServerErrorsRetryAfterIsWaitedOut(t *testing.T) {
	t.Parallel()
	gh, _, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	gh.Unavailable("GET", "/repos/{owner}/{repo}", time.Second, 1)
	started := time.Now()
	if _, _, err := repo.DefaultBranchHead(context.Background()); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(started); waited < time.Second {
		t.Fatalf("the retry came %v after a 503 that asked for 1s", waited)
	}
}

func TestARequestMarkedSendOnceIsNotRetried(t *testing.T) {
	t.Parallel()
	gh, _, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	gh.Fail("GET", "/repos/{owner}/{repo}", http.StatusServiceUnavailable, 1)
	if _, _, err := repo.DefaultBranchHead(githubapi.SendOnce(context.Background())); err == nil {
		t.Fatal("the 503 was retried into a success")
	}
	if n := gh.Count("GET", "/repos/{owner}/{repo}"); n != 1 {
		t.Fatalf("%d tries, want 1", n)
	}
}

func TestAnExhaustedRateLimitIsWaitedOutUntilItResets(t *testing.T) {
	t.Parallel()
	gh, _, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	reset := time.Now().Add(time.Second)
	gh.PrimaryRateLimit("GET", "/repos/{owner}/{repo}", reset, 1)
	if _, _, err := repo.DefaultBranchHead(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := gh.Count("GET", "/repos/{owner}/{repo}"); n != 2 {
		t.Fatalf("the GET was sent %d times, want twice", n)
	}
	if time.Now().Before(reset) {
		t.Fatal("the retry went before the limit reset")
	}
}

func TestAForbiddenRequestIsNotRetried(t *testing.T) {
	t.Parallel()
	// No Retry-After, no exhausted limit, no secondary limit: a permission
	// the App lacks, which asking again will not give.
	gh, _, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	gh.Fail("GET", "/repos/{owner}/{repo}", http.StatusForbidden, 1)
	if _, _, err := repo.DefaultBranchHead(context.Background()); err == nil {
		t.Fatal("the 403 was hidden")
	}
	if n := gh.Count("GET", "/repos/{owner}/{repo}"); n != 1 {
		t.Fatalf("the GET was sent %d times", n)
	}
}

func TestAnEarlierAttemptsUnconcludedCheckRunIsNotTakenForTheNext(t *testing.T) {
	t.Parallel()
	gh, fake, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	ctx := context.Background()
	_, sha, err := repo.DefaultBranchHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const task = "t0123456789abcdef"
	// Attempt 1's run is not concluded yet (GitHub failed its conclusion,
	// which is being tried again) when making attempt 2's fails.
	first, err := repo.QueueCheckRun(ctx, sha, githubapi.QueuedRun{TaskID: task, Attempt: 1, DeliveryID: "d1", DetailsURL: "http://oneshot.test/tasks/" + task})
	if err != nil {
		t.Fatal(err)
	}
	gh.Fail("POST", "/repos/{owner}/{repo}/check-runs", http.StatusBadGateway, 1)
	if second, err := repo.QueueCheckRun(ctx, sha, githubapi.QueuedRun{TaskID: task, Attempt: 2, DeliveryID: "d2", DetailsURL: "http://oneshot.test/tasks/" + task}); err == nil || second == first {
		t.Fatalf("attempt 2 took check run %d (attempt 1's is %d), err %v", second, first, err)
	}
	// Made despite the error, it is found.
	gh.FailAfterServing("POST", "/repos/{owner}/{repo}/check-runs", http.StatusBadGateway, 1)
	second, err := repo.QueueCheckRun(ctx, sha, githubapi.QueuedRun{TaskID: task, Attempt: 2, DeliveryID: "d2", DetailsURL: "http://oneshot.test/tasks/" + task})
	if runs := gh.CheckRuns(fake); err != nil || len(runs) != 2 || second == first {
		t.Fatalf("attempt 2 has check run %d, %v (attempt 1's is %d); runs %+v", second, err, first, runs)
	}
}

// A request whose answer was lost as the caller's time ran out (an
// intake's deadline) may have made what it asked for all the same: the
// look for it gets time of its own, or the caller, told of a failure,
// would make a second, and the first stay queued or posted for good.
func TestWhatARequestMadeAsItsTimeRanOutIsFound(t *testing.T) {
	t.Parallel()
	gh, fake, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	_, sha, err := repo.DefaultBranchHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The caller's time runs out as the look begins.
	outOfTime := func(method, path string) context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		arrived, release := gh.Hold(method, path)
		go func() {
			<-arrived
			cancel()
			release()
		}()
		return ctx
	}

	gh.FailAfterServing("POST", "/repos/{owner}/{repo}/check-runs", http.StatusBadGateway, 1)
	ctx := outOfTime("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs")
	id, err := repo.QueueCheckRun(ctx, sha, githubapi.QueuedRun{TaskID: "t0123456789abcdef", Attempt: 1, DeliveryID: "d1", DetailsURL: "http://oneshot.test/tasks/t0123456789abcdef"})
	if runs := gh.CheckRuns(fake); err != nil || len(runs) != 1 || id != runs[0].ID {
		t.Errorf("check run %d, %v; runs %+v", id, err, runs)
	}

	gh.FailAfterServing("POST", "/repos/{owner}/{repo}/issues/{number}/comments", http.StatusBadGateway, 1)
	ctx = outOfTime("GET", "/repos/{owner}/{repo}/issues/{number}/comments")
	if c, err := repo.Comment(ctx, 1, "Working on it."); err != nil || c.GetID() == 0 {
		t.Errorf("comment %v, %v; want the one GitHub made", c, err)
	}
}

// Two retries of a task (a Retry pressed twice) make runs alike but for
// their delivery: one whose answer was lost finds its own, never the
// other's, which it would close when it lost the race.
func TestARunWhoseAnswerWasLostIsNotTakenFromAnotherDelivery(t *testing.T) {
	t.Parallel()
	gh, fake, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	ctx := context.Background()
	_, sha, err := repo.DefaultBranchHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	run := func(delivery string) githubapi.QueuedRun {
		return githubapi.QueuedRun{TaskID: "t0123456789abcdef", Attempt: 2, DeliveryID: delivery, DetailsURL: "http://oneshot.test/tasks/t0123456789abcdef"}
	}
	winners, err := repo.QueueCheckRun(ctx, sha, run("first-press"))
	if err != nil {
		t.Fatal(err)
	}
	gh.Fail("POST", "/repos/{owner}/{repo}/check-runs", http.StatusBadGateway, 1)
	if id, err := repo.QueueCheckRun(ctx, sha, run("second-press")); err == nil || id == winners {
		t.Fatalf("the second press took check run %d (the first's is %d), err %v", id, winners, err)
	}
	if id := repo.FindCheckRun(ctx, sha, run("second-press")); id != 0 {
		t.Fatalf("the second press found check run %d; it made none", id)
	}
	gh.FailAfterServing("POST", "/repos/{owner}/{repo}/check-runs", http.StatusBadGateway, 1)
	own, err := repo.QueueCheckRun(ctx, sha, run("second-press"))
	if runs := gh.CheckRuns(fake); err != nil || own == winners || len(runs) != 2 {
		t.Fatalf("the second press has check run %d, %v (the first's is %d); runs %+v", own, err, winners, runs)
	}
	if id := repo.FindCheckRun(ctx, sha, run("first-press")); id != winners {
		t.Fatalf("the first press finds check run %d, want its own %d", id, winners)
	}
}

// On a busy repository's head, the runs queued since a task's was made
// fill more than a page: a lost answer still finds the task's own.
func TestARunWhoseAnswerWasLostIsFoundBehindAPageOfOthers(t *testing.T) {
	t.Parallel()
	_, _, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	ctx := context.Background()
	_, sha, err := repo.DefaultBranchHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	queued := func(task string) githubapi.QueuedRun {
		return githubapi.QueuedRun{TaskID: task, Attempt: 1, DeliveryID: "d-" + task, DetailsURL: "http://oneshot.test/tasks/" + task}
	}
	own, err := repo.QueueCheckRun(ctx, sha, queued("t0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 120 {
		if _, err := repo.QueueCheckRun(ctx, sha, queued(fmt.Sprintf("t%016d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if found := repo.FindCheckRun(ctx, sha, queued("t0123456789abcdef")); found != own || found == 0 {
		t.Fatalf("found check run %d, want the task's own %d", found, own)
	}
}

func TestOpeningAPullRequestOpenedBeforeReturnsItAsNotMadeNow(t *testing.T) {
	t.Parallel()
	gh, fake, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	ctx := context.Background()
	gh.SetBranch(t, fake, "oneshot/issue-1", gh.Head(t, fake, "main"))
	gh.CommitFiles(t, fake, "oneshot/issue-1", "change", map[string]string{"a.txt": "a\n"})
	pr := &github.NewPullRequest{Title: github.String("first"), Head: github.String("oneshot/issue-1"), Base: github.String("main")}
	first, made, err := repo.OpenPullRequest(ctx, pr)
	if err != nil || !made {
		t.Fatalf("first: made %v, err %v", made, err)
	}
	// GitHub answers 422: one is open from the branch already.
	again, made, err := repo.OpenPullRequest(ctx, pr)
	if err != nil || made || again.GetNumber() != first.GetNumber() || len(gh.PullRequests(fake)) != 1 {
		t.Fatalf("again: #%d made %v, err %v; want #%d found", again.GetNumber(), made, err, first.GetNumber())
	}
}

func TestATryGitHubDoesNotAnswerInTimeIsGivenUpAndNotRetried(t *testing.T) {
	t.Parallel()
	gh, _, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	if _, _, err := repo.DefaultBranchHead(context.Background()); err != nil {
		t.Fatal(err) // the token, before the stall
	}
	gh.Stall("GET", "/repos/{owner}/{repo}", 2)
	if _, _, err := repo.DefaultBranchHead(githubapi.AnswerWithin(context.Background(), 100*time.Millisecond)); err == nil {
		t.Fatal("a request GitHub never answered succeeded")
	}
	if n := gh.Count("GET", "/repos/{owner}/{repo}"); n != 2 {
		t.Fatalf("%d tries in all, want the stalled one not tried again", n-1)
	}
}

func TestTheTimeToAnswerDoesNotCountTheWaitGitHubAskedFor(t *testing.T) {
	t.Parallel()
	gh, _, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	gh.SecondaryRateLimit("GET", "/repos/{owner}/{repo}", time.Second, 1)
	if _, _, err := repo.DefaultBranchHead(githubapi.AnswerWithin(context.Background(), 500*time.Millisecond)); err != nil {
		t.Fatalf("a Retry-After longer than the time to answer was not waited out: %v", err)
	}
}

func TestAWriteTriedUntilTakenWaitsAsLongAsTheRateLimitAsks(t *testing.T) {
	t.Parallel()
	// Each try meets the limit, which asks for more time than the caller
	// has: tried again sooner, the write would only be refused again,
	// and every refused request prolongs the limit.
	gh, _, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	gh.SecondaryRateLimit("POST", "/repos/{owner}/{repo}/issues/{n}/comments", 3*time.Second, -1)
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	err := githubapi.UntilTaken(ctx, 100*time.Millisecond, func() error {
		_, err := repo.Comment(ctx, 1, "hello")
		return err
	})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("err = %v, context %v: want the limit's error before the deadline", err, ctx.Err())
	}
	if n := gh.Count("POST", "/repos/{owner}/{repo}/issues/{n}/comments"); n != 1 {
		t.Fatalf("the comment was sent %d times; want once", n)
	}
}

func TestARateLimitOnTheInstallationTokenIsNoRefusal(t *testing.T) {
	t.Parallel()
	// Nothing would try again a write GitHub refused for good, such as an
	// attempt's conclusion: a limit is waited out like any other.
	gh, _, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	gh.SecondaryRateLimit("POST", "/app/installations/{id}/access_tokens", time.Minute, 1)
	_, err := repo.Comment(context.Background(), 1, "hello")
	if err == nil || githubapi.Refused(err) {
		t.Fatalf("err = %v, refused %v; want a failure for now", err, githubapi.Refused(err))
	}
	// With no token, no request went: nothing was made that a later try
	// could find and take for its own.
	if githubapi.MayHaveHappened(err) {
		t.Fatal("a request that had no token may have happened")
	}
}

package githubtest_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/oneshot-dev/oneshot/internal/githubtest"
)

func TestFailAnswersThenRecovers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gh.Fail("GET", "/repos/{owner}/{repo}", http.StatusBadGateway, 1)

	_, _, err := b.client.Repositories.Get(b.ctx, "acme", "widgets")
	if statusOf(t, err) != http.StatusBadGateway {
		t.Fatalf("first call: %v, want 502", err)
	}
	if _, _, err := b.client.Repositories.Get(b.ctx, "acme", "widgets"); err != nil {
		t.Fatalf("second call: %v", err)
	}
	if n := b.gh.Count("GET", "/repos/{owner}/{repo}"); n != 2 {
		t.Errorf("Count = %d, want 2", n)
	}
	// The fault matched only its own route.
	if n := b.gh.Count("", "/repos/{owner}/{repo}/{rest...}"); n != 0 {
		t.Errorf("%d deeper requests", n)
	}
}

func TestFailCanBreakTokenCreation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gh.Fail("POST", "/app/installations/{id}/access_tokens", http.StatusInternalServerError, 1)
	if _, _, err := b.client.Repositories.Get(b.ctx, "acme", "widgets"); err == nil {
		t.Fatal("call succeeded without a token")
	}
	if _, _, err := b.client.Repositories.Get(b.ctx, "acme", "widgets"); err != nil {
		t.Fatalf("after the fault: %v", err)
	}
}

func TestSecondaryRateLimitSaysWhenToRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gh.AddIssue(b.repo, githubtest.Issue{Title: "Crash"})
	b.gh.SecondaryRateLimit("POST", "/repos/{owner}/{repo}/issues/{number}/comments", 1500*time.Millisecond, 1)

	_, resp, err := b.client.Issues.CreateComment(b.ctx, "acme", "widgets", 1, &github.IssueComment{Body: github.String("hi")})
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) {
		t.Fatalf("got %v, want a secondary rate limit error", err)
	}
	if abuse.RetryAfter == nil || *abuse.RetryAfter != 2*time.Second || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("retry after %v, header %q; want 2s", abuse.RetryAfter, resp.Header.Get("Retry-After"))
	}
	if len(b.gh.Comments(b.repo, 1)) != 0 {
		t.Error("the refused comment was kept")
	}
	// go-github itself waits out Retry-After; a fresh client need not.
	_, fresh := installationClient(t, b.gh, nil)
	if _, _, err := fresh.Issues.CreateComment(b.ctx, "acme", "widgets", 1, &github.IssueComment{Body: github.String("hi")}); err != nil {
		t.Fatalf("after the limit: %v", err)
	}
}

func TestSlowRequestOutlastsTheCallersDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, _, err := b.client.Repositories.Get(b.ctx, "acme", "widgets"); err != nil {
		t.Fatal(err) // fetch the token before the slow part
	}
	b.gh.Slow("GET", "/repos/{owner}/{repo}", 2*time.Second)
	ctx, cancel := context.WithTimeout(b.ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := b.client.Repositories.Get(ctx, "acme", "widgets")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the deadline", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the call took %v", d)
	}
}

func TestRequestLogKeepsStatuses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, _, _ = b.client.Issues.Get(b.ctx, "acme", "widgets", 9)
	var statuses []int
	for _, r := range b.gh.Requests() {
		if r.Path == "/repos/acme/widgets/issues/9" {
			statuses = append(statuses, r.Status)
		}
	}
	if len(statuses) != 1 || statuses[0] != http.StatusNotFound {
		t.Errorf("statuses = %v, want [404]", statuses)
	}
}

func TestStallHoldsARequestUntilTheClientGivesUp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, _, err := b.client.Repositories.Get(b.ctx, "acme", "widgets"); err != nil {
		t.Fatal(err) // fetch the token before the stall
	}
	arrived := b.gh.Stall("GET", "/repos/{owner}/{repo}", 1)
	ctx, cancel := context.WithCancel(b.ctx)
	done := make(chan error, 1)
	go func() {
		_, _, err := b.client.Repositories.Get(ctx, "acme", "widgets")
		done <- err
	}()
	<-arrived
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the client's giving up", err)
	}
	if _, _, err := b.client.Repositories.Get(b.ctx, "acme", "widgets"); err != nil {
		t.Fatalf("after the stall: %v", err)
	}
}

func TestAStalledRequestDoesNotKeepTheServerFromClosing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, _, err := b.client.Repositories.Get(b.ctx, "acme", "widgets"); err != nil {
		t.Fatal(err)
	}
	arrived := b.gh.Stall("GET", "/repos/{owner}/{repo}", 1)
	go func() { _, _, _ = b.client.Repositories.Get(context.Background(), "acme", "widgets") }()
	<-arrived
	// The test ends with the request in flight; its cleanup closes the
	// server, which would otherwise wait for it.
}

func TestHoldServesTheRequestOnlyOnceReleased(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, _, err := b.client.Repositories.Get(b.ctx, "acme", "widgets"); err != nil {
		t.Fatal(err)
	}
	arrived, release := b.gh.Hold("GET", "/repos/{owner}/{repo}")
	done := make(chan error, 1)
	go func() {
		_, _, err := b.client.Repositories.Get(b.ctx, "acme", "widgets")
		done <- err
	}()
	<-arrived
	// Another request's whole round trip, in which the held one would
	// have been answered too.
	if _, _, err := b.client.Repositories.GetBranch(b.ctx, "acme", "widgets", "main", 0); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("the held request was answered (%v) before its release", err)
	default:
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("after the release: %v", err)
	}
}

package githubtest_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-github/v62/github"

	"github.com/oneshot-dev/oneshot/internal/githubtest"
)

func TestIssueReadsAsGitHubWritesIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gh.SetPermission(b.repo, "alice", "write")
	added := b.gh.AddIssue(b.repo, githubtest.Issue{Title: "Crash on start", Body: "It crashes.", User: "alice", Labels: []string{"bug"}})
	if added.Number != 1 || added.State != "open" {
		t.Fatalf("added = %+v", added)
	}
	got, _, err := b.client.Issues.Get(b.ctx, "acme", "widgets", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetTitle() != "Crash on start" || got.GetUser().GetLogin() != "alice" || got.GetState() != "open" ||
		len(got.Labels) != 1 || got.Labels[0].GetName() != "bug" || got.IsPullRequest() ||
		got.GetAuthorAssociation() != "COLLABORATOR" {
		t.Errorf("issue = %+v", got)
	}
	if _, _, err := b.client.Issues.Get(b.ctx, "acme", "widgets", 2); statusOf(t, err) != http.StatusNotFound {
		t.Errorf("missing issue: %v, want 404", err)
	}

	labels, _, err := b.client.Issues.AddLabelsToIssue(b.ctx, "acme", "widgets", 1, []string{"agent"})
	if err != nil || len(labels) != 2 {
		t.Fatalf("labels = %v (%v)", labels, err)
	}
	if _, err := b.client.Issues.RemoveLabelForIssue(b.ctx, "acme", "widgets", 1, "bug"); err != nil {
		t.Fatal(err)
	}
	if is, _ := b.gh.Issue(b.repo, 1); !slices.Equal(is.Labels, []string{"agent"}) {
		t.Errorf("labels = %v, want [agent]", is.Labels)
	}
}

func TestCommentCreateAndEditKeepsHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gh.AddIssue(b.repo, githubtest.Issue{Title: "Crash", User: "alice"})
	b.gh.AddComment(b.repo, 1, "alice", "/oneshot fix this")

	created, resp, err := b.client.Issues.CreateComment(b.ctx, "acme", "widgets", 1, &github.IssueComment{Body: github.String("Working on it")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || created.GetUser().GetLogin() != "oneshot-test[bot]" ||
		created.GetUser().GetType() != "Bot" || created.GetHTMLURL() == "" || created.GetCreatedAt().IsZero() {
		t.Errorf("created %d: %+v", resp.StatusCode, created)
	}
	for _, body := range []string{"Step 1 passed", "Done"} {
		if _, _, err := b.client.Issues.EditComment(b.ctx, "acme", "widgets", created.GetID(), &github.IssueComment{Body: github.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := b.client.Issues.GetComment(b.ctx, "acme", "widgets", created.GetID())
	if err != nil || got.GetBody() != "Done" {
		t.Errorf("comment = %q (%v)", got.GetBody(), err)
	}
	c, ok := b.gh.Comment(created.GetID())
	if !ok || !slices.Equal(c.History, []string{"Working on it", "Step 1 passed", "Done"}) {
		t.Errorf("history = %q", c.History)
	}
	if all := b.gh.Comments(b.repo, 1); len(all) != 2 || all[0].User != "alice" || all[1].Body != "Done" {
		t.Errorf("comments = %+v", all)
	}
	_, _, err = b.client.Issues.CreateComment(b.ctx, "acme", "widgets", 1, &github.IssueComment{Body: github.String(strings.Repeat("x", 65537))})
	if statusOf(t, err) != http.StatusUnprocessableEntity {
		t.Errorf("over-long comment: %v, want 422", err)
	}
}

func TestCommentListPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gh.AddIssue(b.repo, githubtest.Issue{Title: "Chatty"})
	for i := range 5 {
		b.gh.AddComment(b.repo, 1, "alice", fmt.Sprint("comment ", i))
	}
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 2}}
	var bodies []string
	for {
		page, resp, err := b.client.Issues.ListComments(b.ctx, "acme", "widgets", 1, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			bodies = append(bodies, c.GetBody())
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(bodies) != 5 || bodies[0] != "comment 0" || bodies[4] != "comment 4" {
		t.Errorf("bodies = %q", bodies)
	}
	if n := b.gh.Count("GET", "/repos/{owner}/{repo}/issues/{number}/comments"); n != 3 {
		t.Errorf("%d pages fetched, want 3", n)
	}
}

func TestReactionIsCreatedOnceThenFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gh.AddIssue(b.repo, githubtest.Issue{Title: "Crash"})
	c := b.gh.AddComment(b.repo, 1, "alice", "/oneshot fix this")

	for i, want := range []int{http.StatusCreated, http.StatusOK} {
		r, resp, err := b.client.Reactions.CreateIssueCommentReaction(b.ctx, "acme", "widgets", c.ID, "eyes")
		if err != nil || resp.StatusCode != want || r.GetContent() != "eyes" || r.GetUser().GetLogin() != "oneshot-test[bot]" {
			t.Errorf("reaction %d: %d %+v (%v), want %d", i, resp.StatusCode, r, err, want)
		}
	}
	if _, resp, err := b.client.Reactions.CreateIssueReaction(b.ctx, "acme", "widgets", 1, "rocket"); err != nil || resp.StatusCode != http.StatusCreated {
		t.Errorf("issue reaction: %v", err)
	}
	if _, _, err := b.client.Reactions.CreateIssueReaction(b.ctx, "acme", "widgets", 1, "thumbs"); statusOf(t, err) != http.StatusUnprocessableEntity {
		t.Errorf("unknown reaction: %v, want 422", err)
	}
	if _, _, err := b.client.Reactions.CreateIssueCommentReaction(b.ctx, "acme", "widgets", 999999, "eyes"); statusOf(t, err) != http.StatusNotFound {
		t.Errorf("reaction to a missing comment: %v, want 404", err)
	}
	got := b.gh.Reactions(b.repo)
	if len(got) != 2 || got[0].CommentID != c.ID || got[0].Content != "eyes" || got[1].CommentID != 0 || got[1].Issue != 1 {
		t.Errorf("reactions = %+v", got)
	}
}

func TestSearchSpendsItsRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gh.AddIssue(b.repo, githubtest.Issue{Title: "Crash on start", Body: "panic in main"})
	b.gh.AddIssue(b.repo, githubtest.Issue{Title: "Docs typo"})
	b.gh.SetSearchRemaining(2)

	limits, _, err := b.client.RateLimit.Get(b.ctx)
	if err != nil || limits.GetSearch().Remaining != 2 || limits.GetCore().Remaining == 0 {
		t.Fatalf("limits = %+v (%v)", limits, err)
	}
	res, _, err := b.client.Search.Issues(b.ctx, "repo:acme/widgets is:issue panic", nil)
	if err != nil || res.GetTotal() != 1 || res.Issues[0].GetNumber() != 1 {
		t.Fatalf("search = %+v (%v)", res, err)
	}
	if _, _, err := b.client.Search.Issues(b.ctx, "repo:acme/widgets typo", nil); err != nil {
		t.Fatal(err)
	}
	// go-github saw X-RateLimit-Remaining: 0 and now refuses by itself; a
	// fresh client reaches the fake, which refuses too.
	var rerr *github.RateLimitError
	if _, _, err = b.client.Search.Issues(b.ctx, "crash", nil); !errors.As(err, &rerr) {
		t.Fatalf("third search: %v, want a rate limit error", err)
	}
	_, fresh := installationClient(t, b.gh, nil)
	if _, _, err = fresh.Search.Issues(b.ctx, "crash", nil); !errors.As(err, &rerr) {
		t.Fatalf("search from a fresh client: %v, want a rate limit error", err)
	}
	if n := b.gh.Count("GET", "/search/issues"); n != 3 {
		t.Errorf("search reached the fake %d times, want 3", n)
	}
}

func TestConcurrentCommentsAreAllKept(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gh.AddIssue(b.repo, githubtest.Issue{Title: "Busy"})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			body := github.String(fmt.Sprint("comment ", i))
			if _, _, err := b.client.Issues.CreateComment(b.ctx, "acme", "widgets", 1, &github.IssueComment{Body: body}); err != nil {
				t.Error(err)
			}
			_ = b.gh.Comments(b.repo, 1)
			_ = b.gh.Requests()
		})
	}
	wg.Wait()
	if n := len(b.gh.Comments(b.repo, 1)); n != 20 {
		t.Errorf("%d comments kept, want 20", n)
	}
}

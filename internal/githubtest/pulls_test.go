package githubtest_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-github/v62/github"

	"github.com/oneshot-dev/oneshot/internal/githubtest"
)

func TestPullRequestCreateAndDuplicate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gh.AddIssue(b.repo, githubtest.Issue{Title: "Crash"})
	sha := b.pushBranch(t, "oneshot/issue-1", map[string]string{"fix.txt": "fixed\n"})
	b.pushBranch(t, "other", map[string]string{"other.txt": "other\n"})

	newPR := &github.NewPullRequest{
		Title: github.String("Fix the crash"), Head: github.String("oneshot/issue-1"),
		Base: github.String("main"), Body: github.String("Fixes #1"), Draft: github.Bool(true),
	}
	pr, resp, err := b.client.PullRequests.Create(b.ctx, "acme", "widgets", newPR)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || pr.GetNumber() != 2 || pr.GetHead().GetRef() != "oneshot/issue-1" ||
		pr.GetHead().GetSHA() != sha || pr.GetBase().GetRef() != "main" || pr.GetState() != "open" || !pr.GetDraft() ||
		pr.GetUser().GetLogin() != "oneshot-test[bot]" || pr.GetHTMLURL() == "" {
		t.Errorf("created %d: %+v", resp.StatusCode, pr)
	}
	if is, ok := b.gh.Issue(b.repo, 2); !ok || !is.PullRequest {
		t.Errorf("the pull request is not also issue #2: %+v", is)
	}

	newPR.Head = github.String("acme:oneshot/issue-1")
	if _, _, err := b.client.PullRequests.Create(b.ctx, "acme", "widgets", newPR); statusOf(t, err) != http.StatusUnprocessableEntity {
		t.Errorf("duplicate: %v, want 422", err)
	}
	for name, head := range map[string]string{"missing branch": "nope", "no new commits": "main"} {
		newPR.Head = github.String(head)
		if _, _, err := b.client.PullRequests.Create(b.ctx, "acme", "widgets", newPR); statusOf(t, err) != http.StatusUnprocessableEntity {
			t.Errorf("%s: %v, want 422", name, err)
		}
	}
	newPR.Head = github.String("other")
	if _, _, err := b.client.PullRequests.Create(b.ctx, "acme", "widgets", newPR); err != nil {
		t.Fatal(err)
	}

	list := func(head string) int {
		t.Helper()
		prs, _, err := b.client.PullRequests.List(b.ctx, "acme", "widgets", &github.PullRequestListOptions{State: "open", Head: head})
		if err != nil {
			t.Fatal(err)
		}
		return len(prs)
	}
	if n := list("acme:oneshot/issue-1"); n != 1 {
		t.Errorf("%d pull requests for acme:oneshot/issue-1, want 1", n)
	}
	if n := list("oneshot/issue-1"); n != 2 {
		t.Errorf("a head without owner: %d pull requests, want both (GitHub ignores the filter)", n)
	}

	b.gh.SetPermission(b.repo, "alice", "write")
	if _, _, err := b.client.PullRequests.RequestReviewers(b.ctx, "acme", "widgets", 2, github.ReviewersRequest{Reviewers: []string{"alice"}}); err != nil {
		t.Errorf("request a collaborator: %v", err)
	}
	b.gh.AddUser("stranger")
	_, _, err = b.client.PullRequests.RequestReviewers(b.ctx, "acme", "widgets", 2, github.ReviewersRequest{Reviewers: []string{"stranger"}})
	if statusOf(t, err) != http.StatusUnprocessableEntity {
		t.Errorf("request a non-collaborator: %v, want 422", err)
	}
	closed, _, err := b.client.PullRequests.Edit(b.ctx, "acme", "widgets", 2, &github.PullRequest{State: github.String("closed")})
	if err != nil || closed.GetState() != "closed" {
		t.Errorf("close: %v (%v)", closed.GetState(), err)
	}
	if n := list("acme:oneshot/issue-1"); n != 0 {
		t.Errorf("%d open pull requests after closing, want 0", n)
	}
	prs := b.gh.PullRequests(b.repo)
	if len(prs) != 2 || prs[0].Reviewers[0] != "alice" || prs[0].State != "closed" || prs[0].Body != "Fixes #1" {
		t.Errorf("pull requests = %+v", prs)
	}
}

func TestPullRequestsListedByHeadAreThoseIntoEveryBaseUnlessOneIsGiven(t *testing.T) {
	t.Parallel()
	b := setup(t)
	turnedDown := b.gh.AddPullRequest(b.repo, githubtest.PullRequest{Head: "oneshot/issue-1", Base: "main"})
	b.gh.ClosePullRequest(t, b.repo, turnedDown.Number)
	moved := b.gh.AddPullRequest(b.repo, githubtest.PullRequest{Head: "oneshot/issue-1", Base: "develop"})
	b.gh.AddPullRequest(b.repo, githubtest.PullRequest{Head: "other", Base: "main"})

	for _, c := range []struct {
		opts github.PullRequestListOptions
		want []int
	}{
		{github.PullRequestListOptions{Head: "acme:oneshot/issue-1"}, []int{moved.Number}}, // open by default
		{github.PullRequestListOptions{Head: "acme:oneshot/issue-1", State: "all"}, []int{moved.Number, turnedDown.Number}},
		{github.PullRequestListOptions{Head: "acme:oneshot/issue-1", State: "closed"}, []int{turnedDown.Number}},
		{github.PullRequestListOptions{Head: "acme:oneshot/issue-1", State: "all", Base: "main"}, []int{turnedDown.Number}},
		{github.PullRequestListOptions{Head: "someone:oneshot/issue-1", State: "all"}, nil},
	} {
		prs, _, err := b.client.PullRequests.List(b.ctx, "acme", "widgets", &c.opts)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, pr := range prs {
			got = append(got, pr.GetNumber())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("head %s, state %q, base %q: %v, want %v", c.opts.Head, c.opts.State, c.opts.Base, got, c.want)
		}
	}
}

func TestAReviewIsListedAndTakesItsAuthorOffTheRequestedReviewers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gh.SetPermission(b.repo, "alice", "write")
	b.gh.SetPermission(b.repo, "hubot", "write")
	pr := b.gh.AddPullRequest(b.repo, githubtest.PullRequest{Head: "oneshot/issue-1", Base: "main", Reviewers: []string{"alice", "hubot"}})
	added := b.gh.AddReview(b.repo, pr.Number, "alice", "APPROVED", "Looks right.")

	reviews, _, err := b.client.PullRequests.ListReviews(b.ctx, "acme", "widgets", pr.Number, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(reviews) != 1 || reviews[0].GetID() != added.ID || reviews[0].GetUser().GetLogin() != "alice" ||
		reviews[0].GetState() != "APPROVED" || reviews[0].GetBody() != "Looks right." || reviews[0].GetSubmittedAt().IsZero() {
		t.Errorf("reviews %+v", reviews)
	}
	if prs := b.gh.PullRequests(b.repo); !slices.Equal(prs[0].Reviewers, []string{"hubot"}) {
		t.Errorf("requested reviewers %v, want hubot only", prs[0].Reviewers)
	}
	if _, _, err := b.client.PullRequests.ListReviews(b.ctx, "acme", "widgets", 99, nil); statusOf(t, err) != http.StatusNotFound {
		t.Errorf("reviews of a missing pull request: %v, want 404", err)
	}
}

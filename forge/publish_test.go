package forge

import (
	"slices"
	"strings"
	"testing"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/internal/githubtest"
	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/tasks"
	"github.com/oneshot-dev/oneshot/workspace"
)

// publishNew pushes a commit on the base to oneshot/issue-2, a branch no
// pull request has, labelled "bot" and with octocat asked to review, as
// the ship step does for a first attempt; edit, if set, changes the pull
// request first.
func publishNew(t *testing.T, g *GitHub, edit func(*pipeline.PullRequest)) (pipeline.Published, error) {
	t.Helper()
	task, co, pr := newChange(t, g)
	if edit != nil {
		edit(&pr)
	}
	return g.Publish(t.Context(), task, co, pr)
}

// newChange is publishNew's task, checkout and pull request, not yet
// published.
func newChange(t *testing.T, g *GitHub) (*tasks.Task, *pipeline.Checkout, pipeline.PullRequest) {
	t.Helper()
	task := &tasks.Task{ID: "t2", Repo: "acme/widgets", InstallationID: 7, Issue: 2, Kind: tasks.KindIssue, Attempt: 1, Requester: "octocat"}
	co, start := checkoutBranch(t, g, task, "oneshot/issue-2")
	head, err := co.Repo.Commit(t.Context(), workspace.NewCommit{
		Tree: start + "^{tree}", Parent: start, Name: "oneshot", Email: "oneshot@localhost", Message: "Fix it",
	})
	if err != nil {
		t.Fatal(err)
	}
	pr := continuing(co, "oneshot/issue-2", head, start, "Fix it")
	pr.Labels = []string{"bot"}
	return task, co, pr
}

func TestAPullRequestGitHubFailedToOpenForNowIsOpenedOnASecondTry(t *testing.T) {
	t.Parallel()
	gh, repo, g := newBranchOnGitHub(t)
	gh.Fail("POST", "/repos/{owner}/{repo}/pulls", 502, 1)

	pub, err := publishNew(t, g, nil)
	if err != nil {
		t.Fatalf("publish: %v; want the pull request opened on a second try", err)
	}
	prs := gh.PullRequests(repo)
	if len(prs) != 1 || pub.Number != prs[0].Number || prs[0].Head != "oneshot/issue-2" {
		t.Fatalf("published #%d; pull requests %+v; want the one from oneshot/issue-2", pub.Number, prs)
	}
	if n := gh.Count("POST", "/repos/{owner}/{repo}/pulls"); n != 2 {
		t.Fatalf("%d requests to open it; want 2", n)
	}
}

// The look for the branch's open pull request, after the push, is made
// again while GitHub fails for now, for longer than the client's own
// retries: failed, it would leave the branch pushed and no pull request.
func TestALookForThePullRequestGitHubFailedForNowIsMadeAgain(t *testing.T) {
	t.Parallel()
	gh, repo, g := newBranchOnGitHub(t)
	task, co, pr := newChange(t, g)
	gh.Fail("GET", "/repos/{owner}/{repo}/pulls", 502, githubapi.DefaultRetryAttempts)
	pub, err := g.Publish(t.Context(), task, co, pr)
	if err != nil {
		t.Fatalf("publish: %v; want the look made again", err)
	}
	prs := gh.PullRequests(repo)
	if len(prs) != 1 || pub.Number != prs[0].Number || prs[0].Head != "oneshot/issue-2" {
		t.Fatalf("published #%d; pull requests %+v; want the one from oneshot/issue-2", pub.Number, prs)
	}
}

func TestAPullRequestOpenedByATryWhoseAnswerWasLostIsLabelledAndReviewed(t *testing.T) {
	t.Parallel()
	gh, repo, g := newBranchOnGitHub(t)
	gh.SetPermission(repo, "octocat", "write")
	// GitHub opens it but the answer is lost, and the look for it right
	// after finds nothing yet: the second try is told it is open already.
	arrived, release := gh.Hold("POST", "/repos/{owner}/{repo}/pulls")
	gh.FailAfterServing("POST", "/repos/{owner}/{repo}/pulls", 502, 1)
	type result struct {
		pub pipeline.Published
		err error
	}
	done := make(chan result, 1)
	go func() {
		pub, err := publishNew(t, g, nil)
		done <- result{pub, err}
	}()
	<-arrived // the look that comes before it went through
	gh.Fail("GET", "/repos/{owner}/{repo}/pulls", 404, 1)
	release()
	r := <-done
	pub, err := r.pub, r.err
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	prs := gh.PullRequests(repo)
	if len(prs) != 1 || pub.Number != prs[0].Number || pub.Updated {
		t.Fatalf("published #%d (updated %v); pull requests %+v; want the one opened, as opened", pub.Number, pub.Updated, prs)
	}
	issue, _ := gh.Issue(repo, pub.Number)
	if !slices.Contains(issue.Labels, "bot") || !slices.Contains(prs[0].Reviewers, "octocat") {
		t.Fatalf("labels %v, reviewers %v; want bot and octocat", issue.Labels, prs[0].Reviewers)
	}
}

func TestAPushGitHubFailedForNowIsMadeAgain(t *testing.T) {
	t.Parallel()
	gh, repo, g := newBranchOnGitHub(t)
	gh.Fail("POST", "/git/{owner}/{repo}/git-receive-pack", 502, 1)
	pub, err := publishNew(t, g, nil)
	if err != nil {
		t.Fatalf("publish: %v; want the push made again", err)
	}
	prs := gh.PullRequests(repo)
	if len(prs) != 1 || pub.Number != prs[0].Number || prs[0].HeadSHA != gh.Head(t, repo, "oneshot/issue-2") {
		t.Fatalf("published #%d; pull requests %+v", pub.Number, prs)
	}
}

func TestAPushWhoseAnswerWasLostIsNotTakenForTheBranchMoving(t *testing.T) {
	t.Parallel()
	gh, repo, g := newBranchOnGitHub(t)
	pr := gh.AddPullRequest(repo, githubtest.PullRequest{Title: "Fix it", Head: "oneshot/issue-1", Base: "main", User: gh.BotLogin()})
	task := &tasks.Task{ID: "t1", Repo: "acme/widgets", InstallationID: 7, Issue: 1, Kind: tasks.KindIssue, Attempt: 2, Requester: "octocat"}
	co, start := checkoutBranch(t, g, task, "oneshot/issue-1")
	// The push goes through, and its answer is lost: the next try finds
	// the branch where this one left it, not where its lease expects it.
	gh.FailAfterServing("POST", "/git/{owner}/{repo}/git-receive-pack", 502, 1)
	pub := publishChange(t, g, task, co, "oneshot/issue-1", start, "Fix it, again")
	if pub.Number != pr.Number || !pub.Updated {
		t.Fatalf("published #%d (updated %v); want #%d updated", pub.Number, pub.Updated, pr.Number)
	}
	if head := gh.Head(t, repo, "oneshot/issue-1"); head == start {
		t.Fatal("the branch was not pushed")
	}
}

func TestOneReviewerGitHubWillNotTakeKeepsNoOtherFromBeingAsked(t *testing.T) {
	t.Parallel()
	gh, repo, g := newBranchOnGitHub(t)
	gh.SetPermission(repo, "octocat", "write")
	gh.SetPermission(repo, "hubot", "write")
	pub, err := publishNew(t, g, func(pr *pipeline.PullRequest) {
		pr.Reviewers = []string{"departed", "hubot"} // departed is no collaborator
	})
	if err != nil {
		t.Fatal(err)
	}
	prs := gh.PullRequests(repo)
	if len(prs) != 1 || !slices.Equal(prs[0].Reviewers, []string{"octocat", "hubot"}) {
		t.Fatalf("pull requests %+v; want octocat and hubot asked to review", prs)
	}
	if len(pub.Warnings) != 1 || !strings.Contains(pub.Warnings[0], "departed") {
		t.Fatalf("warnings %q; want one naming departed", pub.Warnings)
	}
}

// A pull request open from the branch already, which an earlier attempt
// opened and died before it labelled it, say, gets the labels and the
// reviewers it lacks: not its author, whom GitHub refuses, nor anyone
// asked already or who has reviewed it. A run after gets nothing twice.
func TestAPullRequestOpenFromTheBranchGetsTheLabelsAndReviewersItLacks(t *testing.T) {
	t.Parallel()
	gh, repo, g := newBranchOnGitHub(t)
	for _, login := range []string{"octocat", "hubot", "alice", "carol"} {
		gh.SetPermission(repo, login, "write")
	}
	// octocat, who asks for the task, opened it from oneshot's branch.
	open := gh.AddPullRequest(repo, githubtest.PullRequest{Title: "Fix it", Head: "oneshot/issue-2", Base: "main", User: "octocat",
		Reviewers: []string{"hubot"}})
	gh.AddReview(repo, open.Number, "alice", "COMMENTED", "A question.")
	publish := func() pipeline.Published {
		t.Helper()
		pub, err := publishNew(t, g, func(pr *pipeline.PullRequest) { pr.Reviewers = []string{"hubot", "alice", "carol"} })
		if err != nil {
			t.Fatal(err)
		}
		if pub.Number != open.Number || !pub.Updated || len(pub.Warnings) != 0 {
			t.Fatalf("published #%d (updated %v) with warnings %q; want #%d updated, no warnings", pub.Number, pub.Updated, pub.Warnings, open.Number)
		}
		return pub
	}
	publish()
	issue, _ := gh.Issue(repo, open.Number)
	prs := gh.PullRequests(repo)
	if !slices.Equal(issue.Labels, []string{"bot"}) || len(prs) != 1 || !slices.Equal(prs[0].Reviewers, []string{"hubot", "carol"}) {
		t.Fatalf("labels %v, reviewers %v; want bot, and carol asked beside hubot", issue.Labels, prs[0].Reviewers)
	}

	labelled, asked := gh.Count("POST", "/repos/{owner}/{repo}/issues/{n}/labels"), gh.Count("POST", "/repos/{owner}/{repo}/pulls/{n}/requested_reviewers")
	publish()
	if gh.Count("POST", "/repos/{owner}/{repo}/issues/{n}/labels") != labelled || gh.Count("POST", "/repos/{owner}/{repo}/pulls/{n}/requested_reviewers") != asked {
		t.Fatal("a run after labelled it or asked for reviews again")
	}
}

// A pull request opened meanwhile, which the attempt finds when GitHub
// refuses a second, keeps the warning that drafts are refused.
func TestAPullRequestFoundOpenAfterADraftWasRefusedKeepsTheWarning(t *testing.T) {
	t.Parallel()
	gh, repo, g := newBranchOnGitHub(t)
	repo.NoDrafts = true
	gh.SetPermission(repo, "octocat", "write")
	firstArrived, releaseFirst := gh.Hold("POST", "/repos/{owner}/{repo}/pulls")
	secondArrived, releaseSecond := gh.Hold("POST", "/repos/{owner}/{repo}/pulls")
	type result struct {
		pub pipeline.Published
		err error
	}
	done := make(chan result, 1)
	go func() {
		pub, err := publishNew(t, g, func(pr *pipeline.PullRequest) { pr.Draft = true })
		done <- result{pub, err}
	}()
	<-firstArrived // the draft, which GitHub refuses
	releaseFirst()
	<-secondArrived // the one ready for review
	open := gh.AddPullRequest(repo, githubtest.PullRequest{Title: "Fix it", Head: "oneshot/issue-2", Base: "main", User: gh.BotLogin()})
	releaseSecond()
	r := <-done
	if r.err != nil {
		t.Fatalf("publish: %v", r.err)
	}
	if r.pub.Number != open.Number || !r.pub.Updated || len(r.pub.Warnings) != 1 || !strings.Contains(r.pub.Warnings[0], "ready for review") {
		t.Fatalf("published #%d (updated %v) with warnings %q; want #%d and that it is ready for review", r.pub.Number, r.pub.Updated, r.pub.Warnings, open.Number)
	}
	issue, _ := gh.Issue(repo, open.Number)
	if prs := gh.PullRequests(repo); !slices.Contains(issue.Labels, "bot") || !slices.Contains(prs[0].Reviewers, "octocat") {
		t.Fatalf("labels %v, reviewers %v; want bot and octocat", issue.Labels, prs[0].Reviewers)
	}
}

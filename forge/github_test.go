package forge

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/internal/githubtest"
	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/tasks"
	"github.com/oneshot-dev/oneshot/workspace"
)

func TestAFollowUpOnAPullRequestClosedSinceItWasAskedForFetchesNothing(t *testing.T) {
	t.Parallel()
	gh := githubtest.New(t)
	repo := gh.AddInstalledRepo(t, 7, "acme/widgets", map[string]string{"README.md": "# widgets\n"})
	pr := gh.AddPullRequest(repo, githubtest.PullRequest{Head: "oneshot/issue-1", Base: "main", User: gh.BotLogin()})
	gh.ClosePullRequest(t, repo, pr.Number)
	clients, err := githubapi.NewClientCreator(gh.AppConfig(), "test", githubapi.RetryPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	g := &GitHub{Clients: clients, App: gh.AppConfig(), BotLogin: gh.BotLogin(), WorkDir: t.TempDir()}
	task := &tasks.Task{ID: "t1", Repo: "acme/widgets", InstallationID: 7, Issue: pr.Number, PullRequest: pr.Number,
		Kind: tasks.KindFollowUp, Attempt: 1}
	co, err := g.Checkout(t.Context(), task)
	if err == nil || !strings.Contains(err.Error(), "pull request #1 was closed") {
		t.Fatalf("checkout %+v, %v; want it refused as closed", co, err)
	}
	if n := gh.Count("POST", "/git/{rest...}"); n != 0 {
		t.Fatalf("%d git requests for a closed pull request", n)
	}
}

func TestAFollowUpOnAPullRequestMovedToAnotherBaseUpdatesIt(t *testing.T) {
	t.Parallel()
	gh, repo, g := newBranchOnGitHub(t)
	pr := gh.AddPullRequest(repo, githubtest.PullRequest{Title: "Fix it", Head: "oneshot/issue-1", Base: "develop", User: gh.BotLogin()})
	task := &tasks.Task{ID: "t1", Repo: "acme/widgets", InstallationID: 7, Issue: pr.Number, PullRequest: pr.Number,
		Kind: tasks.KindFollowUp, Attempt: 1, Requester: "octocat"}
	co, start := checkoutBranch(t, g, task, "oneshot/issue-1")
	if co.Branch != "oneshot/issue-1" || start == "" {
		t.Fatalf("the follow-up continues branch %q from %q", co.Branch, start)
	}

	pub := publishChange(t, g, task, co, "oneshot/issue-1", start, "Fix it, as asked")
	prs := gh.PullRequests(repo)
	if pub.Number != pr.Number || !pub.Updated || len(prs) != 1 {
		t.Fatalf("published #%d (updated %v), %d pull requests; want #%d updated and no other", pub.Number, pub.Updated, len(prs), pr.Number)
	}
	// Its title is the maintainers' to keep.
	if prs[0].Base != "develop" || prs[0].Title != "Fix it" {
		t.Fatalf("pull request #%d into %s titled %q", prs[0].Number, prs[0].Base, prs[0].Title)
	}
}

// A pull request open from the branch is one the attempt found open,
// unless its task published it itself, in an earlier attempt or before a
// restart ran this one again: the branch as it stands is then its change,
// to publish again.
func TestAPullRequestTheTaskPublishedItselfIsNotOneItFoundOpen(t *testing.T) {
	t.Parallel()
	task := &tasks.Task{ID: "t1", Repo: "acme/widgets", InstallationID: 7, Issue: 1, Kind: tasks.KindIssue, Attempt: 2}
	for who, want := range map[*tasks.Task]bool{
		{ID: "t1", Attempt: 1}: false, // the attempt before
		{ID: "t0", Attempt: 2}: true,  // another task
		task:                   false, // this attempt
	} {
		gh, repo, g := newBranchOnGitHub(t)
		pr := gh.AddPullRequest(repo, githubtest.PullRequest{Title: "Fix it", Head: "oneshot/issue-1", Base: "main", User: gh.BotLogin(),
			Body: "Fixes #1\n\n" + pipeline.DescriptionStart + "\n" + pipeline.PublishedMark(who) + "\n" + pipeline.DescriptionEnd + "\n"})
		co, _ := checkoutBranch(t, g, task, "oneshot/issue-1")
		if found := co.OpenPullRequest == pr.Number; found != want {
			t.Errorf("published by %s#%d: taken for one found open %v, want %v", who.ID, who.Attempt, found, want)
		}
	}
}

func TestABranchWhosePullRequestIsOpenIntoAnotherBaseIsContinuedNotReplaced(t *testing.T) {
	t.Parallel()
	gh, repo, g := newBranchOnGitHub(t)
	gh.AddIssue(repo, githubtest.Issue{Number: 1, Title: "Fix it"})
	// The pull request into main was turned down; a maintainer opened
	// the same branch into develop instead.
	closed := gh.AddPullRequest(repo, githubtest.PullRequest{Title: "Fix it", Head: "oneshot/issue-1", Base: "main", User: gh.BotLogin()})
	gh.ClosePullRequest(t, repo, closed.Number)
	open := gh.AddPullRequest(repo, githubtest.PullRequest{Title: "Fix it", Head: "oneshot/issue-1", Base: "develop", User: gh.BotLogin()})
	task := &tasks.Task{ID: "t2", Repo: "acme/widgets", InstallationID: 7, Issue: 1, Kind: tasks.KindIssue, Attempt: 2, Requester: "octocat"}
	co, start := checkoutBranch(t, g, task, "oneshot/issue-1")
	if co.Replaces != nil {
		t.Errorf("the branch is taken for the one closed #%d left, though #%d is open from it", co.Replaces.PullRequest, open.Number)
	}

	pub := publishChange(t, g, task, co, "oneshot/issue-1", start, "Fix it, again")
	if paths := gh.Paths(t, repo, "oneshot/issue-1"); !slices.Contains(paths, "fix.txt") {
		t.Errorf("the open pull request's change is gone from its branch, which holds %q", paths)
	}
	if pub.Number != open.Number || len(gh.PullRequests(repo)) != 2 {
		t.Errorf("published #%d with %d pull requests; want #%d updated and no other", pub.Number, len(gh.PullRequests(repo)), open.Number)
	}
}

// The branch a closed pull request left, which an attempt replaces, may be
// deleted while the attempt runs (GitHub's button on the closed pull
// request): nothing was built on it, and the attempt's work is pushed. A
// branch that moved meanwhile is still not pushed over.
func TestABranchBeingReplacedThatWasDeletedMeanwhileIsMadeAgain(t *testing.T) {
	t.Parallel()
	gh, repo, g := newBranchOnGitHub(t)
	closed := closedPullRequest(t, gh, repo)
	task, co, start := replacingCheckout(t, g, 2)
	gh.DeleteBranch(t, repo, "oneshot/issue-1")
	pub, err := tryPublish(t, g, task, co, "oneshot/issue-1", start, "Fix it, afresh")
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if pub.Number == closed.Number || gh.Head(t, repo, "oneshot/issue-1") == start {
		t.Fatalf("published %+v; want a new pull request from the branch made again", pub)
	}

	// Moved rather than deleted: someone's work is there now.
	gh.ClosePullRequest(t, repo, pub.Number)
	task, co, start = replacingCheckout(t, g, 3)
	gh.CommitFiles(t, repo, "oneshot/issue-1", "a maintainer's work", map[string]string{"theirs.txt": "theirs\n"})
	if _, err := tryPublish(t, g, task, co, "oneshot/issue-1", start, "Fix it, again"); !errors.Is(err, workspace.ErrBranchMoved) {
		t.Fatalf("publish over a branch that moved: %v, want it refused", err)
	}
	if paths := gh.Paths(t, repo, "oneshot/issue-1"); !slices.Contains(paths, "theirs.txt") {
		t.Fatalf("the maintainer's work is gone: the branch holds %q", paths)
	}
}

// A pull request opened from the branch being replaced while the attempt
// ran (or the closed one reopened) holds someone's work: the branch is not
// pushed over, though it did not move.
func TestABranchBeingReplacedIsNotPushedOverOnceAPullRequestIsOpenFromIt(t *testing.T) {
	t.Parallel()
	gh, repo, g := newBranchOnGitHub(t)
	closedPullRequest(t, gh, repo)
	task, co, start := replacingCheckout(t, g, 2)
	head := gh.Head(t, repo, "oneshot/issue-1")
	gh.AddPullRequest(repo, githubtest.PullRequest{Title: "Fix it, by hand", Head: "oneshot/issue-1", Base: "main", User: "octocat"})
	if _, err := tryPublish(t, g, task, co, "oneshot/issue-1", start, "Fix it, afresh"); !errors.Is(err, pipeline.ErrPullRequestReopened) {
		t.Fatalf("publish: %v, want it refused", err)
	}
	if got := gh.Head(t, repo, "oneshot/issue-1"); got != head {
		t.Fatalf("the branch was pushed over: %s, was %s", got, head)
	}
}

// closedPullRequest is issue 1 with a pull request from oneshot/issue-1
// that was closed.
func closedPullRequest(t *testing.T, gh *githubtest.Server, repo *githubtest.Repo) githubtest.PullRequest {
	t.Helper()
	gh.AddIssue(repo, githubtest.Issue{Number: 1, Title: "Fix it"})
	closed := gh.AddPullRequest(repo, githubtest.PullRequest{Title: "Fix it", Head: "oneshot/issue-1", Base: "main", User: gh.BotLogin()})
	gh.ClosePullRequest(t, repo, closed.Number)
	return closed
}

// replacingCheckout checks an attempt of issue 1's task out, as the
// pipeline's setup does, and fails the test unless it takes the branch a
// closed pull request left for one to replace, starting from the base.
func replacingCheckout(t *testing.T, g *GitHub, attempt int) (*tasks.Task, *pipeline.Checkout, string) {
	t.Helper()
	task := &tasks.Task{ID: fmt.Sprintf("t%d", attempt), Repo: "acme/widgets", InstallationID: 7, Issue: 1, Kind: tasks.KindIssue,
		Attempt: attempt, Requester: "octocat"}
	co, start := checkoutBranch(t, g, task, "oneshot/issue-1")
	if co.Replaces == nil || start != co.Base {
		t.Fatal("the closed pull request's branch was not taken for one to replace")
	}
	return task, co, start
}

// newBranchOnGitHub is a repository on the fake GitHub with a branch
// develop beside main, and oneshot's branch oneshot/issue-1 one commit
// ahead of them; and the forge to reach it.
func newBranchOnGitHub(t *testing.T) (*githubtest.Server, *githubtest.Repo, *GitHub) {
	t.Helper()
	gh := githubtest.New(t)
	repo := gh.AddInstalledRepo(t, 7, "acme/widgets", map[string]string{"README.md": "# widgets\n"})
	main := gh.Head(t, repo, repo.DefaultBranch)
	gh.SetBranch(t, repo, "develop", main)
	gh.SetBranch(t, repo, "oneshot/issue-1", main)
	gh.CommitFiles(t, repo, "oneshot/issue-1", "oneshot's change", map[string]string{"fix.txt": "fixed\n"})
	clients, err := githubapi.NewClientCreator(gh.AppConfig(), "test", githubapi.RetryPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	return gh, repo, &GitHub{Clients: clients, App: gh.AppConfig(), BotLogin: gh.BotLogin(), WorkDir: t.TempDir()}
}

// checkoutBranch checks the task out and fetches its branch as the
// pipeline's setup does, and returns the commit the task starts from.
func checkoutBranch(t *testing.T, g *GitHub, task *tasks.Task, branch string) (*pipeline.Checkout, string) {
	t.Helper()
	co, err := g.Checkout(t.Context(), task)
	if err != nil {
		t.Fatal(err)
	}
	start, err := g.FetchBranch(t.Context(), task, co, branch)
	if err != nil {
		t.Fatal(err)
	}
	return co, cmp.Or(start, co.Base)
}

// publishChange commits on start, keeping its files, and publishes the
// commit as the pipeline's ship step does.
func publishChange(t *testing.T, g *GitHub, task *tasks.Task, co *pipeline.Checkout, branch, start, title string) pipeline.Published {
	t.Helper()
	pub, err := tryPublish(t, g, task, co, branch, start, title)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// tryPublish is publishChange for a publish that may be refused.
func tryPublish(t *testing.T, g *GitHub, task *tasks.Task, co *pipeline.Checkout, branch, start, title string) (pipeline.Published, error) {
	t.Helper()
	head, err := co.Repo.Commit(t.Context(), workspace.NewCommit{
		Tree: start + "^{tree}", Parent: start, Name: "oneshot", Email: "oneshot@localhost", Message: title,
	})
	if err != nil {
		t.Fatal(err)
	}
	return g.Publish(t.Context(), task, co, continuing(co, branch, head, start, title))
}

// continuing is the pull request of a commit, head, made on start, which
// continues the branch unless start is the base.
func continuing(co *pipeline.Checkout, branch, head, start, title string) pipeline.PullRequest {
	pr := pipeline.PullRequest{Branch: branch, Head: head, Base: co.DefaultBranch, Title: title, Body: "body"}
	if start != co.Base {
		pr.Continues = start
	}
	return pr
}

func TestAPullRequestClosedWhileItsBranchWasContinuedGetsNothingPushed(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{tasks.KindFollowUp, tasks.KindIssue} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			gh, repo, g := newBranchOnGitHub(t)
			pr := gh.AddPullRequest(repo, githubtest.PullRequest{Title: "Fix it", Head: "oneshot/issue-1", Base: "main", User: gh.BotLogin()})
			task := &tasks.Task{ID: "t1", Repo: "acme/widgets", InstallationID: 7, Issue: 1, Kind: kind, Attempt: 1, Requester: "octocat"}
			if kind == tasks.KindFollowUp {
				task.Issue, task.PullRequest = pr.Number, pr.Number
			}
			co, start := checkoutBranch(t, g, task, "oneshot/issue-1")
			if start == co.Base {
				t.Fatal("the branch was not continued")
			}
			gh.ClosePullRequest(t, repo, pr.Number) // a maintainer turns it down meanwhile

			_, err := tryPublish(t, g, task, co, "oneshot/issue-1", start, "More")
			if !errors.Is(err, pipeline.ErrPullRequestClosed) {
				t.Fatalf("publish: %v, want it refused as closed", err)
			}
			if got := gh.Head(t, repo, "oneshot/issue-1"); got != start {
				t.Errorf("the branch moved to %s", got)
			}
			if prs := gh.PullRequests(repo); len(prs) != 1 {
				t.Errorf("%d pull requests, want only the closed one", len(prs))
			}
		})
	}
}

func TestABranchDeletedWhileItWasContinuedIsNotMadeAgain(t *testing.T) {
	t.Parallel()
	gh, repo, g := newBranchOnGitHub(t)
	task := &tasks.Task{ID: "t1", Repo: "acme/widgets", InstallationID: 7, Issue: 1, Kind: tasks.KindIssue, Attempt: 1, Requester: "octocat"}
	co, start := checkoutBranch(t, g, task, "oneshot/issue-1")
	gh.DeleteBranch(t, repo, "oneshot/issue-1") // merged by hand, say, and deleted

	_, err := tryPublish(t, g, task, co, "oneshot/issue-1", start, "More")
	if !errors.Is(err, workspace.ErrBranchMoved) {
		t.Fatalf("publish: %v, want the push refused", err)
	}
	if branches := gh.Branches(t, repo); slices.Contains(branches, "oneshot/issue-1") {
		t.Errorf("the branch was made again: %v", branches)
	}
}

// A branch pushed over between the look at its head and its fetch is
// continued from what the fetch brought: the head looked at may not be in
// the repository at all.
func TestABranchPushedOverAsItWasFetchedIsContinuedFromWhatTheFetchBrought(t *testing.T) {
	t.Parallel()
	gh, repo, g := newBranchOnGitHub(t)
	task := &tasks.Task{ID: "t1", Repo: "acme/widgets", InstallationID: 7, Issue: 1, Kind: tasks.KindIssue, Attempt: 1, Requester: "octocat"}
	co, err := g.Checkout(t.Context(), task)
	if err != nil {
		t.Fatal(err)
	}
	// The look and the fetch each begin with the list of refs.
	refs := "/git/acme/widgets.git/info/refs"
	looking, look := gh.Hold("GET", refs)
	fetching, fetch := gh.Hold("GET", refs)
	defer look()
	defer fetch()
	type fetched struct {
		start string
		err   error
	}
	done := make(chan fetched, 1)
	go func() {
		start, err := g.FetchBranch(t.Context(), task, co, "oneshot/issue-1")
		done <- fetched{start, err}
	}()
	arrive := func(held <-chan struct{}) {
		t.Helper()
		select {
		case <-held:
		case f := <-done:
			t.Fatalf("the branch was fetched without two lists of refs: %+v", f)
		}
	}
	arrive(looking)
	look()
	arrive(fetching)
	gh.SetBranch(t, repo, "oneshot/issue-1", gh.Head(t, repo, repo.DefaultBranch))
	pushed := gh.CommitFiles(t, repo, "oneshot/issue-1", "someone's force push", map[string]string{"theirs.txt": "theirs\n"})
	fetch()

	f := <-done
	if f.err != nil || f.start != pushed {
		t.Fatalf("the task starts from %s, %v; want %s, which the fetch brought", f.start, f.err, pushed)
	}
	if _, err := co.Repo.Resolve(t.Context(), f.start); err != nil {
		t.Fatal(err)
	}
}

func TestATaskWhoseRepositorysNamePassedToAnotherChecksOutNothing(t *testing.T) {
	t.Parallel()
	gh, repo, g := newBranchOnGitHub(t)
	// The task's repository was renamed, and a new one took its name.
	task := &tasks.Task{ID: "t1", Repo: "acme/widgets", RepoID: repo.ID + 1000, InstallationID: 7, Issue: 1, Kind: tasks.KindIssue, Attempt: 2}
	co, err := g.Checkout(t.Context(), task)
	if err == nil || !strings.Contains(err.Error(), "now another repository") {
		t.Fatalf("checkout %+v, %v; want it refused", co, err)
	}
	if n := gh.Count("POST", "/git/{rest...}"); n != 0 {
		t.Fatalf("%d git requests to the repository that took the name", n)
	}
}

// A task names its repository as it was when asked for. Renamed since, it
// is the same repository, whose ID its tokens are limited to.
func TestATokenIsForTheTasksRepositoryRenamedSince(t *testing.T) {
	t.Parallel()
	gh, repo, g := newBranchOnGitHub(t)
	task := &tasks.Task{ID: "t1", Repo: "acme/widgets", RepoID: repo.ID, InstallationID: 7, Issue: 1, Kind: tasks.KindIssue}
	gh.RenameRepo(repo, "gadgets")
	if _, err := g.token(t.Context(), task, "read", false); err != nil {
		t.Fatal(err)
	}
	if tokens := gh.Tokens(); len(tokens) != 1 || !slices.Equal(tokens[0].Repositories, []string{"gadgets"}) {
		t.Fatalf("tokens %+v, want one for the renamed repository", tokens)
	}
}

// A task keeps the login of whoever asked first. Renamed or deleted since,
// it is no co-author, and no reason to stop the attempt.
func TestARequesterWhoseLoginIsGoneIsNoCoAuthor(t *testing.T) {
	t.Parallel()
	gh, _, g := newBranchOnGitHub(t)
	gh.AddUser("octocat")
	for login, known := range map[string]bool{"octocat": true, "renamed-since": false} {
		task := &tasks.Task{ID: "t1", Repo: "acme/widgets", InstallationID: 7, Issue: 1, Kind: tasks.KindIssue, Attempt: 2, Requester: login}
		committer, coAuthor, err := g.Identity(t.Context(), task)
		if err != nil || !strings.HasPrefix(committer, gh.BotLogin()+" <") {
			t.Fatalf("requester %s: committer %q, err %v", login, committer, err)
		}
		if (coAuthor != "") != known || (known && !strings.HasPrefix(coAuthor, login+" <")) {
			t.Errorf("requester %s: co-author %q", login, coAuthor)
		}
	}
}

// Private commit addresses are the GitHub's the bot works with: a GitHub
// Enterprise Server links only its own to its accounts.
func TestCommitAddressesAreTheNoreplyAddressesOfTheBotsGitHub(t *testing.T) {
	t.Parallel()
	gh, _, g := newBranchOnGitHub(t)
	gh.AddUser("octocat")
	task := &tasks.Task{ID: "t1", Repo: "acme/widgets", InstallationID: 7, Issue: 1, Kind: tasks.KindIssue, Attempt: 1, Requester: "octocat"}
	for webURL, domain := range map[string]string{
		"https://github.com":               "@users.noreply.github.com>",
		"https://github.acme.example/":     "@users.noreply.github.acme.example>",
		"https://github.acme.example:8443": "@users.noreply.github.acme.example>",
	} {
		g.App.WebURL = webURL
		committer, coAuthor, err := g.Identity(t.Context(), task)
		if err != nil || !strings.HasSuffix(committer, domain) || !strings.HasSuffix(coAuthor, domain) {
			t.Errorf("on %s: committer %q, co-author %q, err %v; want addresses ending %s", webURL, committer, coAuthor, err, domain)
		}
	}
}

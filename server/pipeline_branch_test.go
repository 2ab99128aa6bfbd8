package server_test

// The pipeline across attempts and people: the task's branch and pull
// request when a task runs again, when someone else pushed, when its pull
// request was closed, and when GitHub refuses or delays a write.

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/internal/githubtest"
)

func TestARerunUpdatesTheSameBranchAndPullRequest(t *testing.T) {
	t.Parallel()
	b := pipelineBundle(t, countingAgent, testConfig(2))
	first := b.runFirstTask(t)
	head1 := b.gh.Head(t, b.repo, "oneshot/issue-1")

	b.deliver(t, "check_run", "check_run.rerequested", b.ourRun(first, "writer"))
	if run := b.waitConcluded(t, 2); run.Conclusion != "success" {
		t.Fatalf("attempt 2 concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	prs := b.gh.PullRequests(b.repo)
	if len(prs) != 1 {
		t.Fatalf("%d pull requests after the re-run", len(prs))
	}
	head2 := b.gh.Head(t, b.repo, "oneshot/issue-1")
	if head2 == head1 || prs[0].HeadSHA != head2 {
		t.Fatalf("the branch (%s -> %s) or the pull request (%s) was not updated", head1, head2, prs[0].HeadSHA)
	}
	if runs := b.gh.FileAt(t, b.repo, head2, "runs.txt"); strings.Count(runs, "run at") != 2 {
		t.Fatalf("the second run did not continue the branch: %q", runs)
	}
}

// A new request on an issue whose pull request is open, answered by an
// agent that changes nothing, did not do what it was asked: it fails,
// saying so, and leaves the pull request as it was, rather than report
// the branch as it stands as a change made.
func TestARequestOnAnIssueWithAnOpenPullRequestThatChangesNothingFails(t *testing.T) {
	t.Parallel()
	b := pipelineBundle(t, goodAgent, testConfig(0))
	b.runFirstTask(t)
	before := b.gh.PullRequests(b.repo)

	// The agent writes the same files again: nothing new.
	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot also handle an empty name", "writer"))
	run := b.waitConcluded(t, 2)
	want := fmt.Sprintf("the agent changed nothing, so there is nothing to propose; pull request #%d stays as it was", before[0].Number)
	if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, want) {
		t.Fatalf("the second task concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	if after := b.gh.PullRequests(b.repo); len(after) != 1 || after[0].HeadSHA != before[0].HeadSHA ||
		after[0].Title != before[0].Title || after[0].Body != before[0].Body {
		t.Fatalf("pull requests %+v, want %+v as it was", after, before)
	}
}

// A maintainer's edits to the pull request stay through its updates:
// its title, what they wrote around oneshot's part of the description,
// and "Fixes #1" turned into "Refs #1". Only oneshot's part is written
// again; with it taken out, the description is left as it is.
func TestAnUpdateKeepsWhatPeopleWroteInThePullRequest(t *testing.T) {
	t.Parallel()
	b := pipelineBundle(t, countingAgent, testConfig(0))
	first := b.runFirstTask(t)
	pr := b.gh.PullRequests(b.repo)[0]
	edited := strings.Replace(pr.Body, "Fixes #1", "Refs #1", 1)
	edited = strings.Replace(edited, "### Checks", "### Checks (trimmed by hand)", 1) + "\nDeploy after the freeze.\n"
	b.gh.EditPullRequest(t, b.repo, pr.Number, "feat: accept empty names", edited)

	b.deliver(t, "check_run", "check_run.rerequested", b.ourRun(first, "writer"))
	if run := b.waitConcluded(t, 2); run.Conclusion != "success" {
		t.Fatalf("attempt 2 concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	after := b.gh.PullRequests(b.repo)[0]
	if after.Title != "feat: accept empty names" || !strings.HasPrefix(after.Body, "Refs #1\n") || strings.Contains(after.Body, "Fixes #1") ||
		!strings.HasSuffix(after.Body, "\nDeploy after the freeze.\n") || strings.Contains(after.Body, "trimmed by hand") ||
		!strings.Contains(after.Body, "### Checks\n") {
		t.Fatalf("after the update: %q\n%s", after.Title, after.Body)
	}

	b.gh.EditPullRequest(t, b.repo, pr.Number, after.Title, "All of it rewritten by hand.")
	b.deliver(t, "check_run", "check_run.rerequested", b.ourRun(b.gh.CheckRuns(b.repo)[1], "writer"))
	run := b.waitConcluded(t, 3)
	if run.Conclusion != "success" {
		t.Fatalf("attempt 3 concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	if body := b.gh.PullRequests(b.repo)[0].Body; body != "All of it rewritten by hand." {
		t.Fatalf("the description rewritten by hand became %q", body)
	}
}

// TestAPullRequestGitHubWillNotEditIsStillUpdatedByThePush re-runs a task
// while GitHub refuses to edit pull requests: the push has updated the
// pull request, so the attempt succeeds, saying its description is behind.
func TestAPullRequestGitHubWillNotEditIsStillUpdatedByThePush(t *testing.T) {
	t.Parallel()
	b := pipelineBundle(t, countingAgent, testConfig(0))
	first := b.runFirstTask(t)
	b.gh.Fail("PATCH", "/repos/acme/uuid/pulls/{number}", http.StatusInternalServerError, -1)
	b.deliver(t, "check_run", "check_run.rerequested", b.ourRun(first, "writer"))
	run := b.waitConcluded(t, 2)
	if run.Conclusion != "success" || !strings.Contains(run.Output.Summary, "could not update its description") {
		t.Fatalf("attempt 2 concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	if prs := b.gh.PullRequests(b.repo); len(prs) != 1 || prs[0].HeadSHA != b.gh.Head(t, b.repo, "oneshot/issue-1") {
		t.Fatalf("pull requests %+v", prs)
	}
}

// TestANewTaskAfterItsPullRequestWasClosedStartsAfresh closes the pull
// request a task opened, as a maintainer who turned it down would, and
// asks again: the new task starts from the default branch, not from the
// refused change, and opens a pull request of its own from the branch.
func TestANewTaskAfterItsPullRequestWasClosedStartsAfresh(t *testing.T) {
	t.Parallel()
	b := pipelineBundle(t, countingAgent, testConfig(0))
	b.runFirstTask(t)
	refused := b.gh.PullRequests(b.repo)[0]
	b.gh.ClosePullRequest(t, b.repo, refused.Number)

	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	if run := b.waitConcluded(t, 2); run.Conclusion != "success" || !strings.Contains(run.Output.Summary, "closed") {
		t.Fatalf("the second task concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	prs := b.gh.PullRequests(b.repo)
	head := b.gh.Head(t, b.repo, "oneshot/issue-1")
	if len(prs) != 2 || prs[0].State != "closed" || prs[0].HeadSHA != refused.HeadSHA || prs[1].State != "open" || prs[1].HeadSHA != head {
		t.Fatalf("pull requests %+v; branch at %s", prs, head)
	}
	if parent := b.gh.CommitAt(t, b.repo, head).Parents; len(parent) != 1 || parent[0] != b.gh.Head(t, b.repo, "main") {
		t.Fatalf("the new change's parents are %v, want main's head", parent)
	}
	if runs := b.gh.FileAt(t, b.repo, head, "runs.txt"); strings.Count(runs, "run at") != 1 {
		t.Fatalf("the new task continued the refused change: %q", runs)
	}
}

func TestAPullRequestOpenedIsReportedWhatGitHubRefusesAfter(t *testing.T) {
	t.Parallel()
	// The answer to opening the pull request is lost, and GitHub refuses
	// a configured reviewer who is no collaborator: the pull request is
	// open all the same, its requester asked to review, and the task says
	// so and what went wrong.
	b := pipelineBundle(t, goodAgent, testConfig(1)+"pull_request:\n  reviewers: [outsider]\n")
	b.gh.FailAfterServing("POST", "/repos/"+b.repo.FullName+"/pulls", http.StatusBadGateway, 1)
	run := b.runTask(t)
	prs := b.gh.PullRequests(b.repo)
	if len(prs) != 1 {
		t.Fatalf("%d pull requests", len(prs))
	}
	if run.Conclusion != "success" || !strings.Contains(run.Output.Summary, fmt.Sprintf("/pull/%d", prs[0].Number)) ||
		!strings.Contains(run.Output.Summary, "could not request a review from outsider") {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	if !slices.Equal(prs[0].Reviewers, []string{"writer"}) {
		t.Fatalf("reviewers %q, want the requester, writer", prs[0].Reviewers)
	}
	comments := b.botComments(1)
	if final := comments[len(comments)-1]; !strings.Contains(final, fmt.Sprintf("/pull/%d", prs[0].Number)) ||
		!strings.Contains(final, "Reviews may only be requested from collaborators") {
		t.Fatalf("final comment %q", final)
	}
}

func TestARetryOpensThePullRequestAnAttemptPushedButDidNotOpen(t *testing.T) {
	t.Parallel()
	b := pipelineBundle(t, goodAgent, testConfig(0))
	first, pushed := b.pushedWithoutPullRequest(t)
	// Meanwhile the default branch moves on, with a change to a protected
	// path: the branch's change is still only its own.
	b.gh.CommitFiles(t, b.repo, "main", "Add CI", map[string]string{".github/workflows/ci.yml": "on: push\n"})

	// Attempt 2's agent writes the same files: nothing new on the branch.
	b.rerunOpensThePullRequestOf(t, first, pushed)
}

// pushedWithoutPullRequest runs attempt 1, which pushes its branch, and
// then fails to open its pull request; it returns the attempt's check run
// and the branch's head.
func (b *testBundle) pushedWithoutPullRequest(t *testing.T) (githubtest.CheckRun, string) {
	t.Helper()
	b.gh.Fail("POST", "/repos/acme/uuid/pulls", http.StatusUnprocessableEntity, 1)
	first := b.runTask(t)
	if first.Conclusion != "failure" || len(b.gh.PullRequests(b.repo)) != 0 {
		t.Fatalf("attempt 1 concluded %q with %d pull requests", first.Conclusion, len(b.gh.PullRequests(b.repo)))
	}
	if want := "branch oneshot/issue-1 was pushed, but GitHub did not open its pull request"; !strings.Contains(first.Output.Summary, want) {
		t.Fatalf("attempt 1 does not say %q:\n%s", want, first.Output.Summary)
	}
	return first, b.gh.Head(t, b.repo, "oneshot/issue-1")
}

// rerunOpensThePullRequestOf re-runs first's attempt, which must open the
// one pull request, of the branch as pushed.
func (b *testBundle) rerunOpensThePullRequestOf(t *testing.T, first githubtest.CheckRun, pushed string) {
	t.Helper()
	b.deliver(t, "check_run", "check_run.rerequested", b.ourRun(first, "writer"))
	if run := b.waitConcluded(t, 2); run.Conclusion != "success" {
		t.Fatalf("attempt 2 concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	if prs := b.gh.PullRequests(b.repo); len(prs) != 1 || prs[0].HeadSHA != pushed {
		t.Fatalf("pull requests %+v, want one of the pushed branch %s", prs, pushed)
	}
}

// The agent's only new change is a repository it made inside the
// checkout, which is left out: nothing new ships, and the branch an
// earlier attempt pushed is the change.
func TestARetryWhoseOnlyNewChangeIsLeftOutOpensThePullRequestOfTheBranch(t *testing.T) {
	t.Parallel()
	script := goodAgent + "git init -q vendor/lib\necho notes > vendor/lib/notes.txt\ngit -C vendor/lib add notes.txt\n" +
		"git -C vendor/lib -c user.name=agent -c user.email=agent@example.invalid commit -qm notes\n"
	b := pipelineBundle(t, script, testConfig(0))
	first, pushed := b.pushedWithoutPullRequest(t)
	b.rerunOpensThePullRequestOf(t, first, pushed)
}

func TestAPushGitHubRefusesStopsTheTaskVisiblyWithoutAPullRequest(t *testing.T) {
	t.Parallel()
	b := pipelineBundle(t, goodAgent, testConfig(0))
	b.gh.Fail("POST", "/git/acme/uuid.git/git-receive-pack", http.StatusInternalServerError, -1)
	run := b.runTask(t)
	if run.Conclusion != "failure" || !strings.Contains(run.Output.Title, "push oneshot/issue-1") || strings.Contains(run.Output.Title, "\n") {
		t.Fatalf("check run concluded %q: %q\n%s", run.Conclusion, run.Output.Title, run.Output.Summary)
	}
	if n := len(b.gh.PullRequests(b.repo)); n != 0 {
		t.Fatalf("%d pull requests", n)
	}
	comments := b.botComments(1)
	if final := comments[len(comments)-1]; !strings.Contains(final, "push") || !strings.Contains(final, "/oneshot retry") {
		t.Fatalf("final comment %q", final)
	}
}

// TestACancelWhileThePullRequestOpensStillLinksIt cancels the task once
// its change is pushed and GitHub is slow to open the pull request: the
// pull request is opened all the same, and the task ends linking it, not
// saying it stopped with nothing to show.
func TestACancelWhileThePullRequestOpensStillLinksIt(t *testing.T) {
	t.Parallel()
	b := pipelineBundle(t, goodAgent, testConfig(0))
	run, final := b.cancelWhileThePullRequestOpens(t)
	prs := b.gh.PullRequests(b.repo)
	if run.Conclusion != "success" || len(prs) != 1 || !strings.Contains(run.Output.Summary, "Opened pull request #2") {
		t.Fatalf("check run %q with %d pull requests: %s", run.Conclusion, len(prs), run.Output.Summary)
	}
	if !strings.Contains(final, "/pull/2") {
		t.Fatalf("the final comment does not link the pull request: %q", final)
	}
}

// A cancel while the pull request opens does not stop it; when GitHub
// refuses it, that refusal is what the task ends with, and that the
// branch was pushed, not that it was cancelled with nothing to show.
func TestACancelWhileGitHubRefusesThePullRequestSaysWhatGitHubSaid(t *testing.T) {
	t.Parallel()
	b := pipelineBundle(t, goodAgent, testConfig(0))
	b.gh.Fail("POST", "/repos/acme/uuid/pulls", http.StatusUnprocessableEntity, -1)
	run, final := b.cancelWhileThePullRequestOpens(t)
	if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, "branch oneshot/issue-1 was pushed, but GitHub did not open its pull request") ||
		!strings.Contains(run.Output.Summary, "422") {
		t.Fatalf("check run %q: %s", run.Conclusion, run.Output.Summary)
	}
	if !strings.Contains(final, "was pushed") || !strings.Contains(final, "422") {
		t.Fatalf("final comment %q", final)
	}
}

// cancelWhileThePullRequestOpens runs a task that is cancelled once its
// change is pushed, while GitHub holds the request that opens its pull
// request, and returns the attempt's check run and final comment.
func (b *testBundle) cancelWhileThePullRequestOpens(t *testing.T) (githubtest.CheckRun, string) {
	t.Helper()
	arrived, release := b.gh.Hold("POST", "/repos/acme/uuid/pulls")
	defer release()
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	select {
	case <-arrived:
	case <-time.After(pipelineWait):
		t.Fatal("the pull request was never asked for")
	}
	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot cancel", "writer"))
	waitFor(t, wait, "the cancel", func() bool { return strings.Contains(b.logs.String(), "Cancelled a task.") })
	release()
	run := b.waitConcluded(t, 1)
	comments := b.botComments(1)
	return run, comments[len(comments)-1]
}

// TestABranchSomeoneElsePushedToMeanwhileIsNotOverwritten pushes to the
// task's branch while the task's own push is on its way: the task pushes nothing over it and
// says the branch moved, not git's words.
func TestABranchSomeoneElsePushedToMeanwhileIsNotOverwritten(t *testing.T) {
	t.Parallel()
	b := pipelineBundle(t, goodAgent, testConfig(0))
	// The task's push waits at GitHub while a person pushes first.
	pushing, release := b.gh.Hold("POST", "/git/acme/uuid.git/git-receive-pack")
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	select {
	case <-pushing:
	case <-time.After(pipelineWait):
		t.Fatal("the task never pushed")
	}
	b.gh.SetBranch(t, b.repo, "oneshot/issue-1", b.gh.Head(t, b.repo, "main"))
	theirs := b.gh.CommitFiles(t, b.repo, "oneshot/issue-1", "a person's change", map[string]string{"NOTES.md": "mine\n"})
	release()

	run := b.waitConcluded(t, 1)
	if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, "branch oneshot/issue-1 moved or was deleted while this attempt ran") {
		t.Fatalf("check run %q: %s", run.Conclusion, run.Output.Summary)
	}
	if head := b.gh.Head(t, b.repo, "oneshot/issue-1"); head != theirs || len(b.gh.PullRequests(b.repo)) != 0 {
		t.Fatalf("the branch is at %s (theirs %s); %d pull requests", head, theirs, len(b.gh.PullRequests(b.repo)))
	}
}

func TestAPullRequestInARepositoryWithoutDraftsIsOpenedReadyForReview(t *testing.T) {
	t.Parallel()
	b := unstartedPipelineBundle(t, goodAgent, testConfig(0)) // drafts by default
	b.repo.NoDrafts = true
	b.srv = b.start(t)
	run := b.runTask(t)
	prs := b.gh.PullRequests(b.repo)
	if len(prs) != 1 || prs[0].Draft {
		t.Fatalf("pull requests %+v, want one ready for review", prs)
	}
	if run.Conclusion != "success" || !strings.Contains(run.Output.Summary, "no draft pull requests in this repository") {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	comments := b.botComments(1)
	if final := comments[len(comments)-1]; !strings.Contains(final, "But it was opened ready for review: GitHub has no draft pull requests") {
		t.Fatalf("final comment %q", final)
	}
}

func TestARetryAfterARenameWorksOnTheRenamedRepository(t *testing.T) {
	t.Parallel()
	b := pipelineBundle(t, goodAgent, testConfig(0))
	b.runFirstTask(t)

	// acme/uuid is renamed, and a new repository takes its old name.
	b.gh.RenameRepo(b.repo, "uuid-old")
	other := b.gh.AddInstalledRepo(t, installationID, "acme/uuid", map[string]string{"README.md": "another project\n"})

	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot retry", "writer"))
	if run := b.waitConcluded(t, 2); run.Conclusion != "success" {
		t.Fatalf("attempt 2 concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	if task := b.onlyTask(t); task.Repo != "acme/uuid-old" || task.Attempt != 2 {
		t.Fatalf("attempt %d ran on %s, want attempt 2 on acme/uuid-old", task.Attempt, task.Repo)
	}
	if branches, runs := b.gh.Branches(t, other), b.gh.CheckRuns(other); len(branches) != 1 || len(runs) != 0 {
		t.Fatalf("the repository that took the old name got branches %v and %d check runs", branches, len(runs))
	}
}

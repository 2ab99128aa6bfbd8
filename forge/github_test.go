package forge

import (
	"strings"
	"testing"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/internal/githubtest"
	"github.com/oneshot-dev/oneshot/tasks"
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

package githubtest_test

import (
	"testing"

	"github.com/google/go-github/v62/github"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/oneshot-dev/oneshot/internal/githubtest"
)

// TestGoGithubappClientsWork drives the fake through go-githubapp's
// caching client creator, the way the bot builds its clients.
func TestGoGithubappClientsWork(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gh.AddIssue(b.repo, githubtest.Issue{Title: "Crash", User: "alice"})
	b.gh.SetPermission(b.repo, "alice", "maintain")

	cc, err := githubapp.NewDefaultCachingClientCreator(b.gh.AppConfig())
	if err != nil {
		t.Fatal(err)
	}

	app, err := cc.NewAppClient()
	if err != nil {
		t.Fatal(err)
	}
	inst, _, err := app.Apps.FindRepositoryInstallation(b.ctx, "acme", "widgets")
	if err != nil || inst.GetID() != installationID {
		t.Fatalf("installation = %d (%v), want %d", inst.GetID(), err, installationID)
	}

	client, err := cc.NewInstallationClient(inst.GetID())
	if err != nil {
		t.Fatal(err)
	}
	perm, _, err := client.Repositories.GetPermissionLevel(b.ctx, "acme", "widgets", "alice")
	if err != nil || perm.GetPermission() != "write" {
		t.Errorf("alice: %q (%v), want write", perm.GetPermission(), err)
	}
	if _, _, err := client.Issues.CreateComment(b.ctx, "acme", "widgets", 1, &github.IssueComment{Body: github.String("On it")}); err != nil {
		t.Fatal(err)
	}
	if got := b.gh.Comments(b.repo, 1); len(got) != 1 || got[0].User != b.gh.BotLogin() {
		t.Errorf("comments = %+v", got)
	}
}

// A token asked for without permissions carries all the App was granted,
// and no more: a call past the grant is refused, as GitHub refuses it.
func TestATokenCarriesOnlyWhatTheAppWasGranted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gh.AddIssue(b.repo, githubtest.Issue{Title: "Crash", User: "alice"})
	b.gh.GrantApp("issues", "read")
	cc, err := githubapp.NewDefaultCachingClientCreator(b.gh.AppConfig())
	if err != nil {
		t.Fatal(err)
	}
	client, err := cc.NewInstallationClient(installationID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Issues.Get(b.ctx, "acme", "widgets", 1); err != nil {
		t.Fatalf("reading an issue with issues:read: %v", err)
	}
	_, resp, err := client.Issues.CreateComment(b.ctx, "acme", "widgets", 1, &github.IssueComment{Body: github.String("On it")})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("commenting with issues:read: %v, want 403", err)
	}
}

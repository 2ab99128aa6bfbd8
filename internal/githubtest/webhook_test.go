package githubtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-github/v62/github"

	"github.com/oneshot-dev/oneshot/internal/githubtest"
)

const webhookSecret = "0123456789abcdef"

func TestSignatureMatchesGoGithubVector(t *testing.T) {
	t.Parallel()
	const want = "sha256=b1f8020f5b4cd42042f807dd939015c4a418bc1ff7f604dd55b0a19b5d953d9b"
	if got := githubtest.Sign(webhookSecret, []byte(`{"yo":true}`)); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestAdaptedFixtureArrivesSignedAndMatchesTheAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	payload := githubtest.Fixture(t, "issue_comment.created")
	b.gh.Adapt(payload, b.repo)
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}

	var got *github.IssueCommentEvent
	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := github.ValidatePayload(r, []byte(webhookSecret))
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if r.Header.Get("X-GitHub-Delivery") != "delivery-1" {
			http.Error(w, "no delivery id", http.StatusBadRequest)
			return
		}
		event, err := github.ParseWebHook(github.WebHookType(r), raw)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got, _ = event.(*github.IssueCommentEvent)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(bot.Close)

	resp := githubtest.Deliver(t, bot.URL, webhookSecret, "issue_comment", "delivery-1", body)
	if resp.StatusCode != http.StatusAccepted {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("delivery answered %d: %s", resp.StatusCode, msg)
	}
	if got == nil {
		t.Fatal("the bot parsed no issue_comment event")
	}
	repo := got.GetRepo()
	if repo.GetFullName() != "acme/widgets" || repo.GetID() != b.repo.ID || repo.GetOwner().GetLogin() != "acme" ||
		repo.GetCloneURL() != b.gh.CloneURL(b.repo) || repo.GetDefaultBranch() != "main" {
		t.Errorf("repository = %+v", repo)
	}
	if got.GetInstallation().GetID() != installationID {
		t.Errorf("installation = %d, want %d", got.GetInstallation().GetID(), installationID)
	}

	// The event's issue and comment exist on the fake, so the bot can act.
	n := got.GetIssue().GetNumber()
	if _, _, err := b.client.Issues.Get(b.ctx, "acme", "widgets", n); err != nil {
		t.Errorf("issue #%d: %v", n, err)
	}
	if _, _, err := b.client.Reactions.CreateIssueCommentReaction(b.ctx, "acme", "widgets", got.GetComment().GetID(), "eyes"); err != nil {
		t.Errorf("react to the comment: %v", err)
	}
	sender := got.GetSender().GetLogin()
	perm, _, err := b.client.Repositories.GetPermissionLevel(b.ctx, "acme", "widgets", sender)
	if err != nil || perm.GetPermission() != "read" {
		t.Errorf("sender %s: %q (%v), want read", sender, perm.GetPermission(), err)
	}

	resp = githubtest.Deliver(t, bot.URL, "wrong secret", "issue_comment", "delivery-2", body)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrongly signed delivery answered %d", resp.StatusCode)
	}
}

func TestAnAdaptedReviewCommentCanBeReactedToAndRepliedOn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	payload := githubtest.Fixture(t, "pull_request_review_comment.created")
	b.gh.Adapt(payload, b.repo)
	raw, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	var event github.PullRequestReviewCommentEvent
	if err := json.Unmarshal(raw, &event); err != nil {
		t.Fatal(err)
	}
	n, id := event.GetPullRequest().GetNumber(), event.GetComment().GetID()

	if is, ok := b.gh.Issue(b.repo, n); !ok || !is.PullRequest || is.User != event.GetPullRequest().GetUser().GetLogin() {
		t.Fatalf("pull request #%d as an issue: %+v %v", n, is, ok)
	}
	if _, _, err := b.client.Reactions.CreatePullRequestCommentReaction(b.ctx, "acme", "widgets", id, "eyes"); err != nil {
		t.Fatalf("react to the review comment: %v", err)
	}
	// Review comments are numbered apart from issue comments.
	if _, _, err := b.client.Reactions.CreateIssueCommentReaction(b.ctx, "acme", "widgets", id, "eyes"); statusOf(t, err) != http.StatusNotFound {
		t.Errorf("the review comment reacted to as an issue comment: %v, want 404", err)
	}
	if _, _, err := b.client.Issues.CreateComment(b.ctx, "acme", "widgets", n, &github.IssueComment{Body: github.String("on it")}); err != nil {
		t.Errorf("reply on the pull request: %v", err)
	}
	got := b.gh.Reactions(b.repo)
	if len(got) != 1 || !got[0].ReviewComment || got[0].CommentID != id || got[0].Issue != n {
		t.Errorf("reactions = %+v", got)
	}

	// A reply in the thread, and a reply to that reply, which GitHub
	// threads under the first comment.
	reply, _, err := b.client.PullRequests.CreateCommentInReplyTo(b.ctx, "acme", "widgets", n, "in the thread", id)
	if err != nil || reply.GetInReplyTo() != id {
		t.Fatalf("reply in the thread: %+v, %v", reply, err)
	}
	if again, _, err := b.client.PullRequests.CreateCommentInReplyTo(b.ctx, "acme", "widgets", n, "again", reply.GetID()); err != nil || again.GetInReplyTo() != id {
		t.Fatalf("reply to the reply: %+v, %v", again, err)
	}
	if _, _, err := b.client.PullRequests.CreateCommentInReplyTo(b.ctx, "acme", "widgets", n+1, "elsewhere", id); statusOf(t, err) != http.StatusNotFound {
		t.Errorf("a reply on another pull request: %v, want 404", err)
	}
	thread := b.gh.ReviewComments(b.repo, n)
	if len(thread) != 3 || thread[1].Body != "in the thread" || thread[1].User != b.gh.BotLogin() || thread[2].InReplyTo != id {
		t.Errorf("review comments = %+v", thread)
	}
}

package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestACommandFromAReadOnlyUserGetsOneReplyAndNoTask(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot fix this", "reader"))
	waitFor(t, wait, "the reply", func() bool { return len(b.botComments(1)) == 1 })
	if reply := b.botComments(1)[0]; !strings.Contains(reply, "@reader") || !strings.Contains(reply, "write access") {
		t.Fatalf("reply %q", reply)
	}
	if n := len(b.tasks(t)); n != 0 {
		t.Fatalf("%d tasks", n)
	}
	if n := len(b.gh.CheckRuns(b.repo)) + len(b.gh.Reactions(b.repo)); n != 0 {
		t.Fatalf("%d check runs and reactions", n)
	}
}

func TestRefusalsAndHelpAreRepliedOncePerPersonAndIssueAnHour(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, body := range []string{"/oneshot fix this", "/oneshot help", "/oneshot fix this", "/oneshot help", "/oneshot retry"} {
		b.deliver(t, "issue_comment", "issue_comment.created", commented(body, "reader"))
	}
	const silent = "Did not reply: this person had the same reply on this issue, or as many replies as one gets in the repository, within the hour."
	waitFor(t, wait, "the intakes", func() bool { return strings.Count(b.logs.String(), silent) == 3 })
	replies := b.botComments(1)
	slices.Sort(replies)
	if len(replies) != 2 || !strings.Contains(replies[0], "write access") || !strings.Contains(replies[1], "/oneshot cancel") {
		t.Fatalf("replies %q, want one refusal and one help", replies)
	}

	// Another person, or another issue, gets a reply of their own.
	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot fix this", "stranger"))
	b.deliver(t, "issue_comment", "issue_comment.created", func(p map[string]any) {
		commented("/oneshot fix this", "reader")(p)
		p["issue"].(map[string]any)["number"] = 2
	})
	waitFor(t, wait, "their replies", func() bool { return len(b.botComments(1)) == 3 && len(b.botComments(2)) == 1 })
}

func TestTheRateLimitPerActorAnswersWithAComment(t *testing.T) {
	t.Parallel()
	b := setup(t, "ONESHOT_TASKS_PER_ACTOR_PER_HOUR", "1")
	b.runner.open()
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, wait, "the first task", func() bool { return len(b.runner.starts()) == 1 })
	b.deliver(t, "issues", "issues.labeled", func(p map[string]any) {
		labelled("agent", "writer")(p)
		p["issue"].(map[string]any)["number"] = 2
	})
	waitFor(t, wait, "the limit reply", func() bool { return len(b.botComments(2)) == 1 })
	if reply := b.botComments(2)[0]; !strings.Contains(reply, "the limit of 1 oneshot tasks a person may start in an hour") {
		t.Fatalf("reply %q", reply)
	}
	if n := len(b.tasks(t)); n != 1 {
		t.Fatalf("%d tasks", n)
	}
}

func TestTheRateLimitPerRepositoryAnswersWithACommentAndHandBacksDoNotCount(t *testing.T) {
	t.Parallel()
	b := setup(t, "ONESHOT_TASKS_PER_REPO_PER_HOUR", "2")
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, wait, "the first task", func() bool { return len(b.runner.starts()) == 1 })
	// A deploy hands the running attempt back; the next process runs it.
	if err := b.srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	b.srv = b.start(t)
	waitFor(t, wait, "the attempt to run again", func() bool { return len(b.runner.starts()) == 2 })

	onIssue := func(n int, by string) func(map[string]any) {
		return func(p map[string]any) {
			labelled("agent", by)(p)
			p["issue"].(map[string]any)["number"] = n
		}
	}
	b.deliver(t, "issues", "issues.labeled", onIssue(2, "maintainer"))
	waitFor(t, wait, "the second task", func() bool { return len(b.tasks(t)) == 2 })
	b.deliver(t, "issues", "issues.labeled", onIssue(3, "writer"))
	waitFor(t, wait, "the limit reply", func() bool { return len(b.botComments(3)) == 1 })
	if reply := b.botComments(3)[0]; !strings.Contains(reply, "limit") || !strings.Contains(reply, b.repo.FullName) {
		t.Fatalf("reply %q", reply)
	}
	if n := len(b.tasks(t)); n != 2 {
		t.Fatalf("%d tasks", n)
	}
}

func TestThePermissionCallIsRetriedOnServerErrorsAndRateLimits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.runner.open()
	permission := "/repos/{owner}/{repo}/collaborators/{user}/permission"

	b.gh.Fail("GET", permission, http.StatusBadGateway, 2)
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	// The client retries, not River, which would take the whole intake
	// again.
	waitFor(t, wait, "the task after two 502s", func() bool { return len(b.tasks(t)) == 1 })
	if n := b.gh.Count("GET", permission); n != 3 {
		t.Fatalf("the permission endpoint was called %d times, want 3", n)
	}
	if strings.Contains(b.logs.String(), "Intake failed") {
		t.Fatal("the 502s failed the intake, which River took again, rather than the client retrying")
	}

	b.gh.SecondaryRateLimit("GET", permission, time.Second, 1)
	started := time.Now()
	b.deliver(t, "issues", "issues.labeled", func(p map[string]any) {
		labelled("agent", "writer")(p)
		p["issue"].(map[string]any)["number"] = 2
	})
	waitFor(t, wait, "the task after the secondary limit", func() bool { return len(b.tasks(t)) == 2 })
	if d := time.Since(started); d < time.Second {
		t.Fatalf("the Retry-After of 1s was not waited out (%v)", d)
	}
	if n := b.gh.Count("GET", permission); n != 5 {
		t.Fatalf("the permission endpoint was called %d times, want 5", n)
	}
}

package server_test

import (
	"strings"
	"testing"
)

// Tests of what the pull request says.

func TestAnIssueWhoseTitleShowsNothingStillGetsAPullRequest(t *testing.T) {
	t.Parallel()
	b := pipelineBundle(t, goodAgent, testConfig(0))
	// A Hangul filler and a zero-width space: GitHub takes them for a
	// title, the bot cleans them away.
	b.deliver(t, "issues", "issues.labeled", func(p map[string]any) {
		labelled("agent", "writer")(p)
		p["issue"].(map[string]any)["title"] = "\u3164\u200b"
	})
	run := b.waitConcluded(t, 1)
	if run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	prs := b.gh.PullRequests(b.repo)
	if len(prs) != 1 || !strings.Contains(prs[0].Title, "issue ＃1") {
		t.Fatalf("pull requests %+v, want one titled after the issue's number", prs)
	}
}

func TestThePullRequestNamesTheCommandWordTheBotListensFor(t *testing.T) {
	t.Parallel()
	b := unstartedPipelineBundle(t, goodAgent, testConfig(0), "ONESHOT_COMMAND", "/bot")
	b.srv = b.start(t)
	b.runFirstTask(t)
	prs := b.gh.PullRequests(b.repo)
	if len(prs) != 1 || !strings.Contains(prs[0].Body, "comment `/bot <what to change>`") || strings.Contains(prs[0].Body, "/oneshot") {
		t.Fatalf("pull requests %+v, want the description to name /bot", prs)
	}
}

package githubtest_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-github/v62/github"
)

func TestCheckRunHistoryFollowsStatuses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	head := b.gh.Head(t, b.repo, "main")
	run, resp, err := b.client.Checks.CreateCheckRun(b.ctx, "acme", "widgets", github.CreateCheckRunOptions{
		Name:       "oneshot",
		HeadSHA:    head,
		ExternalID: github.String("task-1"),
		Output:     &github.CheckRunOutput{Title: github.String("Queued"), Summary: github.String("Waiting for a sandbox")},
		Actions:    []*github.CheckRunAction{{Label: "Cancel", Description: "Stop this task", Identifier: "cancel"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || run.GetStatus() != "queued" || run.GetHeadSHA() != head ||
		run.GetExternalID() != "task-1" || run.GetApp().GetSlug() != "oneshot-test" {
		t.Errorf("created %d: %+v", resp.StatusCode, run)
	}
	update := func(opts github.UpdateCheckRunOptions) *github.CheckRun {
		t.Helper()
		run, _, err := b.client.Checks.UpdateCheckRun(b.ctx, "acme", "widgets", run.GetID(), opts)
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	update(github.UpdateCheckRunOptions{Status: github.String("in_progress"), Output: &github.CheckRunOutput{Summary: github.String("Implementing")}})
	done := update(github.UpdateCheckRunOptions{Conclusion: github.String("success"), DetailsURL: github.String("http://127.0.0.1/tasks/1")})
	if done.GetStatus() != "completed" || done.GetConclusion() != "success" || done.GetCompletedAt().IsZero() ||
		done.GetOutput().GetTitle() != "Queued" || done.GetOutput().GetSummary() != "Implementing" || done.GetName() != "oneshot" {
		t.Errorf("completed run = %+v", done)
	}
	got, _, err := b.client.Checks.GetCheckRun(b.ctx, "acme", "widgets", run.GetID())
	if err != nil || got.GetConclusion() != "success" {
		t.Errorf("get = %+v (%v)", got, err)
	}

	runs := b.gh.CheckRuns(b.repo)
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	var statuses []string
	for _, h := range runs[0].History {
		statuses = append(statuses, h.Status)
	}
	if !slices.Equal(statuses, []string{"queued", "in_progress", "completed"}) {
		t.Errorf("statuses = %v", statuses)
	}
	if a := runs[0].Actions; len(a) != 1 || a[0].Identifier != "cancel" {
		t.Errorf("actions = %+v", a)
	}
	list, _, err := b.client.Checks.ListCheckRunsForRef(b.ctx, "acme", "widgets", head, &github.ListCheckRunsOptions{CheckName: github.String("oneshot")})
	if err != nil || list.GetTotal() != 1 {
		t.Errorf("runs for ref = %+v (%v)", list, err)
	}
}

func TestCheckRunRefusedAsGitHubRefusesIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	head := b.gh.Head(t, b.repo, "main")
	output := func(summary, text string) *github.CheckRunOutput {
		return &github.CheckRunOutput{Title: github.String("t"), Summary: github.String(summary), Text: github.String(text)}
	}
	action := func(label, description, identifier string) *github.CheckRunAction {
		return &github.CheckRunAction{Label: label, Description: description, Identifier: identifier}
	}
	for name, opts := range map[string]github.CreateCheckRunOptions{
		"text too long":           {Name: "n", HeadSHA: head, Output: output("s", strings.Repeat("x", 65536))},
		"summary too long":        {Name: "n", HeadSHA: head, Output: output(strings.Repeat("x", 65536), "")},
		"summary too many bytes":  {Name: "n", HeadSHA: head, Output: output(strings.Repeat("é", 40000), "")},
		"no summary":              {Name: "n", HeadSHA: head, Output: &github.CheckRunOutput{Title: github.String("t")}},
		"no name":                 {HeadSHA: head},
		"no head_sha":             {Name: "n"},
		"unknown head_sha":        {Name: "n", HeadSHA: strings.Repeat("a", 40)},
		"branch name as head_sha": {Name: "n", HeadSHA: "main"},
		"bad status":              {Name: "n", HeadSHA: head, Status: github.String("running")},
		"completed, no verdict":   {Name: "n", HeadSHA: head, Status: github.String("completed")},
		"four actions": {Name: "n", HeadSHA: head, Actions: []*github.CheckRunAction{
			action("a", "a", "a"), action("b", "b", "b"), action("c", "c", "c"), action("d", "d", "d")}},
		"label too long":       {Name: "n", HeadSHA: head, Actions: []*github.CheckRunAction{action(strings.Repeat("l", 21), "d", "i")}},
		"description too long": {Name: "n", HeadSHA: head, Actions: []*github.CheckRunAction{action("l", strings.Repeat("d", 41), "i")}},
		"identifier too long":  {Name: "n", HeadSHA: head, Actions: []*github.CheckRunAction{action("l", "d", strings.Repeat("i", 21))}},
	} {
		if _, _, err := b.client.Checks.CreateCheckRun(b.ctx, "acme", "widgets", opts); statusOf(t, err) != http.StatusUnprocessableEntity {
			t.Errorf("%s: %v, want 422", name, err)
		}
	}
	// At the limits exactly, GitHub takes it.
	ok := github.CreateCheckRunOptions{Name: "n", HeadSHA: head,
		Output:  output(strings.Repeat("s", 65535), strings.Repeat("t", 65535)),
		Actions: []*github.CheckRunAction{action(strings.Repeat("l", 20), strings.Repeat("d", 40), strings.Repeat("i", 20))}}
	run, _, err := b.client.Checks.CreateCheckRun(b.ctx, "acme", "widgets", ok)
	if err != nil {
		t.Fatalf("check run at the limits: %v", err)
	}
	_, _, err = b.client.Checks.UpdateCheckRun(b.ctx, "acme", "widgets", run.GetID(), github.UpdateCheckRunOptions{
		Output: output("s", strings.Repeat("x", 70000)),
	})
	if statusOf(t, err) != http.StatusUnprocessableEntity {
		t.Errorf("update with too long text: %v, want 422", err)
	}
	if h := b.gh.CheckRuns(b.repo)[0].History; len(h) != 1 {
		t.Errorf("a refused update entered the history: %d entries", len(h))
	}
}

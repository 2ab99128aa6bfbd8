package server_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/internal/githubtest"
	"github.com/oneshot-dev/oneshot/tasks"
)

const wait = 30 * time.Second

func TestALabelByAWriterStartsOneTaskWithFeedbackInSeconds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	started := time.Now()
	delivery := b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, wait, "the attempt to start", func() bool { return len(b.runner.starts()) == 1 })
	if d := time.Since(started); d > 10*time.Second {
		t.Errorf("first feedback took %v", d)
	}

	list := b.tasks(t)
	if len(list) != 1 {
		t.Fatalf("%d tasks", len(list))
	}
	task := list[0]
	if task.Issue != 1 || task.Requester != "writer" || task.DeliveryID != delivery || task.Kind != tasks.KindIssue {
		t.Fatalf("task %+v", task)
	}
	reactions := b.gh.Reactions(b.repo)
	if len(reactions) != 1 || reactions[0].Content != "eyes" || reactions[0].Issue != 1 || reactions[0].CommentID != 0 {
		t.Fatalf("reactions %+v", reactions)
	}
	runs := b.gh.CheckRuns(b.repo)
	if len(runs) != 1 {
		t.Fatalf("%d check runs", len(runs))
	}
	run := runs[0]
	if run.Name != "oneshot" || run.ExternalID != task.ID || run.HeadSHA != b.gh.Head(t, b.repo, "main") ||
		run.DetailsURL != "http://oneshot.test/tasks/"+task.ID || run.History[0].Status != "queued" {
		t.Fatalf("check run %+v", run)
	}

	b.runner.open()
	waitFor(t, wait, "the check run to conclude", func() bool {
		return b.gh.CheckRuns(b.repo)[0].Status == "completed"
	})
	run = b.gh.CheckRuns(b.repo)[0]
	var statuses []string
	for _, h := range run.History {
		statuses = append(statuses, h.Status)
	}
	if !slices.Equal(statuses, []string{"queued", "in_progress", "completed"}) || run.Conclusion != "success" {
		t.Fatalf("check run went %v and concluded %q", statuses, run.Conclusion)
	}

	// The details link: the task's history on the bot, and nothing for an
	// ID that is no task's.
	page, status := b.get(t, "/tasks/"+task.ID)
	if status != http.StatusOK || !strings.Contains(page, "acme/widgets#1, attempt 1, succeeded") ||
		!strings.Contains(page, "queued     writer created") || !strings.Contains(page, "running") {
		t.Fatalf("task page %d:\n%s", status, page)
	}
	if _, status := b.get(t, "/tasks/t0000000000000000"); status != http.StatusNotFound {
		t.Fatalf("an unknown task's page answered %d", status)
	}
}

func TestTheSameDeliverySentFiftyTimesStartsOneTask(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := b.payload(t, "issues.labeled", labelled("agent", "writer"))

	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statusOK(t, b.post(t, "issues", "the-one-delivery", body))
		}()
	}
	wg.Wait()
	waitFor(t, wait, "the attempt to start", func() bool { return len(b.runner.starts()) >= 1 })
	if n := len(b.tasks(t)); n != 1 {
		t.Fatalf("%d tasks from one delivery", n)
	}
	if n := len(b.gh.CheckRuns(b.repo)); n != 1 {
		t.Fatalf("%d check runs from one delivery", n)
	}
	if n := len(b.gh.Reactions(b.repo)); n != 1 {
		t.Fatalf("%d reactions from one delivery", n)
	}
}

func TestBadSignaturesAreRefusedAndChangeNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := b.payload(t, "issues.labeled", labelled("agent", "writer"))

	cases := map[string]func(r *http.Request){
		"wrong secret":      func(r *http.Request) { r.Header.Set("X-Hub-Signature-256", githubtest.Sign("not-the-secret", body)) },
		"missing signature": func(r *http.Request) { r.Header.Del("X-Hub-Signature-256") },
		"body changed after signing": func(r *http.Request) {
			changed := bytes.Replace(body, []byte(`"writer"`), []byte(`"someone"`), 1)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(changed)), int64(len(changed))
		},
	}
	for name, tamper := range cases {
		id := "bad-" + strings.ReplaceAll(name, " ", "-")
		req, _ := http.NewRequest(http.MethodPost, b.hookURL, bytes.NewReader(body))
		githubtest.SignDelivery(req, webhookSecret, "issues", id, body)
		tamper(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("%s: status %d, want 4xx", name, resp.StatusCode)
		}
		if b.seen(t, id) {
			t.Errorf("%s: the delivery was accepted", name)
		}
	}
	if n := b.writes(); n != 0 {
		t.Fatalf("%d writes to GitHub", n)
	}
}

// A delivery without its ID, which the queue keeps deliveries apart by,
// is refused as malformed, though signed: 400, not the 500 of a bot that
// failed.
func TestASignedDeliveryWithoutItsIDIsRefusedAndStartsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := b.payload(t, "issues.labeled", labelled("agent", "writer"))
	req, _ := http.NewRequest(http.MethodPost, b.hookURL, bytes.NewReader(body))
	githubtest.SignDelivery(req, webhookSecret, "issues", "no-id", body)
	req.Header.Del("X-GitHub-Delivery")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
	if b.writes() != 0 || len(b.tasks(t)) != 0 {
		t.Fatal("a delivery without its ID was acted on")
	}
}

func TestAPayloadLargerThanGitHubSendsIsRefusedAndStartsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	small := b.payload(t, "issues.labeled", labelled("agent", "writer"))
	body := append([]byte(`{"padding":"`+strings.Repeat("x", 26<<20)+`",`), small[1:]...)
	if status := b.post(t, "issues", "oversized", body); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", status)
	}
	if b.seen(t, "oversized") || b.writes() != 0 || len(b.tasks(t)) != 0 {
		t.Fatal("an oversized payload was acted on")
	}
}

func TestTruncatedJSONStartsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := b.payload(t, "issues.labeled", labelled("agent", "writer"))
	if status := b.post(t, "issues", "truncated", body[:len(body)/2]); status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", status)
	}
	if b.seen(t, "truncated") || b.writes() != 0 {
		t.Fatal("a truncated payload was acted on")
	}
}

func TestBotsOtherLabelsAndOrdinaryCommentsStartNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	botComment := func(p map[string]any) {
		commented("/oneshot fix this", "dependabot[bot]")(p)
		p["sender"].(map[string]any)["type"] = "Bot"
		p["comment"].(map[string]any)["user"].(map[string]any)["type"] = "Bot"
	}
	cases := []struct {
		name, event, fixture string
		edit                 func(map[string]any)
		why                  string // the reason logged
	}{
		{"a bot's command", "issue_comment", "issue_comment.created", botComment, "comment by a bot"},
		{"our own comment", "issue_comment", "issue_comment.created", commented("/oneshot fix this", b.gh.BotLogin()), "comment by a bot"},
		{"another label", "issues", "issues.labeled", labelled("bug", "writer"), "not the trigger label"},
		{"a label added by a bot", "issues", "issues.labeled", labelled("agent", "renovate[bot]"), "labelled by a bot"},
		{"an ordinary comment", "issue_comment", "issue_comment.created", commented("I'll fix this /oneshot later", "writer"), "comment is not a command"},
		{"an edited comment", "issue_comment", "issue_comment.created", func(p map[string]any) {
			commented("/oneshot fix this", "writer")(p)
			p["action"] = "edited"
		}, "issue_comment action edited"},
		{"an opened issue", "issues", "issues.opened", nil, "issues action opened"},
	}
	for _, tc := range cases {
		id := b.deliver(t, tc.event, tc.fixture, tc.edit)
		if b.seen(t, id) {
			t.Errorf("%s was accepted", tc.name)
		}
		if got := b.ignoredBecause(t, id); got != tc.why {
			t.Errorf("%s: the debug log says it was ignored because %q, want %q", tc.name, got, tc.why)
		}
	}
	if n := b.writes(); n != 0 {
		t.Fatalf("%d writes to GitHub", n)
	}
}

func TestACheckRunWhoseAnswerWasLostIsTheOneTheTaskRunsOn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// GitHub makes the run and the answer is lost; looking for it fails
	// too, so the intake's first try gives up and River tries again.
	b.gh.FailAfterServing("POST", "/repos/acme/widgets/check-runs", http.StatusBadGateway, 1)
	b.gh.Fail("GET", "/repos/acme/widgets/commits/{ref}/check-runs", http.StatusInternalServerError, 1)
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, time.Minute, "the attempt to start", func() bool { return len(b.runner.starts()) == 1 })
	runs := b.gh.CheckRuns(b.repo)
	if len(runs) != 1 || runs[0].ID != b.onlyTask(t).CheckRunID {
		t.Fatalf("check runs %+v, want the task's one only", runs)
	}
	waitFor(t, wait, "the run to show the attempt running", func() bool {
		return b.gh.CheckRuns(b.repo)[0].Status == "in_progress"
	})
}

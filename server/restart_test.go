package server_test

import (
	"database/sql"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/oneshot-dev/oneshot/queue"
	"github.com/oneshot-dev/oneshot/server"
)

// TestAnAcknowledgedDeliveryRunsAfterTheBotIsKilled runs the real binary:
// one process only receives, acknowledges a delivery and is killed with
// SIGKILL before any worker could take it; the next process runs it.
func TestAnAcknowledgedDeliveryRunsAfterTheBotIsKilled(t *testing.T) {
	t.Parallel()
	b := newBundle(t, "ONESHOT_SANDBOX_OWNER", "test-restart")
	bot := buildBot(t)
	receiver := b.runBot(t, bot, "-workers=false")
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	if err := receiver.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = receiver.Wait()
	if n := len(b.gh.CheckRuns(b.repo)); n != 0 {
		t.Fatalf("the receiver worked the delivery (%d check runs)", n)
	}
	// What the acknowledgement promised: the trigger is on disk, waiting.
	path, _ := strings.CutPrefix(b.env["ONESHOT_DATABASE_URL"], "sqlite:")
	inbox, err := sql.Open("sqlite", "file:"+queue.InboxPath(path)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var waiting int
	err = inbox.QueryRow(`SELECT count(*) FROM oneshot_inbox`).Scan(&waiting)
	inbox.Close()
	if err != nil || waiting != 1 {
		t.Fatalf("%d triggers in the killed receiver's inbox (%v), want the one it acknowledged", waiting, err)
	}

	worker := b.runBot(t, bot)
	waitFor(t, wait, "the restarted bot to conclude the task", func() bool {
		runs := b.gh.CheckRuns(b.repo)
		return len(runs) == 1 && runs[0].Status == "completed"
	})
	// The repository names no agent, so the pipeline stops early, and says so.
	if run := b.gh.CheckRuns(b.repo)[0]; run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, "no agent") {
		t.Fatalf("check run %+v", run)
	}
	if err := worker.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := worker.Wait(); err != nil {
		t.Fatalf("the bot did not stop cleanly on SIGTERM: %v", err)
	}
}

// TestAnAttemptRunningWhenTheBotIsKilledRunsAgainAtTheNextStart runs the
// real binary: the bot is killed with SIGKILL while the agent runs, and
// the next process runs the attempt again at once (on SQLite, where it
// knows no other process runs it), not when River's rescue would take the
// job for dead, the task timeout and 12 minutes later. The dead process's
// sandbox is reaped.
func TestAnAttemptRunningWhenTheBotIsKilledRunsAgainAtTheNextStart(t *testing.T) {
	t.Parallel()
	b := unstartedPipelineBundle(t, "echo agent started; sleep 600\n", testConfig(0))
	bot := buildBot(t)
	implementing := func() bool {
		runs := b.gh.CheckRuns(b.repo)
		return len(runs) == 1 && runs[0].Output.Title == "Running: implement"
	}

	first := b.runBot(t, bot)
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, pipelineWait, "the agent to run", implementing)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()

	b.runBot(t, bot)
	// The same check run, the attempt's, goes through the steps again.
	waitFor(t, pipelineWait, "the attempt to run again", func() bool {
		if !implementing() {
			return false
		}
		runs, entered := b.gh.CheckRuns(b.repo), 0
		for i, h := range runs[0].History {
			if h.Output.Title == "Running: implement" && (i == 0 || runs[0].History[i-1].Output.Title != h.Output.Title) {
				entered++
			}
		}
		return entered == 2
	})
	docker := dockerClient(t)
	owner := b.env["ONESHOT_SANDBOX_OWNER"]
	if n := len(containersOf(t, docker, owner)); n != 1 {
		t.Fatalf("%d sandboxes run; want the new attempt's only", n)
	}
	// A process that only receives, started beside the worker, leaves
	// the worker's sandbox alone (it is healthy once it would have reaped).
	b.runBot(t, bot, "-workers=false")
	if n := len(containersOf(t, docker, owner)); n != 1 || !implementing() {
		t.Fatalf("%d sandboxes run after a receiver started; want the attempt's, still implementing", n)
	}
	// Nor does a second worker, started beside it as in a rolling update:
	// the first holds the queue's lock, and the sandbox is the first's.
	b.runBot(t, bot)
	waitFor(t, wait, "the second worker to be ready", func() bool { _, status := b.get(t, "/readyz"); return status == http.StatusOK })
	if n := len(containersOf(t, docker, owner)); n != 1 || !implementing() {
		t.Fatalf("%d sandboxes run after a second worker started; want the attempt's, still implementing", n)
	}

	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot cancel", "writer"))
	if run := b.waitConcluded(t, 1); run.Conclusion != "cancelled" {
		t.Fatalf("check run %q: %s", run.Conclusion, run.Output.Summary)
	}
	waitFor(t, wait, "the sandbox to go", func() bool { return len(containersOf(t, docker, owner)) == 0 })
}

// buildBot builds the bot's binary for a test that runs it.
func buildBot(t *testing.T) string {
	t.Helper()
	bot := filepath.Join(t.TempDir(), "bot")
	if out, err := exec.Command("go", "build", "-o", bot, "github.com/oneshot-dev/oneshot/cmd/bot").CombinedOutput(); err != nil {
		t.Fatalf("build the bot: %v\n%s", err, out)
	}
	return bot
}

// runBot starts `bot serve` on a free port and waits until it is healthy;
// the bundle's webhooks then go to it.
func (b *testBundle) runBot(t *testing.T, bot string, args ...string) *exec.Cmd {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bot, append([]string{"serve"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "ONESHOT_LISTEN=" + addr}
	for k, v := range b.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + addr
	waitFor(t, wait, "the bot at "+base, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	b.hookURL = base + server.WebhookPath
	return cmd
}

package server_test

import (
	"strings"
	"testing"

	"github.com/oneshot-dev/oneshot/tasks"
)

func TestAnAttemptThatPanicsConcludesItsCheckRunAsFailed(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	b.runner.panics = true
	b.srv = b.start(t)
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, wait, "the check run to conclude", func() bool {
		runs := b.gh.CheckRuns(b.repo)
		return len(runs) == 1 && runs[0].Status == "completed"
	})
	run := b.gh.CheckRuns(b.repo)[0]
	if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, "internal error") || strings.Contains(run.Output.Summary, "told to panic") {
		t.Fatalf("check run concluded %q: %q", run.Conclusion, run.Output.Summary)
	}
	if s, _ := b.state(t); s != tasks.Failed {
		t.Fatalf("the task is %s", s)
	}
	if n := len(b.runner.starts()); n != 1 {
		t.Fatalf("the attempt ran %d times", n)
	}
}

func TestAGracefulShutdownHandsTheRunningAttemptBackVisibly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, wait, "the attempt to start", func() bool { return len(b.runner.starts()) == 1 })
	if err := b.srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	run := b.gh.CheckRuns(b.repo)[0]
	if last := run.History[len(run.History)-1]; last.Status != "queued" || !strings.Contains(last.Output.Summary, "shutting down") {
		t.Fatalf("after shutdown the check run shows %q: %q", last.Status, last.Output.Summary)
	}

	b.runner.open()
	b.srv = b.start(t)
	waitFor(t, wait, "the next process to finish it", func() bool { s, _ := b.state(t); return s == tasks.Succeeded })
	if got := b.runner.starts(); len(got) != 2 || got[0] != got[1] {
		t.Fatalf("attempts run: %v, want the same attempt twice", got)
	}
}

package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/tasks"
)

// shipping is an attempt in its ship step.
func shipping() *run {
	return &run{report: Report{Steps: []Step{{Name: "setup"}, {Name: "ship"}}}, current: 1}
}

func TestAPublishedChangeOutlivesWhateverEndsTheAttemptAfterIt(t *testing.T) {
	t.Parallel()
	for _, cause := range []error{tasks.ErrCancelled, tasks.ErrDeadline, tasks.ErrShutdown} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		r := shipping()
		r.report.Published = Published{URL: "https://github.example/acme/uuid/pull/2", Number: 2}
		if got := r.ending(ctx, r.success()); got.State != tasks.Succeeded || got.Reason != "Opened pull request #2" {
			t.Errorf("%v after the pull request: %+v", cause, got)
		}
	}
}

// A panic after the pull request was opened, closing the sandbox say,
// does not undo it: GitHub shows the success, and the queue records it.
func TestAPanicAfterThePullRequestIsShownAndPassedOnAsTheSuccess(t *testing.T) {
	t.Parallel()
	r := shipping()
	r.report.Published = Published{URL: "https://github.example/acme/uuid/pull/2", Number: 2}
	reporter, recovered := panicShown(r, "closing the sandbox broke")
	ended, ok := recovered.(*tasks.PanicAfterEnd)
	if !ok || ended.State != tasks.Succeeded || ended.Detail != "Opened pull request #2" || ended.Value != "closing the sandbox broke" {
		t.Fatalf("passed on %#v; want the success, carrying the panic", recovered)
	}
	if f := reporter.final.Final; f == nil || f.State != tasks.Succeeded {
		t.Fatalf("shown as %+v; want the success", f)
	}
}

// A panic in the final report itself is passed on, with the end it was
// showing, which stands, without a second final report, which would post
// a second final comment beside the first.
func TestAPanicInTheFinalReportIsPassedOnWithoutAnother(t *testing.T) {
	t.Parallel()
	r := shipping()
	r.report.Final = &Outcome{State: tasks.Failed, Reason: "the checks failed"}
	reporter, recovered := panicShown(r, "writing the final comment broke")
	ended, ok := recovered.(*tasks.PanicAfterEnd)
	if !ok || ended.State != tasks.Failed || ended.Detail != "the checks failed" || ended.Value != "writing the final comment broke" || reporter.final.Final != nil {
		t.Fatalf("passed on %#v, and reported %+v; want the end it was showing passed on with the panic, and no second report", recovered, reporter.final.Final)
	}
}

// panicShown panics with v in an attempt r, as run's deferred showPanic
// sees it, and returns what it reported and what it passed on.
func panicShown(r *run, v any) (reporter *finishedReporter, recovered any) {
	reporter = &finishedReporter{}
	r.reporter, r.mask = reporter, func(s string) string { return s }
	func() {
		defer func() { recovered = recover() }()
		defer r.showPanic(context.Background())
		panic(v)
	}()
	return reporter, recovered
}

// finishedReporter keeps the report it finished with.
type finishedReporter struct {
	Reporter
	final Report
}

func (f *finishedReporter) Finish(_ context.Context, rep Report) { f.final = rep }

func TestAnAttemptEndedBeforePublishingSaysWhatEndedIt(t *testing.T) {
	t.Parallel()
	for cause, want := range map[error]tasks.State{
		tasks.ErrCancelled: tasks.Cancelled,
		tasks.ErrDeadline:  tasks.TimedOut,
		tasks.ErrShutdown:  tasks.Queued,
	} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		got := shipping().ending(ctx, Outcome{State: tasks.Failed, Reason: "publish: context canceled"})
		if got.State != want {
			t.Errorf("%v before the pull request: %+v, want %s", cause, got, want)
		}
	}
}

// A timed-out attempt names the limit that ran out and where it is set:
// trying again as it is would time out the same way.
func TestAnAttemptOutOfTimeSaysWhichLimitRanOut(t *testing.T) {
	t.Parallel()
	for limit, want := range map[*tasks.TimeLimit]string{
		{Limit: 30 * time.Minute, Setting: "timeout in .github/oneshot.yml"}: "the time limit of 30m (timeout in .github/oneshot.yml) ran out during ship",
		{Limit: 90 * time.Minute, Setting: "the bot's queue.task_timeout"}:   "the time limit of 1h30m (the bot's queue.task_timeout) ran out during ship",
		{Limit: 2 * time.Hour, Setting: "bot run --timeout"}:                 "the time limit of 2h (bot run --timeout) ran out during ship",
	} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(limit)
		if got := shipping().ending(ctx, Outcome{State: tasks.Failed}); got.State != tasks.TimedOut || got.Reason != want {
			t.Errorf("%+v: %+v, want timed out saying %q", limit, got, want)
		}
	}
}

// A step's error can quote what the sandbox wrote: git names the bundle
// capability it could not read, and the sandbox writes the bundle. Shown on
// GitHub, it must not link or mention anyone.
func TestAStepsErrorIsShownAsCode(t *testing.T) {
	t.Parallel()
	err := errors.New("the sandbox's bundle: error: unknown capability '[click](https://evil.example) @acme/security'\nusage: git bundle")
	out := errorOutcome("ship", err)
	want := "ship failed: `the sandbox's bundle: error: unknown capability '[click](https://evil.example) @acme/security'`"
	if out.Reason != want || !strings.HasPrefix(out.Details, "```\nusage: git bundle") {
		t.Errorf("reason %q, details %q", out.Reason, out.Details)
	}
}

func TestAnAttemptHandedBackSaysItWillRunAgainNotThatItStopped(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(tasks.ErrShutdown)
	r := shipping()
	out := r.ending(ctx, Outcome{State: tasks.Failed, Reason: "interrupted"})
	r.report.Final = &out
	if got := r.report.Title(); got != "Back in the queue: the bot is restarting; this attempt will run again from the start" {
		t.Fatalf("title %q", got)
	}
}

// loggedReporter keeps what it is given to show.
type loggedReporter struct {
	Reporter
	log strings.Builder
}

func (l *loggedReporter) Update(Report)       {}
func (l *loggedReporter) Log(e sandbox.Event) { l.log.Write(e.Data) }

func TestASecretSplitAcrossTwoChecksOutputIsMaskedWhereTheirOutputJoins(t *testing.T) {
	t.Parallel()
	const secret = "sk-live-0123456789abcdef"
	reporter := &loggedReporter{}
	secrets := map[string]string{"LLM_KEY": secret}
	r := &run{p: &Pipeline{Defaults: Defaults{AgentSecrets: secrets}}, reporter: reporter, mask: sandbox.Masking(secrets),
		report: Report{Steps: []Step{{Name: "verify"}}}}
	r.begin("verify")
	// Each exec's output is masked alone: the first check's ends with the
	// secret's start, the second's begins with its end.
	r.onEvent(sandbox.Event{Phase: "verify", Stream: sandbox.Stdout, Data: []byte("ok\n" + secret[:12])})
	r.onEvent(sandbox.Event{Phase: "verify", Stream: sandbox.Stdout, Data: []byte(secret[12:] + "\nFAIL\n")})
	tail := r.logTail(failureTail)
	r.end(false, "")
	for name, shown := range map[string]string{"the reporter's log": reporter.log.String(), "the failure's tail": tail} {
		if strings.Contains(shown, secret[:12]) || strings.Contains(shown, secret[12:]) || !strings.Contains(shown, "FAIL") {
			t.Errorf("%s shows %q", name, shown)
		}
	}
}

func TestASecretSplitAcrossAChecksTwoStreamsIsMaskedWhereTheyJoin(t *testing.T) {
	t.Parallel()
	const secret = "sk-live-0123456789abcdef"
	r := &run{p: &Pipeline{Defaults: Defaults{AgentSecrets: map[string]string{"LLM_KEY": secret}}}}
	out := r.checkOutput()
	// Each stream, masked alone, lets its part through: stdout holds back
	// only what could still begin the secret.
	out.Write([]byte("FAIL\n" + secret[:12]))
	out.Write([]byte(secret[12:] + "\nexit status 1"))
	if tail := out.tail(); strings.Contains(tail, secret) || !strings.Contains(tail, "exit status 1") {
		t.Errorf("the check's tail is %q", tail)
	}
}

// An attempt that ends in setup before it took the sandbox, its branch
// failing to fetch say, does not wait on the sandbox's start: that is cut
// short, the attempt's end shown at once.
func TestAnAttemptEndedInSetupCutsTheSandboxsStartShort(t *testing.T) {
	t.Parallel()
	r := &run{}
	r.starting = begin(t.Context(), "starting the sandbox", func(ctx context.Context) (*sandbox.Session, error) {
		<-ctx.Done() // a Docker that hangs
		return nil, ctx.Err()
	})
	cleansUp(t, r)
}

// cleansUp runs r's cleanup, which must end the work beside the steps,
// not wait for it to end by itself.
func cleansUp(t *testing.T, r *run) {
	t.Helper()
	cleaned := make(chan struct{})
	go func() {
		r.cleanup()
		close(cleaned)
	}()
	select {
	case <-cleaned:
	case <-time.After(time.Minute):
		t.Fatal("cleaning up waited on the work beside the steps")
	}
}

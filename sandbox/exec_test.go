package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/sandbox"
)

func TestExecPassesArgsStdinEnvAndDirAndReportsExitCode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	spec := b.spec()
	spec.Env = map[string]string{"SESSION_VAR": "from-spec"}
	s := b.start(t, spec)
	ctx := context.Background()

	mustSucceed(t, s, "mkdir -p /sandbox/sub")
	res, err := s.Exec(ctx, sandbox.Command{
		Args:  []string{"bash", "-c", `echo "$1 $SESSION_VAR $EXEC_VAR $(pwd)"; cat; exit 3`, "bash", "arg with spaces"},
		Dir:   "/sandbox/sub",
		Env:   map[string]string{"EXEC_VAR": "from-exec"},
		Stdin: strings.NewReader("line from stdin\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "arg with spaces from-spec from-exec /sandbox/sub\nline from stdin\n"
	if string(res.Stdout) != want || res.ExitCode != 3 {
		t.Fatalf("got exit %d, stdout %q; want 3, %q", res.ExitCode, res.Stdout, want)
	}
	// Env given to one exec is not seen by the next.
	if out := mustSucceed(t, s, `echo "[$EXEC_VAR]"`); out != "[]\n" {
		t.Fatalf("exec env leaked into the next exec: %q", out)
	}
}

func TestExecOfAMissingProgramIsAnError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())
	_, err := s.Exec(context.Background(), sandbox.Command{Args: []string{"no-such-program"}})
	if err == nil || !strings.Contains(err.Error(), "command not found") {
		t.Fatalf("err = %v", err)
	}
}

func TestExecStreamsEventsWhileTheProcessRuns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())

	// The process waits for input that the test sends only after it saw the
	// first line as an event: the exec cannot end before events stream.
	stdin, feed := io.Pipe()
	var events []sandbox.Event
	res, err := s.Exec(context.Background(), sandbox.Command{
		Script: "echo ready; read -r answer; echo got-$answer; echo oops >&2",
		Stdin:  stdin,
		Phase:  "verify",
		OnEvent: func(e sandbox.Event) {
			events = append(events, sandbox.Event{Phase: e.Phase, Stream: e.Stream, Data: bytes.Clone(e.Data)})
			if string(e.Data) == "ready\n" {
				// Exec copies stdin on a goroutine of its own, so this
				// write completes while the event handler waits.
				fmt.Fprintln(feed, "yes")
				feed.Close()
			}
		},
		Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "ready\ngot-yes\n" || string(res.Stderr) != "oops\n" {
		t.Fatalf("stdout %q, stderr %q", res.Stdout, res.Stderr)
	}
	var stdout, stderr string
	for _, e := range events {
		if e.Phase != "verify" {
			t.Errorf("event phase %q", e.Phase)
		}
		switch e.Stream {
		case sandbox.Stdout:
			stdout += string(e.Data)
		case sandbox.Stderr:
			stderr += string(e.Data)
		}
	}
	if stdout != "ready\ngot-yes\n" || stderr != "oops\n" {
		t.Fatalf("events carried stdout %q, stderr %q", stdout, stderr)
	}
}

func TestTimedOutExecLeavesNoChildrenOrGrandchildren(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())

	// A child in the group, a grandchild that left it with setsid, one
	// double-forked with nohup, and one that left the group and cleared its
	// environment; each marks itself by its sleep length.
	// It says so once all four run, then waits to be killed.
	script := `
		sleep 1001 &
		setsid sleep 1002 &
		( nohup sleep 1003 > /dev/null 2>&1 & ) &
		setsid env -i sleep 1007 &
		until [ "$(ps -eo args= | grep -c '^sleep 100')" -ge 4 ]; do sleep 0.05; done
		echo all-started
		sleep 1004`
	res, err := s.Exec(context.Background(), sandbox.Command{Script: script, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut || res.ExitCode != 137 || string(res.Stdout) != "all-started\n" {
		t.Fatalf("want the four started, then a timeout and exit 137; got %+v, %q", res, res.Stdout)
	}
	if left := mustSucceed(t, s, "ps -eo args= | grep '^sleep 100' || true"); left != "" {
		t.Fatalf("processes survived the timeout:\n%s", left)
	}
}

func TestATimedOutExecLeavesAnotherExecAndItsHelperAlone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())

	// B starts while A runs and daemonises a helper, which leaves B's
	// group and is adopted by init: when A times out, neither is A's.
	aRuns := make(chan struct{})
	type result struct {
		res *sandbox.Result
		err error
	}
	aDone := make(chan result, 1)
	go func() {
		var once sync.Once
		res, err := s.Exec(context.Background(), sandbox.Command{Script: "echo a; sleep 1050", Timeout: 3 * time.Second,
			OnEvent: func(sandbox.Event) { once.Do(func() { close(aRuns) }) }})
		aDone <- result{res, err}
	}()
	<-aRuns
	// B goes on until A's sleep is gone: A timed out while B ran.
	res, err := s.Exec(context.Background(), sandbox.Command{Script: `(sleep 1051 > /dev/null 2>&1 &)
		while ps -eo args= | grep -q '^sleep 1050'; do sleep 0.05; done
		echo b-finished`, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if a := <-aDone; a.err != nil || !a.res.TimedOut {
		t.Fatalf("A: %+v, %v; want it timed out", a.res, a.err)
	}
	if res.ExitCode != 0 || string(res.Stdout) != "b-finished\n" {
		t.Fatalf("B was killed with A: %+v, %q", res, res.Stdout)
	}
	if out := mustSucceed(t, s, "ps -eo args= | grep -c '^sleep 1051'"); strings.TrimSpace(out) != "1" {
		t.Fatalf("B's helper was killed with A (%q running)", out)
	}
}

func TestBackgroundProcessOfAFinishedExecKeepsRunning(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())

	// A service started in setup must survive to be used by later steps,
	// and must not hold the exec open although it keeps stdout.
	started := time.Now()
	mustSucceed(t, s, "sleep 1005 & echo started")
	if d := time.Since(started); d > 20*time.Second {
		t.Fatalf("the exec waited %v for its background child", d)
	}
	if out := mustSucceed(t, s, "ps -eo args= | grep -c '^sleep 1005'"); strings.TrimSpace(out) != "1" {
		t.Fatalf("background process count = %q", out)
	}
}

func TestAnExecThatKillsItsBackgroundLeavesNothingRunning(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())

	// A service an earlier step started, which starts processes of its own
	// while the agent runs: it is not the agent's, and must live on.
	mustSucceed(t, s, "setsid sh -c 'while :; do sleep 0.05; done' > /dev/null 2>&1 &")

	// What an agent could leave to change the code after the checks: a
	// child, one that left the group, one double-forked, one that left the
	// group and cleared its environment, and one that forged the service's.
	script := `
		sleep 1011 &
		setsid sleep 1012 &
		( nohup sleep 1013 > /dev/null 2>&1 & ) &
		setsid env -i sleep 1014 &
		service=$(ps -eo pid=,args= | awk '/sh -c while/ { print $1; exit }')
		( setsid env -i $(tr '\0' '\n' < /proc/$service/environ | grep ONESHOT_EXEC_ID) sleep 1015 & ) &
		for i in $(seq 200); do
			[ "$(ps -eo args= | grep -c '^sleep 101')" -ge 5 ] && break
			sleep 0.05
		done
		ps -eo args= | grep -c '^sleep 101'`
	res, err := s.Exec(context.Background(), sandbox.Command{Script: script, KillBackground: true, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || strings.TrimSpace(string(res.Stdout)) != "5" {
		t.Fatalf("the background processes did not all start: %+v, %q", res, res.Stdout)
	}
	if left := mustSucceed(t, s, "ps -eo args= | grep '^sleep 101' || true"); left != "" {
		t.Fatalf("processes outlived the exec:\n%s", left)
	}
	// Forked to run its sleep, before the exec, the service shows twice
	// for a moment: any count but none will do.
	if service := mustSucceed(t, s, "ps -eo args= | grep -c '^sh -c while' || true"); strings.TrimSpace(service) == "0" {
		t.Fatal("the earlier step's service was killed")
	}
}

// A process that forks, has its child leave the group and exits, again and
// again, is gone from where a sweep of /proc reads it while its child is
// not listed yet. While sandboxd swept without stopping the sandbox first,
// one of sixteen such hoppers outlived the exec within a few tries, free to
// read the next exec's secrets.
func TestForkHoppersLeftByAnExecAreGoneWhenItEnds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Each hop leaves a zombie until sandboxd reaps it; on a loaded
	// machine they pile past the default bound, and the script's own
	// fork fails. The bound is not what this tests.
	spec := b.spec()
	spec.Pids = 4096
	s := b.start(t, spec)
	// Each hopper marks that it hops, then hops for up to a minute.
	mustSucceed(t, s, `cat > /tmp/hopper.c <<'EOF'
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
	close(open(argv[1], O_WRONLY | O_CREAT, 0644));
	time_t end = time(0) + 60;
	while (time(0) < end) {
		if (fork() > 0) _exit(0);
		setsid();
	}
	sleep(60);
	return 0;
}
EOF
gcc -O2 -o /tmp/hopper /tmp/hopper.c`)
	script := `for i in $(seq 0 15); do /tmp/hopper /tmp/hopping$i & done
for i in $(seq 0 15); do while [ ! -e /tmp/hopping$i ]; do sleep 0.01; done; done; rm /tmp/hopping*`
	for try := range 20 {
		res, err := s.Exec(context.Background(), sandbox.Command{Script: script, KillBackground: true, Timeout: time.Minute})
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("try %d: %+v, %v", try, res, err)
		}
		if left := mustSucceed(t, s, "ps -eo args= | grep -c '^/tmp/hopper' || true"); strings.TrimSpace(left) != "0" {
			t.Fatalf("try %d: %s hoppers outlived the exec", try, strings.TrimSpace(left))
		}
	}
}

// A process whose main thread exits while another runs shows as a zombie
// in /proc, its environment read empty there; one that had also left the
// exec's group was left running by the sweep, free to read the next
// exec's secrets.
func TestAProcessWhoseMainThreadExitedIsGoneWhenItsExecEnds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())
	buildLeaderless(t, s)
	script := `/tmp/leaderless /tmp/started; while [ ! -e /tmp/started ]; do sleep 0.01; done`
	res, err := s.Exec(context.Background(), sandbox.Command{Script: script, KillBackground: true, Timeout: time.Minute})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
	if left := mustSucceed(t, s, "ps -eLo args= | grep -c '^/tmp/leaderless' || true"); strings.TrimSpace(left) != "0" {
		t.Fatalf("%s threads of the process outlived the exec", strings.TrimSpace(left))
	}
}

// buildLeaderless builds /tmp/leaderless FILE in the session: a process
// that leaves its exec's group, starts a thread that creates FILE and
// sleeps a minute, and ends its main thread alone, which /proc then shows
// as a zombie.
func buildLeaderless(t *testing.T, s *sandbox.Session) {
	t.Helper()
	mustSucceed(t, s, `cat > /tmp/leaderless.c <<'EOF'
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>
static void *run_on(void *started) {
	close(open(started, O_WRONLY | O_CREAT, 0644));
	sleep(60);
	return 0;
}
int main(int argc, char **argv) {
	if (fork() > 0) _exit(0);
	setsid();
	pthread_t t;
	pthread_create(&t, 0, run_on, argv[1]);
	syscall(SYS_exit, 0); /* this thread alone */
	return 0;
}
EOF
gcc -O2 -pthread -o /tmp/leaderless /tmp/leaderless.c`)
}

// Stopping the sandbox while a tree is swept must not wake what was
// stopped on purpose: a job its shell stopped, a process a test stopped.
func TestAProcessStoppedBeforeASweepStaysStopped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())
	pid := strings.TrimSpace(mustSucceed(t, s, "setsid sleep 1078 > /dev/null 2>&1 & echo $!"))
	mustSucceed(t, s, "kill -STOP "+pid)
	res, err := s.Exec(context.Background(), sandbox.Command{Script: "sleep 1079 & true", KillBackground: true, Timeout: time.Minute})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
	if state := strings.TrimSpace(mustSucceed(t, s, "ps -o stat= -p "+pid)); !strings.HasPrefix(state, "T") {
		t.Fatalf("the stopped process is in state %q after the sweep", state)
	}

	// One whose main thread exited, which /proc shows as a zombie.
	buildLeaderless(t, s)
	mustSucceed(t, s, "/tmp/leaderless /tmp/started; while [ ! -e /tmp/started ]; do sleep 0.01; done")
	mustSucceed(t, s, "kill -STOP $(pgrep -x leaderless)")
	res, err = s.Exec(context.Background(), sandbox.Command{Script: "sleep 1079 & true", KillBackground: true, Timeout: time.Minute})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
	if states := mustSucceed(t, s, `ps -eLo stat=,comm= | awk '$2 == "leaderless" { print $1 }'`); !strings.Contains(states, "T") {
		t.Fatalf("the stopped process whose main thread exited is in states %q after the sweep", states)
	}
}

func TestCancelledExecIsKilledAndReturnsTheContextError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())

	ctx, cancel := context.WithCancel(context.Background())
	res, err := s.Exec(ctx, sandbox.Command{
		Script: "echo running; sleep 1006",
		OnEvent: func(e sandbox.Event) {
			if strings.Contains(string(e.Data), "running") {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, res = %+v", err, res)
	}
	if left := mustSucceed(t, s, "ps -eo args= | grep '^sleep 1006' || true"); left != "" {
		t.Fatalf("the cancelled process survived:\n%s", left)
	}
}

func TestLargeOutputIsCappedKeepingHeadAndTail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())

	var streamed int
	res, err := s.Exec(context.Background(), sandbox.Command{
		Script:    "echo HEAD-MARK; head -c 10000000 /dev/zero | tr '\\0' x; echo; echo TAIL-MARK",
		MaxOutput: 64 << 10,
		OnEvent:   func(e sandbox.Event) { streamed += len(e.Data) },
	})
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.Stdout)
	if !res.Truncated || !strings.HasPrefix(out, "HEAD-MARK\n") || !strings.HasSuffix(out, "TAIL-MARK\n") {
		t.Fatalf("truncated=%v, head %q, tail %q", res.Truncated, out[:min(40, len(out))], out[max(0, len(out)-40):])
	}
	if !strings.Contains(out, "bytes truncated ...]") {
		t.Fatal("the cut is not marked")
	}
	if len(out) > 64<<10+100 {
		t.Fatalf("kept %d bytes, cap is %d", len(out), 64<<10)
	}
	if want := 10_000_000 + len("HEAD-MARK\n\nTAIL-MARK\n"); streamed != want {
		t.Fatalf("events carried %d bytes, want all %d", streamed, want)
	}
}

// sandboxd runs as the sandbox's user, so a process there can stop it. A
// command's timeout, which sandboxd keeps, must still end the wait: the
// session ends, its container removed, rather than hang until its
// deadline.
func TestAnExecWhoseSandboxdWasStoppedEndsTheSessionAfterItsTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())
	// Its parent is the sandboxd that serves the session.
	started := time.Now()
	_, err := s.Exec(context.Background(), sandbox.Command{Script: "kill -STOP $PPID; sleep 300", Timeout: time.Second})
	if !errors.Is(err, sandbox.ErrUnresponsive) {
		t.Fatalf("exec: %v, want the session ended as unresponsive", err)
	}
	// The wait ends 20 s after the timeout (timeoutGrace), before the
	// connection's keepalive would find sandboxd gone, 40 s after the
	// session started.
	if waited := time.Since(started); waited > 30*time.Second {
		t.Fatalf("the exec ended %v after it started, for a timeout of 1s", waited.Round(time.Second))
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("the session still runs")
	}
	if n := len(b.containers(t)); n != 0 {
		t.Fatalf("%d containers left", n)
	}
}

// When a cancelled exec's kill goes unanswered, because a process of the
// sandbox stopped sandboxd, the session ends before Exec returns: Exec
// promises the process tree gone by then, and only the end kills it.
func TestACancelledExecWhoseSandboxdWasStoppedEndsTheSession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancelled once sandboxd is seen stopped, so that the kill
		// cannot reach it first, or after a while in any case.
		for waited := time.Now(); !b.sandboxdStopped(s.ID()) && time.Since(waited) < 30*time.Second; {
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}()
	// No timeout: nothing but the cancel ends the wait.
	_, err := s.Exec(ctx, sandbox.Command{Script: "kill -STOP $PPID; sleep 300"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("exec: %v, want the context's error", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("the session, and with it the process tree, runs on after Exec returned")
	}
	if n := len(b.containers(t)); n != 0 {
		t.Fatalf("%d containers left", n)
	}
}

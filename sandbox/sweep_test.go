package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/sandbox"
)

// A process of the sandbox runs as sandboxd's user, and may lower
// sandboxd's open-file limit (prlimit) so that it cannot read /proc to find
// what an exec left. The exec then fails and the session ends, where the
// sweep found nothing and what the exec left lived on into later steps, to
// read their secrets or change the code after the checks.
func TestAnExecThatBlindsTheSweepEndsTheSession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())
	// The exec's shell is a child of the sandboxd serving it.
	script := "setsid sleep 600 </dev/null >/dev/null 2>&1 &\nprlimit --pid $PPID --nofile=0:0"
	_, err := s.Exec(context.Background(), sandbox.Command{Script: script, KillBackground: true, Timeout: time.Minute})
	if !errors.Is(err, sandbox.ErrProcessesLost) || !strings.Contains(err.Error(), "lowered sandboxd's open-file limit") {
		t.Fatalf("exec err = %v, want the processes it left lost", err)
	}
	if _, err := s.Exec(context.Background(), sandbox.Command{Script: "true"}); !errors.Is(err, sandbox.ErrProcessesLost) {
		t.Fatalf("a later exec: err = %v, want the session ended", err)
	}
	if b.exists(t, s.ID()) {
		t.Fatal("the container is still there")
	}
}

// A process can make its children sandboxd's (clone with CLONE_PARENT),
// which no exec waits for. Each exited one would hold a place of the pids
// limit for the rest of the session, unreaped; the sweep after the exec
// reaps them.
func TestChildrenHandedToSandboxdAreReaped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())
	// exec: python is the exec's first process, sandboxd's child, whose
	// children with CLONE_PARENT are sandboxd's too.
	script := `exec python3 -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
CLONE_PARENT, SIGCHLD, SYS_clone = 0x8000, 17, 56
for _ in range(100):
    if libc.syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0) == 0:
        os._exit(0)
'`
	if _, err := s.Exec(context.Background(), sandbox.Command{Script: script, KillBackground: true, Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	zombies := mustSucceed(t, s, `for p in /proc/[0-9]*/stat; do read -r line < $p || continue; s=${line##*) }; [ "${s%% *}" = Z ] && echo ${p%/stat}; done; true`)
	if zombies != "" {
		t.Fatalf("zombies left:\n%s", zombies)
	}
}

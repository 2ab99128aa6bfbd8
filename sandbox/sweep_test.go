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
//
// So too when the exec runs on past its timeout: what sandboxd cannot
// sweep it kills blind, and the exec ends saying why.
func TestAnExecThatBlindsTheSweepEndsTheSession(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]sandbox.Command{
		"as it ends":     {Script: "setsid sleep 600 </dev/null >/dev/null 2>&1 &\nprlimit --pid $PPID --nofile=0:0", KillBackground: true, Timeout: time.Minute},
		"at its timeout": {Script: "prlimit --pid $PPID --nofile=0:0\nsleep 600", Timeout: 2 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			s := b.start(t, b.spec())
			// The exec's shell is a child of the sandboxd serving it.
			_, err := s.Exec(context.Background(), c)
			if !errors.Is(err, sandbox.ErrProcessesLost) || !strings.Contains(err.Error(), "lowered sandboxd's open-file limit") {
				t.Fatalf("exec err = %v, want the processes it left lost", err)
			}
			if _, err := s.Exec(context.Background(), sandbox.Command{Script: "true"}); !errors.Is(err, sandbox.ErrProcessesLost) {
				t.Fatalf("a later exec: err = %v, want the session ended", err)
			}
			if b.exists(t, s.ID()) {
				t.Fatal("the container is still there")
			}
		})
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
CLONE_PARENT, SIGCHLD = 0x8000, 17
SYS_clone = {"x86_64": 56, "aarch64": 220}[os.uname().machine]
made = 0
for _ in range(100):
    pid = libc.syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        os._exit(0)
    made += pid > 0
print(made)
'`
	res, err := s.Exec(context.Background(), sandbox.Command{Script: script, KillBackground: true, Timeout: time.Minute})
	if err != nil || strings.TrimSpace(string(res.Stdout)) != "100" {
		t.Fatalf("err = %v, children made: %q %q", err, res.Stdout, res.Stderr)
	}
	zombies := mustSucceed(t, s, `for p in /proc/[0-9]*/stat; do read -r line < $p || continue; s=${line##*) }; [ "${s%% *}" = Z ] && echo ${p%/stat}; done; true`)
	if zombies != "" {
		t.Fatalf("zombies left:\n%s", zombies)
	}
}

package sandboxd

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/oneshot-dev/oneshot/sandbox/protocol"
)

// A process that exits within its timeout did not time out, though Wait
// waits a while longer for a process it left in the background, which
// holds its output; and what it left runs on.
func TestAnExecThatEndedInTimeDidNotTimeOut(t *testing.T) {
	// Neither stop-all nor newcomers (see Server.earlier): a kill reaches
	// only the exec's group and what carries its marker, the test's own.
	s := &Server{}
	pidFile := filepath.Join(t.TempDir(), "pid")
	for try := range 5 {
		id := fmt.Sprintf("test-in-time-%d-%d", os.Getpid(), try)
		_ = os.Remove(pidFile)
		stream, bot := io.Pipe()
		exit := s.execute(stream, io.Discard, &protocol.ExecRequest{
			ID:            id,
			Argv:          []string{"sh", "-c", `sleep 32 & echo $! > "$1"`, "sh", pidFile},
			TimeoutMillis: 100,
		})
		bot.Close()
		if exit.Code == 128+int(syscall.SIGKILL) {
			continue // sh was slow to exit, and rightly timed out; again
		}
		data, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		background, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		// Killed only while it carries the exec's marker: once gone, its
		// PID may be another's.
		running := alive(background) && newTree(0, id, nil, nil, nil).marked(proc{pid: background})
		if running {
			_ = syscall.Kill(background, syscall.SIGKILL)
		}
		if exit.Code != 0 || exit.TimedOut || !running {
			t.Fatalf("%+v, the background process running: %v; want exit 0, no timeout, and it running", exit, running)
		}
		return
	}
	t.Skip("sh never exited within 100 ms here")
}

// Outside the sandbox's own init, as on a host, a process that started
// since an exec began and that init adopted may be anything's: an exec's
// sweep that took it for the exec's would kill it.
func TestAnExecOutsideTheSandboxesInitTakesNoNewcomer(t *testing.T) {
	self := os.Getpid()
	// Beyond any PID the kernel gives, so that no process that runs here
	// is taken for them.
	const root, orphan = 1 << 30, 1<<30 + 1
	procs := map[int]proc{
		self:   {pid: self, ppid: 1, pgid: self, started: 1},
		root:   {pid: root, ppid: self, pgid: root, started: 50},
		orphan: {pid: orphan, ppid: 1, pgid: orphan, started: 53},
	}
	for stopAll, want := range map[bool]bool{false: false, true: true} {
		s := &Server{stopAll: stopAll}
		before, err := s.earlier()
		if err != nil {
			t.Fatal(err)
		}
		tr := newTree(root, "x", before, nil, nil)
		if got := tr.runaway(procs[orphan], procs, self); got != want {
			t.Errorf("stop-all %v: a process init adopted since the exec began taken for the exec's: %v, want %v", stopAll, got, want)
		}
	}
}

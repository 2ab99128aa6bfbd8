package sandboxd

import (
	"os"
	"testing"
)

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
		tr := newTree(root, "x", s.earlier(), nil, nil)
		if got := tr.runaway(procs[orphan], procs, self); got != want {
			t.Errorf("stop-all %v: a process init adopted since the exec began taken for the exec's: %v, want %v", stopAll, got, want)
		}
	}
}

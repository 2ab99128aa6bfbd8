package sandboxd

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

func TestReadStatCopesWithParenthesesInTheCommandName(t *testing.T) {
	// A process can name itself anything; fields count from the last ')'.
	dir := t.TempDir()
	link := dir + "/evil) Z 1 2 ("
	if err := os.Symlink("/bin/sleep", link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(link, "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	p, state, ok := readStat(cmd.Process.Pid)
	if !ok || p.pgid != cmd.Process.Pid || p.started == 0 || state == 'Z' {
		t.Fatalf("%+v, state %c, ok %v; want pgid %d", p, state, ok, cmd.Process.Pid)
	}
}

func TestKillTreeKillsAProcessThatLeftTheGroup(t *testing.T) {
	// The child runs in its own group; a grandchild leaves it with setsid,
	// and only the marker in its environment ties it to the exec. It prints
	// its PID once it has left, and exec keeps that PID for the sleep.
	cmd := exec.Command("sh", "-c", "setsid sh -c 'echo $$; exec sleep 31' & wait")
	cmd.Env = append(os.Environ(), MarkerEnv+"=test-tree")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var grandchild int
	if _, err := fmt.Fscan(out, &grandchild); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if alive(grandchild) {
			_ = syscall.Kill(grandchild, syscall.SIGKILL)
		}
	}()
	if p, _, ok := readStat(grandchild); !ok || p.pgid == cmd.Process.Pid {
		t.Fatalf("the grandchild %d did not leave the group (pgid %d, found %v)", grandchild, p.pgid, ok)
	}
	// Newcomers left out: outside a sandbox, anything may start processes.
	tree := newTree(cmd.Process.Pid, "test-tree", nil, nil, nil)
	if err := killTree(tree); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if alive(grandchild) {
		t.Fatalf("the grandchild %d that left the group is alive", grandchild)
	}
	if left, err := findTree(tree); err != nil || len(left) > 0 {
		t.Fatalf("left alive: %+v (grandchild %d)", left, grandchild)
	}
}

// alive says whether pid is a process that is neither gone nor a zombie
// waiting for its new parent to reap it.
func alive(pid int) bool {
	_, state, ok := readStat(pid)
	return ok && state != 'Z'
}

func TestARunawayIsToldApartByItsAncestry(t *testing.T) {
	self := os.Getpid()
	const (
		root     = 100 // the exec's first process
		child    = 101 // its child, still in place
		grand    = 102 // the child's child, which left group and marker behind
		orphan   = 103 // a runaway whose parent died: init adopted it
		other    = 200 // another exec's first process, started before
		otherKid = 201
		service  = 300 // started by an earlier exec, adopted by init
		worker   = 301 // started by the service since
		reused   = 400 // a PID that was running, now another process's
	)
	procs := map[int]proc{}
	add := func(pid, ppid int, started uint64) {
		procs[pid] = proc{pid: pid, ppid: ppid, pgid: pid, started: started}
	}
	add(self, 1, 1)
	add(root, self, 50)
	add(child, root, 51)
	add(grand, child, 52)
	add(orphan, 1, 53)
	add(other, self, 20)
	add(otherKid, other, 54)
	add(service, 1, 10)
	add(worker, service, 55)
	add(reused, 1, 56)
	before := map[int]proc{}
	for pid, started := range map[int]uint64{1: 0, self: 1, other: 20, service: 10, reused: 5} {
		before[pid] = proc{pid: pid, started: started}
	}
	tr := newTree(root, "x", before, func(pid int) bool { return pid == other }, nil)

	for pid, want := range map[int]bool{
		root: true, child: true, grand: true, orphan: true, reused: true,
		other: false, otherKid: false, service: false, worker: false,
	} {
		if got := tr.runaway(procs[pid], procs, self); got != want {
			t.Errorf("process %d: runaway %v, want %v", pid, got, want)
		}
	}
	// Outside a sandbox, newcomers are left out.
	if newTree(root, "x", nil, nil, nil).runaway(procs[orphan], procs, self) {
		t.Error("a tree without a list of earlier processes took a newcomer")
	}
}

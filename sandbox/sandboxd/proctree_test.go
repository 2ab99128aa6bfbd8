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
	tree := newTree(cmd.Process.Pid, "test-tree", nil)
	killTree(tree)
	_ = cmd.Wait()
	if alive(grandchild) {
		t.Fatalf("the grandchild %d that left the group is alive", grandchild)
	}
	if left := findTree(tree); len(left) > 0 {
		t.Fatalf("left alive: %+v (grandchild %d)", left, grandchild)
	}
}

// alive says whether pid is a process that is neither gone nor a zombie
// waiting for its new parent to reap it.
func alive(pid int) bool {
	_, state, ok := readStat(pid)
	return ok && state != 'Z'
}

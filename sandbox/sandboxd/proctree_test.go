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
	pgid, state, ok := readStat(cmd.Process.Pid)
	if !ok || pgid != cmd.Process.Pid || state == 'Z' {
		t.Fatalf("pgid %d, state %c, ok %v; want pgid %d", pgid, state, ok, cmd.Process.Pid)
	}
}

func TestKillTreeKillsAProcessThatLeftTheGroup(t *testing.T) {
	// The child runs in its own group; a grandchild leaves it with setsid,
	// and only the marker in its environment ties it to the exec.
	cmd := exec.Command("sh", "-c", "setsid sleep 31 & echo $!; wait")
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
	killTree(cmd.Process.Pid, "test-tree")
	_ = cmd.Wait()
	if left := findTree(cmd.Process.Pid, []byte(MarkerEnv+"=test-tree\x00")); len(left) > 0 {
		t.Fatalf("left alive: %+v (grandchild %d)", left, grandchild)
	}
}

package sandboxd

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// A process of the sandbox runs as sandboxd's user and may lower its
// limits (prlimit). Its open-file limit lowered, sandboxd cannot read
// /proc; a sweep must then fail, not find nothing and report the exec's
// tree gone while what it left lives on. A limit lowered where sandboxd
// may raise it again is put back, and the sweep goes on.
//
// The limits are lowered in a process of the test's own, run again from
// its binary: lowered here, they would stay lowered for every test.
func TestASweepWithoutFilesFailsAndALimitItCanRaiseIsPutBack(t *testing.T) {
	if which := os.Getenv("ONESHOT_SWEEP_LIMIT"); which != "" {
		sweepUnder(which)
		return
	}
	for which, want := range map[string]string{
		"hard": "a process in the sandbox lowered sandboxd's open-file limit to 0",
		"soft": "swept",
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestASweepWithoutFilesFailsAndALimitItCanRaiseIsPutBack$")
		cmd.Env = append(os.Environ(), "ONESHOT_SWEEP_LIMIT="+which)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("open-file limit lowered (%s): %v\n%s\nwant %q", which, err, out, want)
		}
	}
}

// sweepUnder lowers this process's open-file limit, the hard one or the
// soft one only, to none, sweeps a tree, and prints how the sweep went.
func sweepUnder(which string) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		panic(err)
	}
	l.Cur = 0
	if which == "hard" {
		l.Max = 0
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		panic(err)
	}
	s := &Server{}
	// A group no process leads: nothing to kill, only to look for.
	err := s.killTree(newTree(1<<30, "limits", nil, nil, nil))
	if err != nil {
		println(err.Error())
		return
	}
	println("swept")
}

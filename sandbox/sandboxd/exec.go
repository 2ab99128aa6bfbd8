package sandboxd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/oneshot-dev/oneshot/sandbox/protocol"
)

// MarkerEnv is set in the environment of every process an exec starts, to
// the exec's ID. Descendants inherit it, which is how a process that left the
// process group (setsid, double fork) is still found and killed.
const MarkerEnv = "ONESHOT_EXEC_ID"

// outputGrace is how long an exec waits, after its process exited, for
// output still in flight. Background processes that keep the pipes open are
// not waited for: they may run on (a server started in setup), but they no
// longer hold the exec open.
const outputGrace = 250 * time.Millisecond

// killTree kills an exec's process tree while no exec starts: a process
// that has just started is not yet known as another exec's, and would look
// like a runaway of the tree.
//
// Where it may (Options.StopAllWhileKilling), it first stops every process
// but init and itself, and lets the survivors go on once the tree is dead.
// A sweep of /proc is not one look at one moment: a process that forks,
// has its child leave the group and exits, again and again, is gone from
// where the sweep reads it and its child not yet listed, and a sweep that
// finds nothing left stops. kill(-1) reaches every process in one pass of
// the kernel's list, and a stopped process cannot fork, so the sweep then
// reads a tree that holds still.
//
// It fails when it cannot tell what is left: the sandbox's processes run
// as sandboxd's user, and may lower its limits (prlimit) so that it cannot
// read /proc. The session is over then (see protocol.Exit.SweepError).
func (s *Server) killTree(t tree) error {
	s.starting.Lock()
	defer s.starting.Unlock()
	if err := keepFileLimit(); err != nil {
		return s.killBlind(t, err)
	}
	if s.stopAll {
		// What was stopped already (a job its shell stopped, a process a
		// test stopped to see it wait) is stopped again after: SIGCONT
		// reaches every process.
		stopped, err := stoppedProcesses()
		if err != nil {
			return s.killBlind(t, err)
		}
		_ = syscall.Kill(-1, syscall.SIGSTOP)
		defer func() {
			_ = syscall.Kill(-1, syscall.SIGCONT)
			for _, p := range stopped {
				if now, _, ok := readStat(p.pid); ok && now.started == p.started {
					_ = syscall.Kill(p.pid, syscall.SIGSTOP)
				}
			}
		}()
		// Once everything holds still, nothing changes the limit again.
		if err := keepFileLimit(); err != nil {
			return s.killBlind(t, err)
		}
		defer s.reapStrays()
	}
	if err := killTree(t); err != nil {
		return s.killBlind(t, err)
	}
	return nil
}

// killBlind kills what it can without reading /proc, and returns err,
// why it could not: the exec's group, and under the sandbox's own init
// every process but init and sandboxd, which cannot be told apart then.
// The session ends anyway (see protocol.Exit.SweepError); an exec whose
// process lived on would never report its exit.
func (s *Server) killBlind(t tree, err error) error {
	_ = syscall.Kill(-t.pgid, syscall.SIGKILL)
	if s.stopAll {
		_ = syscall.Kill(-1, syscall.SIGKILL)
	}
	return err
}

// fileLimit is sandboxd's open-file limit as it began.
var fileLimit = func() unix.Rlimit {
	var l unix.Rlimit
	_ = unix.Prlimit(0, unix.RLIMIT_NOFILE, nil, &l)
	return l
}()

// keepFileLimit puts back sandboxd's open-file limit where a process
// lowered it but not past what it may raise again, and fails where it
// cannot: without files, no sweep can read /proc. It sets the limit with
// prlimit, not syscall.Setrlimit, which would have the execs started
// after inherit sandboxd's raised limit in place of the one they get.
func keepFileLimit() error {
	var now unix.Rlimit
	if err := unix.Prlimit(0, unix.RLIMIT_NOFILE, nil, &now); err != nil {
		return fmt.Errorf("read the open-file limit: %w", err)
	}
	if now.Cur >= fileLimit.Cur {
		return nil
	}
	if now.Max < fileLimit.Cur {
		return fmt.Errorf("a process in the sandbox lowered sandboxd's open-file limit to %d", now.Max)
	}
	now.Cur = fileLimit.Cur
	if err := unix.Prlimit(0, unix.RLIMIT_NOFILE, &now, nil); err != nil {
		return fmt.Errorf("restore the open-file limit a process in the sandbox lowered: %w", err)
	}
	return nil
}

// reapStrays reaps the exited children of sandboxd that no exec waits
// for. A process an exec started can make its children sandboxd's (clone
// with CLONE_PARENT); unreaped, each would hold a place of the pids limit
// for the rest of the session. It runs only under the sandbox's own init,
// where sandboxd's children are all the execs'.
func (s *Server) reapStrays() {
	self := os.Getpid()
	_ = eachProcess(func(p proc, state byte) {
		if p.ppid != self || state != 'Z' || p.threads > 1 {
			return
		}
		if _, waited := s.execs.Load(p.pid); waited {
			return // its exec's Wait reaps it
		}
		var status syscall.WaitStatus
		_, _ = syscall.Wait4(p.pid, &status, syscall.WNOHANG, nil)
	})
}

// runExec runs one process and streams its output, then its exit, on stream.
func (s *Server) runExec(stream io.ReadWriter, req *protocol.ExecRequest) {
	out := &lockedWriter{w: stream}
	exit := s.execute(stream, out, req)
	_ = protocol.WriteJSON(out, protocol.FrameExit, exit)
}

func (s *Server) execute(stream io.Reader, out io.Writer, req *protocol.ExecRequest) protocol.Exit {
	if len(req.Argv) == 0 || req.ID == "" {
		return protocol.Exit{Code: -1, StartError: "exec needs an argv and an id"}
	}
	env := append(os.Environ(), req.Env...)
	env = append(env, MarkerEnv+"="+req.ID)
	path, err := lookPath(req.Argv[0], env, req.Dir)
	if err != nil {
		return protocol.Exit{Code: -1, StartError: err.Error()}
	}
	stdin, stdinWriter, err := os.Pipe()
	if err != nil {
		return protocol.Exit{Code: -1, StartError: err.Error()}
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        req.Argv,
		Dir:         req.Dir,
		Env:         env,
		Stdin:       stdin,
		Stdout:      protocol.FrameWriter(out, protocol.FrameStdout),
		Stderr:      protocol.FrameWriter(out, protocol.FrameStderr),
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
		WaitDelay:   outputGrace,
	}
	if _, ok := s.running.LoadAndDelete(req.ID); ok {
		stdin.Close()
		stdinWriter.Close()
		// Cancelled before it started; the bot reports its own context's
		// end, which is why it cancelled.
		return protocol.Exit{Code: -1}
	}
	oomBefore := oomKills()
	before, err := s.earlier()
	if err != nil {
		stdin.Close()
		stdinWriter.Close()
		return protocol.Exit{Code: -1, SweepError: err.Error()}
	}
	s.starting.RLock()
	err = cmd.Start()
	if err == nil {
		s.execs.Store(cmd.Process.Pid, true)
	}
	s.starting.RUnlock()
	if err != nil {
		stdin.Close()
		stdinWriter.Close()
		return protocol.Exit{Code: -1, StartError: err.Error()}
	}
	stdin.Close()
	pid := cmd.Process.Pid
	defer s.execs.Delete(pid)
	preferForOOM(pid)

	tree := newTree(pid, req.ID, before, func(other int) bool {
		_, ok := s.execs.Load(other)
		return ok && other != pid
	}, func(id string) bool { return id != req.ID && s.execRunning(id) })
	var once sync.Once
	reason := ""
	var sweepErr error
	kill := func(why string) {
		once.Do(func() {
			reason = why
			sweepErr = s.killTree(tree)
		})
	}
	if prev, _ := s.running.Swap(req.ID, kill); prev == (cancelled{}) {
		kill("cancelled")
	}
	defer s.running.Delete(req.ID)
	waited := make(chan struct{})
	go pumpInput(stream, stdinWriter, waited, func() { kill("cancelled") })
	if req.TimeoutMillis > 0 {
		// Wait goes on, up to outputGrace after the process exited, while
		// a process it left holds its output. A timeout in that while
		// finds the exec ended in time: it did not time out, and what it
		// left runs on unless the exec kills its background. Read before
		// Wait, the PID is still the process's, and its start tells it
		// apart from another given the PID once it is reaped.
		first, _, known := readStat(pid)
		timer := time.AfterFunc(time.Duration(req.TimeoutMillis)*time.Millisecond, func() {
			if !known || !exited(pid, first.started) {
				kill("timeout")
			}
		})
		defer timer.Stop()
	}

	waitErr := cmd.Wait()
	close(waited)
	// Wait returns once the process is gone, but a kill in progress may still
	// be sweeping its descendants: take the once so the sweep is finished
	// before the exit is reported. An exec that kills its background
	// sweeps now, unless a kill already did.
	if req.KillBackground {
		kill("")
	} else {
		once.Do(func() {})
	}
	exit := exitOf(cmd, waitErr, reason, oomKills() > oomBefore)
	if sweepErr != nil {
		exit.SweepError = sweepErr.Error()
	}
	return exit
}

// earlier lists the processes running as an exec begins, by which its tree
// tells the processes the exec started since (see tree.before). It is nil
// unless the server runs under the sandbox's own init, where every process
// is the sandbox's: elsewhere, as on a host, a process anything else started
// and init adopted would be taken for the exec's and killed.
func (s *Server) earlier() (map[int]proc, error) {
	if !s.stopAll {
		return nil, nil
	}
	if err := keepFileLimit(); err != nil {
		return nil, err
	}
	return processes()
}

// pumpInput copies stdin frames into the process. It runs until the stream
// ends; if that happens while the process still runs, the bot has gone away
// and the process tree is killed.
func pumpInput(stream io.Reader, stdin io.WriteCloser, waited <-chan struct{}, cancel func()) {
	defer stdin.Close()
	for {
		typ, payload, err := protocol.ReadFrame(stream)
		if err != nil {
			select {
			case <-waited:
			default:
				cancel()
			}
			return
		}
		switch typ {
		case protocol.FrameStdin:
			// Blocks while the process does not read; fails once it is gone.
			_, _ = stdin.Write(payload)
		case protocol.FrameStdinEOF:
			stdin.Close()
		}
	}
}

func exitOf(cmd *exec.Cmd, waitErr error, reason string, oomDuring bool) protocol.Exit {
	exit := protocol.Exit{TimedOut: reason == "timeout"}
	state := cmd.ProcessState
	if state == nil {
		exit.Code = -1
		exit.StartError = fmt.Sprint(waitErr)
		return exit
	}
	exit.Code = state.ExitCode()
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		exit.Code = 128 + int(ws.Signal())
		exit.Signal = ws.Signal().String()
	}
	// A new OOM kill in the cgroup meanwhile, no kill of our own, and a
	// failure: the kernel's OOM killer killed this process or one it ran,
	// as the compiler under "go build" or a test binary under "go test",
	// whose parent then fails with an exit of its own, 1 or 2, not 137.
	exit.OOMKilled = oomDuring && exit.Code != 0 && reason == ""
	return exit
}

// lookPath resolves argv[0] against the PATH the process will get, which may
// differ from sandboxd's own.
func lookPath(name string, env []string, dir string) (string, error) {
	if strings.Contains(name, "/") {
		if !filepath.IsAbs(name) && dir != "" {
			return filepath.Join(dir, name), nil
		}
		return name, nil
	}
	pathList := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathList = v // the last one wins, as for the process itself
		}
	}
	for _, d := range filepath.SplitList(pathList) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, name)
		if info, err := os.Stat(p); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: command not found", name)
}

// lockedWriter serialises the frames of the output pumps and the exit
// report: the protocol writes each frame in one Write.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// errNoCgroup is returned when no memory cgroup statistics can be read.
var errNoCgroup = errors.New("no memory cgroup statistics")

// oomKills returns how many processes the kernel's OOM killer has killed in
// this container so far, from cgroup v2 or v1, or 0 when neither is readable.
func oomKills() int64 {
	for _, f := range []string{"/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"} {
		if n, err := readCounter(f, "oom_kill"); err == nil {
			return n
		}
	}
	return 0
}

func readCounter(file, key string) (int64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		var n int64
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			if _, err := fmt.Sscan(v, &n); err == nil {
				return n, nil
			}
		}
	}
	return 0, errNoCgroup
}

// preferForOOM makes the process the OOM killer's first choice, ahead of
// sandboxd, which the session needs to survive. Raising the score needs no
// privilege; children inherit it.
func preferForOOM(pid int) {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid), []byte("1000"), 0)
}

package sandboxd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"time"
)

// killTreeLimit bounds how long killTree keeps sweeping. A fork bomb is
// usually gone after two or three sweeps. The bot's timeoutGrace
// (sandbox/exec.go) allows for two kills and outputGrace: change it with
// either.
const killTreeLimit = 5 * time.Second

// A tree is the processes one exec started: those in its process group,
// those whose environment carries its marker and, when before is set, those
// started since the exec began that descend neither from a process that
// was running then nor from another exec. The last catches a descendant
// that left the group and cleared or forged its environment (setsid env
// -i): a process cannot choose its parent, so ancestry is what tells it
// apart. One whose parent died was adopted by init and has no ancestry
// left; if it started since, it is taken as the exec's.
type tree struct {
	pgid   int
	marker []byte // MarkerEnv=ID and a NUL, as in /proc/PID/environ
	// before holds the processes that were running as the exec began, by
	// PID. Nil leaves newcomers out, which is right outside a sandbox,
	// where anything may start processes.
	before map[int]proc
	// otherExec says whether a PID is the first process of another exec
	// that is running, which leads that exec's process group.
	otherExec func(pid int) bool
	// otherID says whether an exec ID is another exec's that is running.
	otherID func(id string) bool
}

func newTree(pgid int, execID string, before map[int]proc, otherExec func(int) bool, otherID func(string) bool) tree {
	return tree{pgid: pgid, marker: []byte(MarkerEnv + "=" + execID + "\x00"), before: before, otherExec: otherExec, otherID: otherID}
}

// killTree kills the tree's processes, sweeping again until none is left.
// It uses no new process, so it works when the pids limit is exhausted.
// A sweep that cannot read /proc is an error, never taken for a tree with
// nothing left: a process that made it so would live on unseen.
func killTree(t tree) error {
	selfGroup := syscall.Getpgrp()
	deadline := time.Now().Add(killTreeLimit)
	for {
		_ = syscall.Kill(-t.pgid, syscall.SIGKILL)
		left, err := findTree(t)
		if err != nil {
			return err
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return nil
		}
		for _, p := range left {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
			// Its group too, unless that is another exec's: a runaway may
			// have been born in it.
			if p.pgid > 1 && p.pgid != selfGroup && (t.otherExec == nil || !t.otherExec(p.pgid)) {
				_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
			}
		}
		// Let the kernel deliver the signals before looking again.
		time.Sleep(5 * time.Millisecond)
	}
}

type proc struct {
	pid, ppid, pgid int
	started         uint64 // clock ticks after boot, which tells a reused PID apart
	threads         int
}

// findTree lists the tree's live processes, sandboxd and init left out.
func findTree(t tree) ([]proc, error) {
	self := os.Getpid()
	procs, err := processes()
	if err != nil {
		return nil, err
	}
	var found []proc
	for _, p := range procs {
		if p.pid == self || p.pid == 1 {
			continue
		}
		if p.pgid == t.pgid || t.marked(p) || t.runaway(p, procs, self) {
			found = append(found, p)
		}
	}
	return found, nil
}

func (t tree) marked(p proc) bool {
	env := environ(p.pid)
	return bytes.HasPrefix(env, t.marker) || bytes.Contains(env, append([]byte{0}, t.marker...))
}

// maxEnviron bounds how much of a process's environment is read: above
// what execve passes (a quarter of an 8 MB stack at most), below what a
// process that points its environment at a huge mapping (prctl
// PR_SET_MM) would make sandboxd hold.
const maxEnviron = 8 << 20

// environ reads a process's environment. Once its main thread has exited
// the process's own file reads empty, while its other threads run on
// with the environment: it is read through them.
func environ(pid int) []byte {
	dir := "/proc/" + strconv.Itoa(pid)
	if env := readBounded(dir + "/environ"); len(env) > 0 {
		return env
	}
	threads, _ := os.ReadDir(dir + "/task")
	for _, th := range threads {
		if env := readBounded(dir + "/task/" + th.Name() + "/environ"); len(env) > 0 {
			return env
		}
	}
	return nil
}

// readBounded reads at most maxEnviron bytes of a file; nil when it
// cannot be read.
func readBounded(path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	data, _ := io.ReadAll(io.LimitReader(f, maxEnviron))
	return data
}

// markedByOther says whether p carries the marker of another exec that is
// running: a process that exec started and that left its group, as a
// daemon does, is that exec's, whenever it began. One whose environment
// was cleared carries no marker, and ancestry decides.
func (t tree) markedByOther(p proc) bool {
	if t.otherID == nil {
		return false
	}
	env := environ(p.pid)
	key := []byte(MarkerEnv + "=")
	for len(env) > 0 {
		line, rest, _ := bytes.Cut(env, []byte{0})
		if id, ok := bytes.CutPrefix(line, key); ok && t.otherID(string(id)) {
			return true
		}
		env = rest
	}
	return false
}

// runaway says whether p started since the exec began and descends
// neither from a process running then nor from another exec; self is
// sandboxd, the parent of every exec's first process.
func (t tree) runaway(p proc, procs map[int]proc, self int) bool {
	if t.before == nil || t.markedByOther(p) {
		return false
	}
	for range len(procs) { // a bound, should the parents loop as PIDs are reused
		if was, ok := t.before[p.pid]; ok && was.started == p.started {
			return false // not new, or the descendant of a process that is not
		}
		if p.ppid == self {
			return t.otherExec == nil || !t.otherExec(p.pid)
		}
		parent, ok := procs[p.ppid]
		if !ok || p.ppid <= 1 {
			return true // adopted by init: its ancestry is gone
		}
		p = parent
	}
	return true
}

// processes returns the live processes, zombies left out, by PID. A
// process whose main thread alone exited shows as a zombie too, though its
// other threads run on: it is live, and kept.
func processes() (map[int]proc, error) {
	procs := map[int]proc{}
	err := eachProcess(func(p proc, state byte) {
		if state != 'Z' || p.threads > 1 {
			procs[p.pid] = p
		}
	})
	return procs, err
}

// exited says whether the process pid, which started at started, has
// exited: it is gone, its PID is another's, or it is a zombie its parent
// has yet to reap, and not one whose main thread alone exited. One whose
// stat cannot be read for another reason (sandboxd out of files) has not.
func exited(pid int, started uint64) bool {
	p, state, err := statOf(pid)
	if err != nil {
		return gone(err) || errors.Is(err, errBadStat)
	}
	return p.started != started || state == 'Z' && p.threads <= 1
}

// gone says whether err, from reading a process's files in /proc, says
// the process is gone.
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}

// stoppedProcesses returns the processes a signal stopped. One whose main
// thread exited shows that thread's state, a zombie's: its other threads
// tell.
func stoppedProcesses() ([]proc, error) {
	var stopped []proc
	err := eachProcess(func(p proc, state byte) {
		if state == 'Z' && p.threads > 1 {
			state = liveThreadState(p.pid)
		}
		if state == 'T' {
			stopped = append(stopped, p)
		}
	})
	return stopped, err
}

// liveThreadState is the state of a thread of pid that has not exited,
// or 'Z' when none is left.
func liveThreadState(pid int) byte {
	dir := "/proc/" + strconv.Itoa(pid) + "/task/"
	threads, _ := os.ReadDir(dir)
	for _, th := range threads {
		if _, state, err := statFile(pid, dir+th.Name()+"/stat"); err == nil && state != 'Z' {
			return state
		}
	}
	return 'Z'
}

// eachProcess calls fn with each process /proc lists, and its state. A
// process that is gone by the time its stat is read is passed by; any other
// failure to read is an error, as for /proc itself.
func eachProcess(fn func(p proc, state byte)) error {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return fmt.Errorf("list the processes: %w", err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, state, err := statOf(pid)
		switch {
		case gone(err) || errors.Is(err, errBadStat):
			continue
		case err != nil:
			return fmt.Errorf("read process %d: %w", pid, err)
		}
		fn(p, state)
	}
	return nil
}

// readStat reads a process's parent, group, threads, start time and state
// from /proc/PID/stat, and says whether it could.
func readStat(pid int) (p proc, state byte, ok bool) {
	p, state, err := statOf(pid)
	return p, state, err == nil
}

// statOf is readStat with why it failed: the error reading the file, which
// says whether the process is gone (see gone), or errBadStat.
func statOf(pid int) (proc, byte, error) {
	return statFile(pid, "/proc/"+strconv.Itoa(pid)+"/stat")
}

// errBadStat is a stat file that does not read as one.
var errBadStat = errors.New("unreadable stat")

// statFile reads a stat file of process pid: its own, or one of its
// threads', which has the same fields. The command name may hold spaces
// and parentheses, so fields are counted from the last ')'.
func statFile(pid int, path string) (proc, byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return proc{}, 0, err
	}
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return proc{}, 0, errBadStat
	}
	// state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	// cmajflt utime stime cutime cstime priority nice num_threads
	// itrealvalue starttime ...
	fields := bytes.Fields(data[end+1:])
	if len(fields) < 20 || len(fields[0]) == 0 {
		return proc{}, 0, errBadStat
	}
	ppid, err1 := strconv.Atoi(string(fields[1]))
	pgid, err2 := strconv.Atoi(string(fields[2]))
	threads, err3 := strconv.Atoi(string(fields[17]))
	started, err4 := strconv.ParseUint(string(fields[19]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return proc{}, 0, errBadStat
	}
	return proc{pid: pid, ppid: ppid, pgid: pgid, started: started, threads: threads}, fields[0][0], nil
}

package sandboxd

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// killTreeLimit bounds how long killTree keeps sweeping. A fork bomb is
// usually gone after two or three sweeps.
const killTreeLimit = 5 * time.Second

// A tree is the processes one exec started: those in its process group,
// those whose environment carries its marker, and, when before is set,
// those started since the exec began that carry no exec's marker at all.
// The last is what a descendant that both left the group and cleared its
// environment (setsid env -i) looks like; nothing else in the sandbox
// starts processes without the marker, so it can only be a runaway of the
// exec, or of another that ran meanwhile.
type tree struct {
	pgid   int
	marker []byte // MarkerEnv=ID and a NUL, as in /proc/PID/environ
	// before holds the start time of each process that was running as the
	// exec began, by PID. Nil leaves newcomers out, which is right outside
	// a sandbox, where anything may start processes.
	before map[int]uint64
}

func newTree(pgid int, execID string, before map[int]uint64) tree {
	return tree{pgid: pgid, marker: []byte(MarkerEnv + "=" + execID + "\x00"), before: before}
}

// runningProcesses returns the start time of each live process, by PID.
func runningProcesses() map[int]uint64 {
	procs := map[int]uint64{}
	for _, p := range listProcesses() {
		procs[p.pid] = p.started
	}
	return procs
}

// killTree kills the tree's processes, sweeping again until none is left.
// It uses no new process, so it works when the pids limit is exhausted.
func killTree(t tree) {
	selfGroup := syscall.Getpgrp()
	deadline := time.Now().Add(killTreeLimit)
	for {
		_ = syscall.Kill(-t.pgid, syscall.SIGKILL)
		left := findTree(t)
		if len(left) == 0 || time.Now().After(deadline) {
			return
		}
		for _, p := range left {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
			if p.pgid > 1 && p.pgid != selfGroup {
				_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
			}
		}
		// Let the kernel deliver the signals before looking again.
		time.Sleep(5 * time.Millisecond)
	}
}

type proc struct {
	pid, pgid int
	started   uint64 // clock ticks after boot, which tells a reused PID apart
}

// findTree lists the tree's live processes, sandboxd and init left out.
func findTree(t tree) []proc {
	self := os.Getpid()
	var found []proc
	for _, p := range listProcesses() {
		if p.pid == self || p.pid == 1 {
			continue
		}
		if p.pgid == t.pgid || t.owns(p) {
			found = append(found, p)
		}
	}
	return found
}

// owns says whether p belongs to the tree by its environment: it carries
// the tree's marker, or it is a newcomer that carries none. An environment
// that cannot be read (the process made itself undumpable) carries none.
func (t tree) owns(p proc) bool {
	env, _ := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/environ")
	if hasVar(env, t.marker) {
		return true
	}
	if t.before == nil {
		return false
	}
	if started, ok := t.before[p.pid]; ok && started == p.started {
		return false
	}
	return !hasVar(env, []byte(MarkerEnv+"="))
}

// hasVar says whether the NUL-separated environment env has a variable
// starting with prefix.
func hasVar(env, prefix []byte) bool {
	return bytes.HasPrefix(env, prefix) || bytes.Contains(env, append([]byte{0}, prefix...))
}

// listProcesses lists the live processes, zombies left out.
func listProcesses() []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var procs []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, state, ok := readStat(pid); ok && state != 'Z' {
			procs = append(procs, p)
		}
	}
	return procs
}

// readStat reads a process's group, start time and state from
// /proc/PID/stat. The command name may hold spaces and parentheses, so
// fields are counted from the last ')'.
func readStat(pid int) (p proc, state byte, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, 0, false
	}
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return proc{}, 0, false
	}
	// state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	// cmajflt utime stime cutime cstime priority nice num_threads
	// itrealvalue starttime ...
	fields := bytes.Fields(data[end+1:])
	if len(fields) < 20 || len(fields[0]) == 0 {
		return proc{}, 0, false
	}
	pgid, err1 := strconv.Atoi(string(fields[2]))
	started, err2 := strconv.ParseUint(string(fields[19]), 10, 64)
	if err1 != nil || err2 != nil {
		return proc{}, 0, false
	}
	return proc{pid: pid, pgid: pgid, started: started}, fields[0][0], true
}

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

// killTree kills the process group pgid and every process whose environment
// carries the exec marker, and sweeps again until none is left. It uses no
// new process, so it works when the pids limit is exhausted.
func killTree(pgid int, execID string) {
	self, selfGroup := os.Getpid(), syscall.Getpgrp()
	marker := []byte(MarkerEnv + "=" + execID + "\x00")
	deadline := time.Now().Add(killTreeLimit)
	for {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		left := findTree(pgid, marker)
		if len(left) == 0 || time.Now().After(deadline) {
			return
		}
		for _, p := range left {
			if p.pid == self || p.pid == 1 {
				continue
			}
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
			if p.pgid > 1 && p.pgid != selfGroup {
				_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
			}
		}
		// Let the kernel deliver the signals before looking again.
		time.Sleep(5 * time.Millisecond)
	}
}

type proc struct{ pid, pgid int }

// findTree lists the live processes in group pgid or carrying the marker.
func findTree(pgid int, marker []byte) []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var found []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		group, state, ok := readStat(pid)
		if !ok || state == 'Z' {
			continue
		}
		if group == pgid || hasMarker(pid, marker) {
			found = append(found, proc{pid: pid, pgid: group})
		}
	}
	return found
}

// readStat returns the process group and state from /proc/PID/stat. The
// command name may hold spaces and parentheses, so fields are counted from
// the last ')'.
func readStat(pid int) (pgid int, state byte, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return 0, 0, false
	}
	fields := bytes.Fields(data[end+1:]) // state ppid pgrp ...
	if len(fields) < 3 || len(fields[0]) == 0 {
		return 0, 0, false
	}
	pgid, err = strconv.Atoi(string(fields[2]))
	return pgid, fields[0][0], err == nil
}

func hasMarker(pid int, marker []byte) bool {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	return bytes.HasPrefix(env, marker) || bytes.Contains(env, append([]byte{0}, marker...))
}

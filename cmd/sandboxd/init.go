package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// runInit is the sandbox's PID 1. It starts sandboxd as its child with the
// protocol's streams, lets go of them itself, and reaps every process the
// sandbox orphans until that child ends, then ends as it did.
//
// docker-init did the reaping before, but kept the streams open as a
// dumpable process of the sandbox's user: any process in the sandbox
// could open /proc/1/fd/0 and read the bot's requests, secrets included,
// or write frames of its own. This init is undumpable too (main made it
// so), and holds no stream.
func runInit() int {
	// Asked for before the child starts, so that no SIGCHLD is missed.
	signals := make(chan os.Signal, 32)
	signal.Notify(signals, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	child, err := os.StartProcess("/proc/self/exe", []string{os.Args[0], initChild}, &os.ProcAttr{
		Env:   os.Environ(),
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandboxd: start:", err)
		return 1
	}
	// The child's copies are the streams' only readers and writers now,
	// and the bot sees them end when the child does.
	os.Stdin.Close()
	os.Stdout.Close()
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			_ = child.Signal(sig) // PID 1 gets the stop signals meant for the sandbox
			continue
		}
		// Signals coalesce: one SIGCHLD may stand for many ended children.
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			if pid == child.Pid {
				return exitCode(status)
			}
		}
	}
	return 1
}

// initChild is the argument runInit starts the serving sandboxd with.
const initChild = "serve-under-init"

// exitCode is the status a shell would give for how a process ended.
func exitCode(s syscall.WaitStatus) int {
	if s.Signaled() {
		return 128 + int(s.Signal())
	}
	return s.ExitStatus()
}

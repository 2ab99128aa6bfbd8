// Command sandboxd is the main process of every sandbox container: PID 1,
// which starts a second sandboxd to serve the bot over its stdin and
// stdout (see package sandbox/sandboxd) and reaps orphans (see runInit).
//
// It must be built static (CGO_ENABLED=0): it runs in images whose C library
// the bot knows nothing about. images/build does this.
package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/oneshot-dev/oneshot/sandbox/protocol"
	"github.com/oneshot-dev/oneshot/sandbox/sandboxd"
)

// spareThreads is how many OS threads sandboxd creates as it starts. Under a
// fork bomb the pids limit leaves no room for new threads, yet sandboxd must
// keep reading its streams and kill the bomb; the Go runtime keeps idle
// threads, so creating them early reserves them. It happens in the
// background so that it does not delay the session's first exec.
const spareThreads = 16

func main() {
	// images/build asks which protocol to put in the image's label.
	if len(os.Args) == 2 && os.Args[1] == "protocol" {
		fmt.Println(protocol.Version)
		return
	}
	// Everything in the sandbox runs as sandboxd's user, and a process may
	// read the /proc files of another of its user: sandboxd's stdin and
	// stdout, which carry every exec's secrets, and its memory. Undumpable,
	// those files belong to root and stay shut. The processes sandboxd
	// starts are dumpable again: execve resets the flag.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0); errno != 0 {
		fmt.Fprintln(os.Stderr, "sandboxd: make undumpable:", errno)
		os.Exit(1)
	}
	if os.Getpid() == 1 {
		os.Exit(runInit())
	}
	go reserveThreads(spareThreads)
	// Under the sandbox's init, every process but init is the sandbox's,
	// and the server may stop them all while it kills a tree, and take one
	// init adopted for the tree's. Started any other way (by hand, on a
	// host), it must not.
	underInit := len(os.Args) == 2 && os.Args[1] == initChild && os.Getppid() == 1
	if err := sandboxd.Serve(stdio{}, os.Stderr, sandboxd.Options{StopAllWhileKilling: underInit}); err != nil {
		fmt.Fprintln(os.Stderr, "sandboxd:", err)
		os.Exit(1)
	}
}

// reserveThreads blocks n goroutines in a system call at once, which makes
// the runtime start a thread for each.
func reserveThreads(n int) {
	done := make(chan struct{})
	for range n {
		go func() {
			ts := syscall.Timespec{Nsec: 50_000_000}
			_ = syscall.Nanosleep(&ts, nil)
			done <- struct{}{}
		}()
	}
	for range n {
		<-done
	}
}

// stdio joins stdin and stdout into the one connection the bot attached to.
type stdio struct{}

func (stdio) Read(p []byte) (int, error)  { return os.Stdin.Read(p) }
func (stdio) Write(p []byte) (int, error) { return os.Stdout.Write(p) }
func (stdio) Close() error {
	os.Stdin.Close()
	return os.Stdout.Close()
}

package workspace

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAFetchFromAServerThatNeverAnswersEndsWithItsContext: git hands the
// connection to a helper (git remote-http), which held git's output open
// after git itself was killed, and the fetch, the task's cancel and its
// deadline with it, for as long as the server kept silent.
func TestAFetchFromAServerThatNeverAnswersEndsWithItsContext(t *testing.T) {
	t.Parallel()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // held open, never answered
		}
	}()
	r, err := Init(context.Background(), filepath.Join(t.TempDir(), "repo.git"))
	if err != nil {
		t.Fatal(err)
	}
	remote := "http://" + silent.Addr().String() + "/acme/widgets.git"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Fetch(ctx, remote, Auth{Token: "ghs_test"}, "+refs/heads/main:refs/oneshot/base") }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("fetch: %v, want the context's deadline", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the fetch outlived its context by a minute")
	}
	// Nothing of it is left running.
	if left := processesNaming(t, remote); len(left) > 0 {
		t.Fatalf("git processes left: %q", left)
	}
}

// processesNaming lists the command lines on this machine that hold s.
func processesNaming(t *testing.T, s string) []string {
	t.Helper()
	var found []string
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), s) {
			found = append(found, strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return found
}

func TestOnlyFailuresToReachTheRemoteAreFailuresForNow(t *testing.T) {
	for msg, want := range map[string]bool{
		"git push: error: RPC failed; HTTP 502 curl 22 The requested URL returned error: 502\nfatal: the remote end hung up unexpectedly": true,
		"git push: fatal: unable to access 'https://github.com/o/r/': The requested URL returned error: 429":                              true,
		"git fetch: fatal: unable to access 'https://github.com/o/r/': Could not resolve host: github.com":                                true,
		"git push: fatal: unable to access 'https://github.com/o/r/': Failed to connect to github.com port 443":                           true,
		"git push: error: RPC failed; HTTP 403 curl 22 The requested URL returned error: 403\nfatal: the remote end hung up unexpectedly": false,
		"git push: remote: Repository not found.\nfatal: repository 'https://github.com/o/r/' not found":                                  false,
		"git push: ! [remote rejected] HEAD -> oneshot/issue-1 (pre-receive hook declined)":                                               false,
		"git push: ! [rejected] HEAD -> oneshot/issue-1 (stale info)":                                                                     false,
	} {
		if got := FailedForNow(errors.New(msg)); got != want {
			t.Errorf("FailedForNow(%q) = %v, want %v", msg, got, want)
		}
	}
}

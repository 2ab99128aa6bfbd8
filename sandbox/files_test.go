package sandbox_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func TestFilesRoundTripLargeBinaryContentsIntact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())
	ctx := context.Background()

	// Random bytes, plus every byte value, including Docker's detach keys
	// (ctrl-p, ctrl-q), which must not end the attach stream.
	data := make([]byte, 20<<20)
	_, _ = rand.Read(data)
	for i := range 256 {
		data[i] = byte(i)
	}
	if err := s.WriteFile(ctx, "deep/dir/blob.bin", bytes.NewReader(data), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	out := mustSucceed(t, s, "sha256sum /sandbox/deep/dir/blob.bin; stat -c %a /sandbox/deep/dir/blob.bin")
	if got := lines(out); len(got) != 2 || !strings.HasPrefix(got[0], hex.EncodeToString(sum[:])) || got[1] != "600" {
		t.Fatalf("inside the sandbox: %q", out)
	}
	back, err := s.ReadFile(ctx, "/sandbox/deep/dir/blob.bin")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, data) {
		t.Fatalf("read back %d bytes that differ from the %d written", len(back), len(data))
	}
}

func TestWrittenScriptRunsWithItsMode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())
	err := s.WriteFile(context.Background(), "bin/hello", strings.NewReader("#!/bin/sh\necho hello from a file\n"), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if out := mustSucceed(t, s, "/sandbox/bin/hello"); out != "hello from a file\n" {
		t.Fatalf("got %q", out)
	}
}

func TestFilePathsOutsideTheWorkAreaAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())
	ctx := context.Background()
	for _, p := range []string{"/etc/passwd", "../etc/passwd", "/sandbox", "/sandbox/../etc/passwd", "/sandboxed/x"} {
		if err := s.WriteFile(ctx, p, strings.NewReader("x"), 0); err == nil {
			t.Errorf("WriteFile(%q) succeeded", p)
		}
		if _, err := s.ReadFile(ctx, p); err == nil {
			t.Errorf("ReadFile(%q) succeeded", p)
		}
	}
	if _, err := s.ReadFile(ctx, "missing.txt"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("reading a missing file: %v", err)
	}
}

func TestOnlyRegularFilesAreRead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A FIFO with no writer would hang the read; a link to sandboxd's own
	// stdin (the parent of every exec) would read the protocol.
	mustSucceed(t, s, "mkfifo /sandbox/fifo && mkdir /sandbox/dir && ln -s /proc/$PPID/fd/0 /sandbox/sandboxd-stdin")
	for _, p := range []string{"/sandbox/fifo", "/sandbox/sandboxd-stdin", "/sandbox/dir"} {
		if _, err := s.ReadFile(ctx, p); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("ReadFile(%q): %v", p, err)
		}
	}
	if out := mustSucceed(t, s, "echo still here"); out != "still here\n" {
		t.Fatalf("the session broke: %q", out)
	}
}

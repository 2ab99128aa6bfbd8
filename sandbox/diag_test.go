package sandbox

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/pkg/stdcopy"
)

// TestWhatSandboxdSaysIsMaskedBeforeItIsCut: sandboxd's stderr explains a
// lost session, and the commands in the sandbox, under the same user, may
// be able to write there. It is kept as a head and a tail; a secret cut
// in two there, masked after, would show both halves.
func TestWhatSandboxdSaysIsMaskedBeforeItIsCut(t *testing.T) {
	const secret = "ghp_SuperSecretToken123"
	s := &Session{masker: newMasker(map[string]string{"T": secret}), diag: NewOutputBuffer(diagnosticsSize),
		ending: make(chan struct{})}
	// A copy of the secret ends at the head's last byte, and another
	// starts one byte before the tail.
	head, tail := diagnosticsSize/2, diagnosticsSize/2
	said := strings.Repeat("h", head-len(secret)+3) + secret + strings.Repeat("f", 3*diagnosticsSize) +
		secret + strings.Repeat("t", tail-2)
	var stream bytes.Buffer
	stderr := stdcopy.NewStdWriter(&stream, stdcopy.Stderr)
	for chunk := range chunks(said, 4096) {
		stderr.Write([]byte(chunk))
	}
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	s.attach = types.HijackedResponse{Reader: bufio.NewReader(&stream), Conn: client}
	conn := s.protocolConn()
	io.Copy(io.Discard, conn) // until the attach stream ends
	s.wg.Wait()

	msg := s.lost("exec", io.EOF).Error()
	for _, part := range []string{secret[:8], secret[len(secret)-8:]} {
		if strings.Contains(msg, part) {
			t.Fatalf("the error shows %q of the secret: %.300s", part, msg)
		}
	}
	if !strings.Contains(msg, Mask) {
		t.Fatalf("the error shows no masked secret: %.300s", msg)
	}
}

// chunks cuts s into pieces of n bytes.
func chunks(s string, n int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

package sandboxd

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/sandbox/protocol"
)

func TestAWriteThatFailsEarlyReadsTheRestAndSaysWhy(t *testing.T) {
	t.Parallel()
	// The file's parent is a file, so the write fails before any data
	// arrives. The bot sends the whole file before it reads the answer;
	// pipes, like a stream whose window is full, hold nothing unread.
	dir := t.TempDir()
	parent := filepath.Join(dir, "file")
	if err := os.WriteFile(parent, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	toBot, fromDaemon := io.Pipe()
	toDaemon, fromBot := io.Pipe()
	go writeFile(struct {
		io.Reader
		io.Writer
	}{toDaemon, fromDaemon}, &protocol.FileRequest{Path: filepath.Join(parent, "x.txt")})

	sent := make(chan error, 1)
	go func() {
		chunk := make([]byte, protocol.ChunkSize)
		for range (2 << 20) / protocol.ChunkSize {
			if err := protocol.WriteFrame(fromBot, protocol.FrameData, chunk); err != nil {
				sent <- err
				return
			}
		}
		sent <- protocol.WriteFrame(fromBot, protocol.FrameEnd, nil)
	}()
	select {
	case err := <-sent:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the rest of the file was not read after the write failed")
	}
	typ, payload, err := protocol.ReadFrame(toBot)
	if err != nil || typ != protocol.FrameError || !strings.Contains(string(payload), "not a directory") {
		t.Fatalf("answer: frame %d %q, %v", typ, payload, err)
	}
}

package sandboxd

import (
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/oneshot-dev/oneshot/sandbox/protocol"
)

func TestAnExecOnlyCancelledIsNotRunning(t *testing.T) {
	var s Server
	s.running.Store("ended", cancelled{})
	s.running.Store("live", func(string) {})
	for id, want := range map[string]bool{"ended": false, "live": true, "unknown": false} {
		if got := s.execRunning(id); got != want {
			t.Errorf("execRunning(%q) = %v, want %v", id, got, want)
		}
	}
}

// A read the bot gave up on (its caller's context ended) is cut off, and
// sandboxd lets the file go, rather than wait minutes for room to send the
// rest in.
func TestAReadTheBotStoppedReadingEnds(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(path, make([]byte, 10<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	botEnd, daemonEnd := net.Pipe()
	bot, err := yamux.Client(botEnd, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bot.Close()
	daemon, err := yamux.Server(daemonEnd, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer daemon.Close()
	s := &Server{mux: daemon, log: log.New(io.Discard, "", 0)}
	handled := make(chan struct{})
	go func() {
		stream, err := daemon.AcceptStream()
		if err == nil {
			s.handle(stream)
		}
		close(handled)
	}()

	stream, err := bot.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := protocol.WriteJSON(stream, protocol.FrameRequest, protocol.Request{Op: protocol.OpReadFile, File: &protocol.FileRequest{Path: path}}); err != nil {
		t.Fatal(err)
	}
	if typ, _, err := protocol.ReadFrame(stream); err != nil || typ != protocol.FrameData {
		t.Fatalf("first frame %d, %v", typ, err)
	}
	stream.Close()
	select {
	case <-handled:
	case <-time.After(30 * time.Second):
		t.Fatal("sandboxd still sends a file the bot stopped reading")
	}
}

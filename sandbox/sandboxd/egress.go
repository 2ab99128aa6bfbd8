package sandboxd

import (
	"errors"
	"io"
	"net"
	"time"

	"github.com/oneshot-dev/oneshot/sandbox/protocol"
)

// serveEgress accepts connections on the in-container proxy address and
// carries each one to the bot, whose proxy decides where it may go. The
// container itself has no network: this is its only way out.
//
// An accept that fails (sandboxd out of files while a build holds many
// connections open) is tried again after a pause, as net/http's server
// does: given up, egress would end for the rest of the session, with
// connections left waiting unanswered.
func (s *Server) serveEgress(ln net.Listener) {
	var pause time.Duration
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			s.log.Printf("egress: accept: %v; trying again in %v", err, pause)
			time.Sleep(pause)
			continue
		}
		pause = 0
		go s.forward(conn)
	}
}

func (s *Server) forward(conn net.Conn) {
	defer conn.Close()
	stream, err := s.mux.OpenStream()
	if err != nil {
		s.log.Printf("egress: open stream: %v", err)
		return
	}
	defer stream.Close()
	if err := protocol.WriteJSON(stream, protocol.FrameRequest, protocol.Request{Op: protocol.OpEgress}); err != nil {
		return
	}
	// When either direction ends, the connection is over: proxy clients do
	// not rely on half-closed connections.
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(stream, conn); done <- struct{}{} }()
	go func() { _, _ = io.Copy(conn, stream); done <- struct{}{} }()
	<-done
}

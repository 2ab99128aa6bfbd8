package sandboxd

import (
	"errors"
	"io"
	"log"
	"net"
	"sync/atomic"
	"testing"
)

// failingListener fails its first accept, as one out of files does, and
// then reports itself closed.
type failingListener struct {
	net.Listener
	accepts atomic.Int32
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.accepts.Add(1) == 1 {
		return nil, errors.New("accept4: too many open files")
	}
	return nil, net.ErrClosed
}

// An accept that fails is tried again: given up, egress would end for the
// rest of the session. Only a closed listener ends it.
func TestEgressGoesOnAcceptingAfterAFailedAccept(t *testing.T) {
	s := &Server{log: log.New(io.Discard, "", 0)}
	ln := &failingListener{}
	s.serveEgress(ln)
	if n := ln.accepts.Load(); n != 2 {
		t.Fatalf("%d accepts, want the failed one tried again", n)
	}
}

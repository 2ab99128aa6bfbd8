// Package sandboxd is the server that runs as the main process of a sandbox
// container. It speaks package protocol with the bot over its stdin and stdout
// and runs processes, moves files and forwards egress on the bot's behalf.
//
// sandboxd runs as the same unprivileged user as the code it runs, so it
// trusts nothing more than that user could do anyway: it enforces no policy,
// only mechanics (process trees, timeouts, framing). Policy (masking, output
// caps, the egress allow-list) lives in the bot, outside the container.
package sandboxd

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/oneshot-dev/oneshot/sandbox/protocol"
)

// Server serves the streams of one sandbox session.
type Server struct {
	mux *yamux.Session
	log *log.Logger

	helloOnce sync.Once
	helloErr  error
	egress    net.Listener

	// running maps the ID of each running exec to the function that kills
	// it, or to cancelled{}.
	running sync.Map
	// execs holds the PID of each running exec's first process.
	execs sync.Map
	// starting is held for reading while an exec starts its process and
	// for writing while a tree is killed; see Server.killTree.
	starting sync.RWMutex
	// stopAll is Options.StopAllWhileKilling.
	stopAll bool
}

// Options are how a Server may act on the processes around it.
type Options struct {
	// StopAllWhileKilling has the server stop every process it may signal
	// while it kills an exec's tree (see Server.killTree), and take a
	// process that started since the exec began and has no ancestry left
	// for the exec's (see tree.before). Set it only where every such
	// process is the sandbox's: under the sandbox's own init, in the
	// container's PID namespace. Elsewhere it would stop every process of
	// the server's user, and kill those that init adopted meanwhile.
	StopAllWhileKilling bool
}

// Serve runs a server over conn until the bot closes it.
func Serve(conn io.ReadWriteCloser, logOutput io.Writer, opts Options) error {
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = logOutput
	mux, err := yamux.Server(conn, cfg)
	if err != nil {
		return fmt.Errorf("start yamux: %w", err)
	}
	s := &Server{mux: mux, log: log.New(logOutput, "sandboxd: ", 0), stopAll: opts.StopAllWhileKilling}
	defer s.close()
	for {
		stream, err := mux.AcceptStream()
		if err != nil {
			if mux.IsClosed() || errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("accept stream: %w", err)
		}
		go s.handle(stream)
	}
}

func (s *Server) close() {
	if s.egress != nil {
		s.egress.Close()
	}
	s.mux.Close()
}

func (s *Server) handle(stream *yamux.Stream) {
	defer stream.Close()
	req, err := protocol.ReadRequest(stream)
	if err != nil {
		s.log.Printf("bad request: %v", err)
		return
	}
	switch {
	case req.Op == protocol.OpHello && req.Hello != nil:
		s.hello(stream, req.Hello)
	case req.Op == protocol.OpExec && req.Exec != nil:
		s.runExec(stream, req.Exec)
	case req.Op == protocol.OpCancel:
		s.cancel(stream, req.Cancel)
	case req.Op == protocol.OpWriteFile && req.File != nil:
		writeFile(stream, req.File)
	case req.Op == protocol.OpReadFile && req.File != nil:
		// The bot sends nothing after its request: its end of the stream
		// closing means it stopped reading, and the file's frames, which
		// would wait minutes for room it no longer makes, are cut off.
		go func() {
			_, _ = io.Copy(io.Discard, stream)
			_ = stream.SetWriteDeadline(time.Now())
		}()
		readFile(stream, req.File)
	default:
		sendError(stream, fmt.Errorf("unknown or incomplete request %q", req.Op))
	}
}

// hello applies the session settings once and answers with the protocol
// version.
func (s *Server) hello(stream *yamux.Stream, req *protocol.HelloRequest) {
	s.helloOnce.Do(func() { s.helloErr = s.applySettings(req) })
	if s.helloErr != nil {
		sendError(stream, s.helloErr)
		return
	}
	_ = protocol.WriteJSON(stream, protocol.FrameHello, protocol.Hello{Version: protocol.Version})
}

func (s *Server) applySettings(req *protocol.HelloRequest) error {
	if req.Home != "" {
		if err := os.MkdirAll(req.Home, 0o755); err != nil {
			return fmt.Errorf("create home: %w", err)
		}
	}
	if req.EgressListen != "" {
		ln, err := net.Listen("tcp", req.EgressListen)
		if err != nil {
			return fmt.Errorf("listen for egress: %w", err)
		}
		s.egress = ln
		go s.serveEgress(ln)
	}
	return nil
}

// cancelled stands in s.running for an exec cancelled before it started:
// the cancel travels on its own stream and may overtake the exec. A cancel
// that came after its exec ended leaves one too.
type cancelled struct{}

// execRunning says whether the exec of id runs: a process carrying its
// marker is that exec's to kill, not another's. An ID only cancelled is
// not running: a process in the sandbox could name one it learnt (its own
// exec's, once that ended) to be spared by every exec's end.
func (s *Server) execRunning(id string) bool {
	v, ok := s.running.Load(id)
	if !ok {
		return false
	}
	_, isKill := v.(func(string))
	return isKill
}

// cancel kills a running exec, or keeps it from starting. An exec that
// already ended is not an error: the cancel lost a race.
func (s *Server) cancel(stream *yamux.Stream, id string) {
	if v, running := s.running.LoadOrStore(id, cancelled{}); running {
		if kill, ok := v.(func(string)); ok {
			kill("cancelled")
		}
	}
	_ = protocol.WriteFrame(stream, protocol.FrameEnd, nil)
}

func sendError(w io.Writer, err error) {
	_ = protocol.WriteFrame(w, protocol.FrameError, []byte(err.Error()))
}

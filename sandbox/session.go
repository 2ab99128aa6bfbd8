package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/hashicorp/yamux"

	"github.com/oneshot-dev/oneshot/sandbox/protocol"
)

// Reasons a session ended; Exec and the file calls return them afterwards.
var (
	ErrClosed   = errors.New("sandbox session closed")
	ErrDeadline = errors.New("sandbox session deadline passed")
	// ErrUnresponsive ends a session whose sandboxd stopped answering: a
	// command outlived its timeout, which sandboxd keeps, or the
	// connection to it died. A process of the sandbox may have stopped
	// it (it runs as the same user), and the session cannot go on.
	ErrUnresponsive = errors.New("sandboxd stopped answering (a command outlived its timeout, or the connection died), so the sandbox was removed")
	// ErrProcessesLost ends a session whose sandboxd could not tell which
	// processes a command left, to stop them: a process of the sandbox
	// can lower sandboxd's limits (it runs as the same user), and what it
	// left would live on into later steps, to read their secrets or change
	// the code after the checks.
	ErrProcessesLost = errors.New("sandboxd could not find the processes a command left, to stop them (a process in the sandbox tampered with it), so the sandbox was removed")
)

const (
	// removeTimeout bounds the removal of a container, which runs on a
	// context of its own because the caller's may be the reason for it.
	removeTimeout = 30 * time.Second
	// createTimeout bounds the making of a container, which does not
	// end with the caller's context (see Engine.create).
	createTimeout = 30 * time.Second
	// diagnosticsSize is how much of sandboxd's own stderr is kept for
	// error messages.
	diagnosticsSize = 16 << 10
	// helloTimeout bounds the wait for sandboxd's first answer, so an
	// image whose main process is not sandboxd fails instead of hanging.
	helloTimeout = 30 * time.Second
)

// Session is one running sandbox container. Its methods may be called from
// several goroutines at once.
type Session struct {
	engine   *Engine
	id       string
	masker   *masker
	secrets  map[string]string
	deadline time.Time

	attach types.HijackedResponse
	mux    *yamux.Session
	egress *egressProxy // nil unless the network mode is filtered

	diagMu sync.Mutex
	diag   *OutputBuffer // sandboxd's stderr

	ending    chan struct{} // closed when the session starts ending
	gone      chan struct{} // closed when the container is removed
	why       error         // why it ended; set before ending is closed
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup // the session's own goroutines

	// stops cancels the deadline timer and the watch on the caller's
	// context; the timer may fire while Start still sets them.
	stopsMu sync.Mutex
	stops   []func() bool
}

// Start creates and starts a session. The session lives until Close, until
// its deadline, or until ctx ends, whichever comes first; each of them
// removes the container. On error nothing is left behind.
func (e *Engine) Start(ctx context.Context, spec Spec) (_ *Session, err error) {
	lim, err := spec.validate()
	if err != nil {
		return nil, fmt.Errorf("invalid sandbox spec: %w", err)
	}
	cpus, err := e.checkEngine(ctx)
	if err != nil {
		return nil, err
	}
	// Docker refuses a container more CPUs than the engine has, which
	// would leave a one-CPU machine running no session at all. More
	// than it has is all it has.
	if cpus > 0 {
		lim.nanoCPUs = min(lim.nanoCPUs, int64(cpus)*1e9)
	}
	volumes, err := e.checkImage(ctx, spec.Image)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(lim.deadline)
	labels := map[string]string{LabelApp: appName, LabelOwner: e.owner, LabelTask: spec.TaskID,
		LabelDeadline: strconv.FormatInt(deadline.Unix()+1, 10)} // rounded up
	cfg, host := containerConfig(spec, lim, labels, volumes)
	name := containerName(spec.TaskID)
	id, err := e.create(ctx, cfg, host, name)
	if err != nil {
		return nil, err
	}
	s := &Session{
		engine:   e,
		id:       id,
		masker:   newMasker(spec.Secrets),
		secrets:  spec.Secrets,
		deadline: deadline,
		diag:     NewOutputBuffer(diagnosticsSize),
		ending:   make(chan struct{}),
		gone:     make(chan struct{}),
	}
	defer func() {
		if err != nil {
			s.end(err)
		}
	}()

	// Attach before start, so that nothing sandboxd writes is missed.
	s.attach, err = e.docker.ContainerAttach(ctx, s.id, container.AttachOptions{
		Stream: true, Stdin: true, Stdout: true, Stderr: true,
	})
	if err != nil {
		return nil, fmt.Errorf("attach to sandbox: %w", err)
	}
	conn := s.protocolConn()
	if err := e.docker.ContainerStart(ctx, s.id, container.StartOptions{}); err != nil {
		return nil, fmt.Errorf("start sandbox container: %w", err)
	}
	muxConfig := yamux.DefaultConfig()
	muxConfig.LogOutput = io.Discard
	if s.mux, err = yamux.Client(conn, muxConfig); err != nil {
		return nil, fmt.Errorf("sandbox protocol: %w", err)
	}

	hello := protocol.HelloRequest{Home: HomeDir}
	if lim.network == NetworkFiltered {
		s.egress = newEgressProxy(lim, s.masker)
		hello.EgressListen = ProxyAddr
	}
	s.wg.Add(1)
	go s.acceptStreams()
	if err := s.hello(ctx, hello); err != nil {
		return nil, s.masker.maskError(err)
	}

	s.stopsMu.Lock()
	defer s.stopsMu.Unlock()
	// The connection may have died since the hello, and the session ended
	// with no stops to call: those set now would outlive it.
	if why := s.ended(); why != nil {
		return nil, fmt.Errorf("start sandbox: %w", why)
	}
	// The deadline counts from before the container was made, as its
	// label says, not from now, which start-up would have put later.
	s.stops = append(s.stops,
		time.AfterFunc(time.Until(s.deadline), func() { s.end(ErrDeadline) }).Stop,
		context.AfterFunc(ctx, func() { s.end(context.Cause(ctx)) }))
	return s, nil
}

// create makes the session's container, whole or not at all. Docker goes
// on making a container whose answer the bot stopped waiting for, after a
// removal sent meanwhile found nothing to remove, and it would be left:
// so ctx, a cancel say, does not cut the request short, only createTimeout
// does, and is looked at once the container is made.
func (e *Engine) create(ctx context.Context, cfg *container.Config, host *container.HostConfig, name string) (string, error) {
	creating, cancel := context.WithTimeout(context.WithoutCancel(ctx), createTimeout)
	defer cancel()
	created, err := e.docker.ContainerCreate(creating, cfg, host, nil, nil, name)
	if err == nil && ctx.Err() == nil {
		return created.ID, nil
	}
	if err == nil {
		err = context.Cause(ctx)
	}
	// Made, or perhaps made, for a request that timed out.
	removing, cancelRemove := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
	defer cancelRemove()
	_ = e.remove(removing, name) // or left to ReapEnded
	return "", fmt.Errorf("create sandbox container: %w", err)
}

// ID is the container's ID.
func (s *Session) ID() string { return s.id }

// Deadline is when the session ends at the latest.
func (s *Session) Deadline() time.Time { return s.deadline }

// Close removes the container, whatever runs in it. It is safe to call more
// than once and after the session ended on its own.
func (s *Session) Close() error { return s.end(ErrClosed) }

// Done is closed once the session has ended and its container is removed.
func (s *Session) Done() <-chan struct{} { return s.gone }

// end tears the session down once, recording why.
func (s *Session) end(why error) error {
	s.closeOnce.Do(func() {
		s.why = why
		close(s.ending)
		s.stopsMu.Lock()
		for _, stop := range s.stops {
			stop()
		}
		s.stopsMu.Unlock()
		if s.mux != nil {
			s.mux.Close()
		}
		if s.attach.Conn != nil {
			s.attach.Close()
		}
		if s.egress != nil {
			s.egress.close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), removeTimeout)
		defer cancel()
		s.closeErr = s.engine.remove(ctx, s.id) // or left to ReapEnded
		s.wg.Wait()
		close(s.gone)
	})
	return s.closeErr
}

// ended returns why the session ended, or nil while it runs.
func (s *Session) ended() error {
	select {
	case <-s.ending:
		return s.why
	default:
		return nil
	}
}

// lost explains a broken stream: by the session's end when it ended, else
// by what sandboxd last said on stderr, which is where it reports a crash.
// When the session ended, it first waits for the container to be gone, so
// that a caller told "deadline passed" finds nothing left running.
func (s *Session) lost(op string, err error) error {
	if why := s.ended(); why != nil {
		<-s.gone
		return fmt.Errorf("%s: %w", op, why)
	}
	if diag := s.said(); len(diag) > 0 {
		return fmt.Errorf("%s: lost sandboxd (%v); it said: %s", op, err, diag)
	}
	return fmt.Errorf("%s: lost sandboxd: %w", op, err)
}

// unresponsive is ErrUnresponsive with what sandboxd last said on stderr,
// which is where it reports a crash.
func (s *Session) unresponsive() error {
	if diag := s.said(); len(diag) > 0 {
		return fmt.Errorf("%w; it said: %s", ErrUnresponsive, diag)
	}
	return ErrUnresponsive
}

// said is what sandboxd has written on stderr, masked, as kept.
func (s *Session) said() []byte {
	s.diagMu.Lock()
	defer s.diagMu.Unlock()
	return s.diag.Bytes()
}

// protocolConn turns the attach stream into the connection the protocol
// runs on: sandboxd's stdout is demultiplexed from its stderr, which is kept
// for diagnostics.
func (s *Session) protocolConn() io.ReadWriteCloser {
	r, w := io.Pipe()
	// Masked before it is kept: the buffer keeps a head and a tail, and a
	// cut through a secret, masked after, would leave both its halves.
	// What the stream still holds at the end, the start of what may be a
	// secret, is not kept.
	diag := s.masker.stream(func(p []byte) {
		s.diagMu.Lock()
		defer s.diagMu.Unlock()
		s.diag.Write(p)
	})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_, err := stdcopy.StdCopy(w, diag, s.attach.Reader)
		w.CloseWithError(err)
	}()
	return attachConn{r: r, hj: s.attach}
}

type attachConn struct {
	r  *io.PipeReader
	hj types.HijackedResponse
}

func (c attachConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c attachConn) Write(p []byte) (int, error) { return c.hj.Conn.Write(p) }
func (c attachConn) Close() error {
	c.r.Close()
	return c.hj.Conn.Close()
}

// hello checks that sandboxd runs and speaks our protocol, and hands it the
// session's settings.
func (s *Session) hello(ctx context.Context, req protocol.HelloRequest) error {
	ctx, cancel := context.WithTimeout(ctx, helloTimeout)
	defer cancel()
	stream, release, err := s.open(ctx, protocol.Request{Op: protocol.OpHello, Hello: &req})
	if err != nil {
		return s.lost("sandbox hello", err)
	}
	defer release()
	typ, payload, err := protocol.ReadFrame(stream)
	if err != nil {
		return s.lost("sandbox hello", err)
	}
	if typ == protocol.FrameError {
		return fmt.Errorf("sandbox hello: %s", payload)
	}
	var hello protocol.Hello
	if typ != protocol.FrameHello || json.Unmarshal(payload, &hello) != nil {
		return fmt.Errorf("sandbox hello: unexpected answer (frame type %d)", typ)
	}
	if hello.Version != protocol.Version {
		return fmt.Errorf("sandboxd speaks protocol %d, the bot %d: rebuild the image with images/build", hello.Version, protocol.Version)
	}
	return nil
}

// open opens a stream and sends its request. Until release is called, the
// end of ctx closes the stream, which unblocks whoever is reading it.
func (s *Session) open(ctx context.Context, req protocol.Request) (stream *yamux.Stream, release func(), err error) {
	if why := s.ended(); why != nil {
		return nil, nil, why
	}
	stream, err = s.mux.OpenStream()
	if err != nil {
		return nil, nil, err
	}
	if err := protocol.WriteJSON(stream, protocol.FrameRequest, req); err != nil {
		stream.Close()
		return nil, nil, err
	}
	// Close alone only half-closes a yamux stream: a read in progress would
	// wait on for sandboxd. The deadline ends it at once.
	stop := context.AfterFunc(ctx, func() {
		_ = stream.SetDeadline(time.Now())
		stream.Close()
	})
	return stream, func() {
		stop()
		stream.Close()
	}, nil
}

// acceptStreams takes the streams sandboxd opens, which are egress
// connections when the network is filtered and refused otherwise.
func (s *Session) acceptStreams() {
	defer s.wg.Done()
	for {
		stream, err := s.mux.AcceptStream()
		if err != nil {
			if s.ended() == nil {
				// The connection died under a running session; end
				// does not wait for this goroutine, which is in s.wg.
				go s.end(s.unresponsive())
			}
			return
		}
		if s.egress == nil {
			stream.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = stream.SetReadDeadline(time.Now().Add(10 * time.Second))
			req, err := protocol.ReadRequest(stream)
			_ = stream.SetReadDeadline(time.Time{})
			if err != nil || req.Op != protocol.OpEgress {
				stream.Close()
				return
			}
			s.egress.serve(stream)
		}()
	}
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// containerName makes a readable, unique container name for a task.
func containerName(taskID string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "oneshot-" + hex.EncodeToString(b[:])
	if taskID != "" {
		task := unsafeName.ReplaceAllString(taskID, "-")
		name = "oneshot-" + task[:min(len(task), 40)] + "-" + hex.EncodeToString(b[:])
	}
	return name
}

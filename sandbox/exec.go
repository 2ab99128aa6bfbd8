package sandbox

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/yamux"

	"github.com/oneshot-dev/oneshot/sandbox/protocol"
)

// cancelGrace is how long Exec waits, after asking sandboxd to kill a
// cancelled exec, for the report that the process tree is gone.
const cancelGrace = 10 * time.Second

// timeoutGrace is how long past an exec's timeout Exec waits for its exit
// before it takes sandboxd for stopped. sandboxd may rightly take a while:
// its clock starts only once no tree is being killed, which may wait out
// another exec's kill; at the timeout, its own kill sweeps the tree; and
// the exit then waits for output in flight. A kill sweeps for up to 5 s
// (sandboxd's killTreeLimit) and the output for up to 250 ms (its
// outputGrace): 10.25 s for the two kills, which this is about twice.
const timeoutGrace = 20 * time.Second

// Quote quotes a word for a Script, whatever characters it holds.
func Quote(word string) string { return "'" + strings.ReplaceAll(word, "'", `'\''`) + "'" }

// Command is one process to run in a session: Args, or a Script for bash.
type Command struct {
	// Args is the argv; Args[0] is looked up in PATH.
	Args []string
	// Script runs with bash -eo pipefail, as CI systems run steps.
	Script string
	// Dir defaults to WorkDir.
	Dir string
	// Env is added for this exec only.
	Env map[string]string
	// Secrets names the Spec.Secrets this exec gets as environment
	// variables. Other execs never see them.
	Secrets []string
	// Stdin, if set, is read until EOF; like exec.Cmd's, it should not
	// block forever, because Exec waits for the copy to end.
	Stdin io.Reader
	// Timeout kills the whole process tree when it elapses; zero leaves
	// only the session's deadline.
	Timeout time.Duration
	// Phase labels the events, as in "setup" or "verify".
	Phase string
	// OnEvent receives the masked output as it arrives, in order. It runs
	// on the reading goroutine, so it should be quick.
	OnEvent func(Event)
	// MaxOutput caps each of Result.Stdout and Result.Stderr; the default
	// is DefaultMaxOutput. Events are not capped.
	MaxOutput int
	// KillBackground kills, once the process exits, every process it
	// started that still runs, so that none of them acts after the exec
	// ended. Without it, a server started in the background runs on.
	KillBackground bool
}

// Stream names an output stream.
type Stream string

// The output streams.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// Event is a piece of an exec's output, already masked.
type Event struct {
	Phase  string
	Stream Stream
	Data   []byte
}

// Result is how an exec ended and what it printed, masked and capped.
type Result struct {
	// ExitCode is the process's status, or 128+signal when a signal ended it.
	ExitCode int
	Signal   string
	Stdout   []byte
	Stderr   []byte
	// Truncated says that Stdout or Stderr lost its middle to the cap.
	Truncated bool
	// TimedOut says Command.Timeout killed the process tree.
	TimedOut bool
	// OOMKilled says the kernel killed a process of this exec for memory.
	OOMKilled bool
	Duration  time.Duration
}

// Exec runs a command and waits for it. A non-zero exit is not an error; an
// error means the command could not run or its result is unknown. When ctx
// ends, the process tree is killed before Exec returns ctx's error.
func (s *Session) Exec(ctx context.Context, c Command) (*Result, error) {
	res, err := s.exec(ctx, c)
	return res, s.masker.maskError(err)
}

func (s *Session) exec(ctx context.Context, c Command) (*Result, error) {
	req, err := s.execRequest(c)
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("exec %s: %w", c.name(), context.Cause(ctx))
	}
	// Not ctx: its end must not close the stream, but have sandboxd kill the
	// process tree and report the exit (below).
	stream, release, err := s.open(context.Background(), protocol.Request{Op: protocol.OpExec, Exec: req})
	if err != nil {
		return nil, s.lost("exec "+c.name(), err)
	}
	started := time.Now()

	stdinDone := make(chan struct{})
	go func() {
		defer close(stdinDone)
		sendStdin(stream, c.Stdin)
	}()
	// Closing the stream first stops a copy of stdin that the process, its
	// exec over, no longer reads.
	defer func() {
		release()
		<-stdinDone
	}()

	cancelDone := make(chan struct{})
	stopCancel := context.AfterFunc(ctx, func() {
		defer close(cancelDone)
		s.cancel(req.ID)
		_ = stream.SetReadDeadline(time.Now().Add(cancelGrace))
	})
	if c.Timeout > 0 {
		// sandboxd keeps the timeout; should it not have answered by a
		// grace after, it stopped answering, and the session ends.
		backstop := time.AfterFunc(c.Timeout+timeoutGrace, func() { s.end(s.unresponsive()) })
		defer backstop.Stop()
	}
	res, answered, err := s.readExec(stream, c)
	if !stopCancel() {
		<-cancelDone
	}
	if res != nil {
		res.Duration = time.Since(started)
	}
	if ctx.Err() != nil {
		if !answered {
			// No word of the kill within its grace: sandboxd stopped
			// answering, and only the session's end kills the process
			// tree before Exec returns.
			s.end(s.unresponsive())
		}
		return res, fmt.Errorf("exec %s: %w", c.name(), context.Cause(ctx))
	}
	return res, err
}

// readExec collects an exec's frames until its exit report. answered says
// whether sandboxd answered, with the report or an error, before the
// stream failed.
func (s *Session) readExec(stream *yamux.Stream, c Command) (res *Result, answered bool, err error) {
	stdout, stderr := NewOutputBuffer(c.MaxOutput), NewOutputBuffer(c.MaxOutput)
	sink := func(name Stream, buf *OutputBuffer) *MaskStream {
		return s.masker.stream(func(p []byte) {
			buf.Write(p)
			if c.OnEvent != nil {
				c.OnEvent(Event{Phase: c.Phase, Stream: name, Data: p})
			}
		})
	}
	outMask, errMask := sink(Stdout, stdout), sink(Stderr, stderr)
	for {
		typ, payload, err := protocol.ReadFrame(stream)
		if err != nil {
			outMask.Flush()
			errMask.Flush()
			return nil, false, s.lost("exec "+c.name(), err)
		}
		switch typ {
		case protocol.FrameStdout:
			outMask.Write(payload)
		case protocol.FrameStderr:
			errMask.Write(payload)
		case protocol.FrameError:
			return nil, true, fmt.Errorf("exec %s: %s", c.name(), payload)
		case protocol.FrameExit:
			outMask.Flush()
			errMask.Flush()
			var exit protocol.Exit
			if err := json.Unmarshal(payload, &exit); err != nil {
				return nil, true, fmt.Errorf("exec %s: bad exit report: %w", c.name(), err)
			}
			if exit.SweepError != "" {
				why := fmt.Errorf("%w: %s", ErrProcessesLost, s.masker.MaskString(exit.SweepError))
				s.end(why)
				return nil, true, fmt.Errorf("exec %s: %w", c.name(), why)
			}
			if exit.StartError != "" {
				return nil, true, fmt.Errorf("exec %s: %s", c.name(), exit.StartError)
			}
			return &Result{
				ExitCode:  exit.Code,
				Signal:    exit.Signal,
				Stdout:    stdout.Bytes(),
				Stderr:    stderr.Bytes(),
				Truncated: stdout.Truncated() || stderr.Truncated(),
				TimedOut:  exit.TimedOut,
				OOMKilled: exit.OOMKilled,
			}, true, nil
		}
	}
}

// cancel asks sandboxd to kill an exec's process tree. It uses a stream of
// its own so that it never waits behind input the process does not read.
func (s *Session) cancel(execID string) {
	ctx, stop := context.WithTimeout(context.Background(), cancelGrace)
	defer stop()
	stream, release, err := s.open(ctx, protocol.Request{Op: protocol.OpCancel, Cancel: execID})
	if err != nil {
		return
	}
	defer release()
	_, _, _ = protocol.ReadFrame(stream)
}

// sendStdin copies stdin into the process and then ends its input. An error
// ends the copy early: a failing stdin ends the input as EOF would, and a
// broken stream fails the end frame too.
func sendStdin(w io.Writer, stdin io.Reader) {
	if stdin != nil {
		_, _ = io.Copy(protocol.FrameWriter(w, protocol.FrameStdin), stdin)
	}
	_ = protocol.WriteFrame(w, protocol.FrameStdinEOF, nil)
}

// execRequest checks a command and turns it into the wire request.
func (s *Session) execRequest(c Command) (*protocol.ExecRequest, error) {
	argv := c.Args
	switch {
	case len(c.Args) > 0 && c.Script != "":
		return nil, errors.New("exec: give Args or Script, not both")
	case c.Script != "":
		argv = []string{"bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", c.Script}
	case len(c.Args) == 0 || c.Args[0] == "":
		return nil, errors.New("exec: no command")
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("exec %s: negative timeout", c.name())
	}
	env := sortedEnv(c.Env)
	// The protocol is JSON, which would carry other bytes changed.
	for _, word := range slices.Concat(argv, env, []string{c.Dir}) {
		if !utf8.ValidString(word) {
			return nil, fmt.Errorf("exec %s: its command, directory or environment is not valid UTF-8", c.name())
		}
	}
	names := append([]string{}, c.Secrets...)
	sort.Strings(names)
	for _, name := range names {
		value, ok := s.secrets[name]
		if !ok {
			return nil, fmt.Errorf("exec %s: no secret named %s in the session", c.name(), name)
		}
		env = append(env, name+"="+value)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	req := &protocol.ExecRequest{
		ID:             hex.EncodeToString(id[:]),
		Argv:           argv,
		Dir:            cmp.Or(c.Dir, WorkDir),
		Env:            env,
		TimeoutMillis:  timeoutMillis(c.Timeout),
		KillBackground: c.KillBackground,
	}
	// The request goes in one frame, with room for its envelope: a larger
	// one would fail to send as if sandboxd were lost.
	if encoded, err := json.Marshal(req); err != nil || len(encoded) > protocol.MaxPayload-1024 {
		return nil, fmt.Errorf("exec %s: its command and environment take %d bytes, more than an exec takes (%d); write large input to a file", c.name(), len(encoded), protocol.MaxPayload-1024)
	}
	return req, nil
}

// timeoutMillis is d in whole milliseconds, rounded up: sandboxd takes 0
// for no timeout, which a timeout under a millisecond, left over from a
// caller's time, must not become.
func timeoutMillis(d time.Duration) int64 {
	return (d + time.Millisecond - 1).Milliseconds()
}

// name is how errors refer to the command: its program, never its
// arguments, which may hold anything.
func (c Command) name() string {
	switch {
	case c.Script != "":
		return "script"
	case len(c.Args) > 0:
		return fmt.Sprintf("%q", c.Args[0])
	default:
		return "command"
	}
}

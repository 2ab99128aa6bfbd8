// Package protocol is the wire format between the bot and sandboxd, the small
// server that runs as the main process of every sandbox container.
//
// The bot attaches to sandboxd's stdin and stdout through the Docker API and
// runs a yamux session over them. Each operation is one yamux stream. The side
// that opens a stream sends a FrameRequest first; after that both sides speak
// frames: one type byte, a big-endian uint32 length, then the payload.
//
// Going through the attach stream rather than `docker exec` is what makes an
// exec cost a fork inside the container instead of a runc invocation, and it
// lets sandboxd kill a process tree even when the pids limit is exhausted,
// because it needs no new process to do so.
package protocol

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Version is bumped whenever a change breaks compatibility between the bot
// and sandboxd, or a sandboxd of the earlier version would be unsafe to go
// on using: the bot refuses an image of another version, and says to
// rebuild it. Sandbox images carry it in the ImageLabel label. 4: sandboxd
// stops the sandbox while it sweeps an exec's tree. 5: a sweep that cannot
// read /proc says so (Exit.SweepError), where it found nothing left.
const Version = 5

// ImageLabel is the image label that says which protocol version the image's
// sandboxd speaks.
const ImageLabel = "dev.oneshot.sandboxd.protocol"

// BinaryPath is where sandbox images keep sandboxd.
const BinaryPath = "/opt/oneshot/sandboxd"

// Operations, named in Request.Op.
const (
	OpHello     = "hello"      // bot -> sandboxd: handshake and session settings
	OpExec      = "exec"       // bot -> sandboxd: run a process
	OpWriteFile = "write_file" // bot -> sandboxd: create or replace a file
	OpReadFile  = "read_file"  // bot -> sandboxd: read a file
	OpCancel    = "cancel"     // bot -> sandboxd: kill a running exec's process tree
	OpEgress    = "egress"     // sandboxd -> bot: one proxied connection from inside
)

// Frame types.
const (
	FrameRequest  byte = 1  // JSON Request; always the first frame of a stream
	FrameHello    byte = 2  // JSON Hello; the answer to OpHello
	FrameStdout   byte = 3  // process output
	FrameStderr   byte = 4  // process output
	FrameStdin    byte = 5  // process input
	FrameStdinEOF byte = 6  // no more input
	FrameExit     byte = 7  // JSON Exit; the last frame of an exec
	FrameData     byte = 8  // file contents
	FrameEnd      byte = 9  // end of file contents, or success of a write
	FrameError    byte = 10 // an error message; ends the operation
)

// MaxPayload bounds a frame's payload. Readers refuse larger frames, so a
// confused or hostile peer cannot make the other side allocate without limit.
const MaxPayload = 1 << 20

// ChunkSize is how much process output or file data a writer puts in one frame.
const ChunkSize = 32 << 10

// Request opens a stream.
type Request struct {
	Op    string        `json:"op"`
	Hello *HelloRequest `json:"hello,omitempty"`
	Exec  *ExecRequest  `json:"exec,omitempty"`
	// Cancel names the exec ID to kill, for OpCancel. A cancel travels on
	// its own stream so that it never waits behind stdin the process does
	// not read.
	Cancel string       `json:"cancel,omitempty"`
	File   *FileRequest `json:"file,omitempty"`
}

// HelloRequest carries the session settings that sandboxd applies once.
type HelloRequest struct {
	// EgressListen is the loopback address on which sandboxd accepts
	// connections for the egress proxy; empty when the network mode has none.
	EgressListen string `json:"egress_listen,omitempty"`
	// Home is created if missing, so tools that write to $HOME work.
	Home string `json:"home,omitempty"`
}

// Hello answers OpHello.
type Hello struct {
	Version int `json:"version"`
}

// ExecRequest starts a process.
type ExecRequest struct {
	// ID marks every process of this exec (in the environment) so that the
	// whole tree can be found and killed, including descendants that left
	// the process group.
	ID   string   `json:"id"`
	Argv []string `json:"argv"`
	Dir  string   `json:"dir,omitempty"`
	// Env is added to sandboxd's own environment for this process only.
	Env []string `json:"env,omitempty"`
	// TimeoutMillis kills the process tree when it elapses; 0 means no limit.
	TimeoutMillis int64 `json:"timeout_ms,omitempty"`
	// KillBackground kills the process tree when the process exits: what
	// it left running in the background goes with it.
	KillBackground bool `json:"kill_background,omitempty"`
}

// Exit ends an exec stream.
type Exit struct {
	// Code is the exit status, or 128+signal when a signal ended the process.
	Code      int    `json:"code"`
	Signal    string `json:"signal,omitempty"`
	TimedOut  bool   `json:"timed_out,omitempty"`
	OOMKilled bool   `json:"oom_killed,omitempty"`
	// StartError is set when the process could not be started at all.
	StartError string `json:"start_error,omitempty"`
	// SweepError is set when sandboxd could not tell which processes the
	// exec left, to kill them (a process in the sandbox lowered its
	// limits, say): some may live on, beyond its reach, and the session
	// cannot be trusted.
	SweepError string `json:"sweep_error,omitempty"`
}

// FileRequest reads or writes one file.
type FileRequest struct {
	Path string `json:"path"`
	// Mode applies to writes; 0 means 0644.
	Mode uint32 `json:"mode,omitempty"`
	// MaxBytes bounds a read; a larger file is an error, not a short read.
	MaxBytes int64 `json:"max_bytes,omitempty"`
}

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, typ byte, payload []byte) error {
	if len(payload) > MaxPayload {
		return fmt.Errorf("frame payload of %d bytes exceeds %d", len(payload), MaxPayload)
	}
	var header [5]byte
	header[0] = typ
	binary.BigEndian.PutUint32(header[1:], uint32(len(payload)))
	// One write per frame keeps concurrent writers that share a mutex simple,
	// and avoids a small yamux frame for the header alone.
	buf := make([]byte, 0, len(header)+len(payload))
	buf = append(append(buf, header[:]...), payload...)
	_, err := w.Write(buf)
	return err
}

// FrameWriter returns a writer that sends what is written to it as frames
// of type typ, of ChunkSize bytes at most. Each frame is one Write on w, so
// writers that share w behind a mutex do not interleave within a frame. An
// empty write sends nothing.
func FrameWriter(w io.Writer, typ byte) io.Writer {
	return &frameWriter{w: w, typ: typ}
}

type frameWriter struct {
	w   io.Writer
	typ byte
}

func (f *frameWriter) Write(p []byte) (int, error) {
	for sent := 0; sent < len(p); {
		n := min(len(p)-sent, ChunkSize)
		if err := WriteFrame(f.w, f.typ, p[sent:sent+n]); err != nil {
			return sent, err
		}
		sent += n
	}
	return len(p), nil
}

// WriteJSON writes a frame whose payload is v encoded as JSON.
func WriteJSON(w io.Writer, typ byte, v any) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return WriteFrame(w, typ, payload)
}

// ErrFrameTooLarge is returned by ReadFrame for a frame above MaxPayload.
var ErrFrameTooLarge = errors.New("frame exceeds the maximum payload")

// ReadFrame reads one frame.
func ReadFrame(r io.Reader) (typ byte, payload []byte, err error) {
	var header [5]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(header[1:])
	if n > MaxPayload {
		return 0, nil, ErrFrameTooLarge
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, fmt.Errorf("read frame payload: %w", io.ErrUnexpectedEOF)
	}
	return header[0], payload, nil
}

// ReadRequest reads the frame that opens a stream.
func ReadRequest(r io.Reader) (Request, error) {
	typ, payload, err := ReadFrame(r)
	if err != nil {
		return Request{}, err
	}
	if typ != FrameRequest {
		return Request{}, fmt.Errorf("stream opened with frame type %d, want a request", typ)
	}
	var req Request
	if err := json.Unmarshal(payload, &req); err != nil {
		return Request{}, fmt.Errorf("decode request: %w", err)
	}
	return req, nil
}

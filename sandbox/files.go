package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/oneshot-dev/oneshot/sandbox/protocol"
)

// MaxReadFile bounds ReadFile, which holds the whole file in memory.
const MaxReadFile = 64 << 20

// WriteFile creates or replaces a file under WorkDir with everything r
// gives, creating parent directories. The contents travel in the protocol's
// data frames, never on a command line, and the file appears whole or not at
// all. mode 0 means 0644.
func (s *Session) WriteFile(ctx context.Context, name string, r io.Reader, mode os.FileMode) error {
	return s.masker.maskError(s.writeFile(ctx, name, r, mode))
}

func (s *Session) writeFile(ctx context.Context, name string, r io.Reader, mode os.FileMode) error {
	p, err := workPath(name)
	if err != nil {
		return err
	}
	stream, release, err := s.open(ctx, protocol.Request{
		Op:   protocol.OpWriteFile,
		File: &protocol.FileRequest{Path: p, Mode: uint32(mode.Perm())},
	})
	if err != nil {
		return s.lost("write "+p, err)
	}
	defer release()
	buf := make([]byte, protocol.ChunkSize)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if err := protocol.WriteFrame(stream, protocol.FrameData, buf[:n]); err != nil {
				return s.lostCtx(ctx, "write "+p, err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			// Dropping the stream without an end frame discards the
			// partial file inside.
			return fmt.Errorf("write %s: read contents: %w", p, rerr)
		}
	}
	if err := protocol.WriteFrame(stream, protocol.FrameEnd, nil); err != nil {
		return s.lostCtx(ctx, "write "+p, err)
	}
	typ, payload, err := protocol.ReadFrame(stream)
	switch {
	case err != nil:
		return s.lostCtx(ctx, "write "+p, err)
	case typ == protocol.FrameError:
		return fmt.Errorf("write %s: %s", p, payload)
	case typ != protocol.FrameEnd:
		return fmt.Errorf("write %s: unexpected answer (frame type %d)", p, typ)
	}
	return nil
}

// ReadFile returns a file under WorkDir, masked like all output: a secret a
// process wrote to a file does not come out through this door either.
func (s *Session) ReadFile(ctx context.Context, name string) ([]byte, error) {
	data, err := s.readFile(ctx, name)
	return data, s.masker.maskError(err)
}

func (s *Session) readFile(ctx context.Context, name string) ([]byte, error) {
	p, err := workPath(name)
	if err != nil {
		return nil, err
	}
	stream, release, err := s.open(ctx, protocol.Request{
		Op:   protocol.OpReadFile,
		File: &protocol.FileRequest{Path: p, MaxBytes: MaxReadFile},
	})
	if err != nil {
		return nil, s.lost("read "+p, err)
	}
	defer release()
	var data bytes.Buffer
	for {
		typ, payload, err := protocol.ReadFrame(stream)
		if err != nil {
			return nil, s.lostCtx(ctx, "read "+p, err)
		}
		switch typ {
		case protocol.FrameData:
			if data.Len()+len(payload) > MaxReadFile {
				return nil, fmt.Errorf("read %s: larger than %d bytes", p, MaxReadFile)
			}
			data.Write(payload)
		case protocol.FrameEnd:
			return s.masker.Mask(data.Bytes()), nil
		case protocol.FrameError:
			return nil, fmt.Errorf("read %s: %s", p, payload)
		default:
			return nil, fmt.Errorf("read %s: unexpected frame type %d", p, typ)
		}
	}
}

// lostCtx is lost, but names the caller's context when that is what closed
// the stream.
func (s *Session) lostCtx(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, context.Cause(ctx))
	}
	return s.lost(op, err)
}

// workPath resolves name, absolute or relative to WorkDir, and refuses
// anything outside WorkDir.
func workPath(name string) (string, error) {
	if !utf8.ValidString(name) {
		// The protocol is JSON, which would name another file.
		return "", fmt.Errorf("path %q is not valid UTF-8", name)
	}
	p := name
	if !path.IsAbs(p) {
		p = path.Join(WorkDir, p)
	}
	p = path.Clean(p)
	if !strings.HasPrefix(p, WorkDir+"/") {
		return "", fmt.Errorf("path %q is not a file under %s", name, WorkDir)
	}
	return p, nil
}

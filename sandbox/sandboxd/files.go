package sandboxd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/oneshot-dev/oneshot/sandbox/protocol"
)

const defaultFileMode = 0o644

// writeFile receives data frames up to an end frame and then replaces the
// file in one rename, so a reader never sees half a file.
//
// A write that fails before the end frame still reads the frames up to it:
// the bot sends the whole file before it reads the answer, and a stream
// nobody reads stops it once its window is full, with the error unread.
func writeFile(stream io.ReadWriter, req *protocol.FileRequest) {
	if err := receiveFile(stream, req); err != nil {
		sendError(stream, err)
		return
	}
	_ = protocol.WriteFrame(stream, protocol.FrameEnd, nil)
}

func receiveFile(stream io.Reader, req *protocol.FileRequest) (err error) {
	ended := false // whether the end frame, or the stream's end, was read
	defer func() {
		if err != nil && !ended {
			discardUntilEnd(stream)
		}
	}()
	if !filepath.IsAbs(req.Path) {
		return fmt.Errorf("path %q is not absolute", req.Path)
	}
	mode := os.FileMode(req.Mode)
	if mode == 0 {
		mode = defaultFileMode
	}
	dir := filepath.Dir(req.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(req.Path)+".oneshot-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	for {
		typ, payload, err := protocol.ReadFrame(stream)
		if err != nil {
			ended = true
			return fmt.Errorf("receive %s: %w", req.Path, err)
		}
		switch typ {
		case protocol.FrameData:
			if _, err := tmp.Write(payload); err != nil {
				return err
			}
		case protocol.FrameEnd:
			ended = true
			if err := tmp.Chmod(mode); err != nil {
				return err
			}
			if err := tmp.Close(); err != nil {
				return err
			}
			return os.Rename(tmp.Name(), req.Path)
		default:
			return fmt.Errorf("unexpected frame type %d in a file write", typ)
		}
	}
}

// discardUntilEnd reads frames until an end frame or the stream's end.
func discardUntilEnd(stream io.Reader) {
	for {
		typ, _, err := protocol.ReadFrame(stream)
		if err != nil || typ == protocol.FrameEnd {
			return
		}
	}
}

// readFile sends the file in data frames and an end frame.
func readFile(stream io.Writer, req *protocol.FileRequest) {
	if err := sendFile(stream, req); err != nil {
		sendError(stream, err)
		return
	}
	_ = protocol.WriteFrame(stream, protocol.FrameEnd, nil)
}

func sendFile(stream io.Writer, req *protocol.FileRequest) error {
	// Only regular files: a FIFO would hang the read, and a link to one of
	// sandboxd's own streams would read the protocol itself. Non-blocking,
	// so that opening a FIFO does not wait for a writer.
	f, err := os.OpenFile(req.Path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", req.Path)
	}
	if req.MaxBytes > 0 && info.Size() > req.MaxBytes {
		return fmt.Errorf("%s has %d bytes, more than the %d allowed", req.Path, info.Size(), req.MaxBytes)
	}
	var sent int64
	buf := make([]byte, protocol.ChunkSize)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			sent += int64(n)
			// The size check above can be outrun by a file that grows.
			if req.MaxBytes > 0 && sent > req.MaxBytes {
				return fmt.Errorf("%s grew past the %d bytes allowed", req.Path, req.MaxBytes)
			}
			if err := protocol.WriteFrame(stream, protocol.FrameData, buf[:n]); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

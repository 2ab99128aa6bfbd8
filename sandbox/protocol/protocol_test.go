package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"testing"
)

func TestFramesRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, FrameRequest, Request{Op: OpExec, Exec: &ExecRequest{ID: "x", Argv: []string{"true"}}}); err != nil {
		t.Fatal(err)
	}
	if err := WriteFrame(&buf, FrameStdout, []byte{0, 1, 2, 0x10, 0x11}); err != nil {
		t.Fatal(err)
	}
	req, err := ReadRequest(&buf)
	if err != nil || req.Op != OpExec || req.Exec.Argv[0] != "true" {
		t.Fatalf("request %+v, err %v", req, err)
	}
	typ, payload, err := ReadFrame(&buf)
	if err != nil || typ != FrameStdout || !bytes.Equal(payload, []byte{0, 1, 2, 0x10, 0x11}) {
		t.Fatalf("frame %d %v, err %v", typ, payload, err)
	}
}

func TestOversizedFramesAreRefusedOnBothSides(t *testing.T) {
	if err := WriteFrame(io.Discard, FrameData, make([]byte, MaxPayload+1)); err == nil {
		t.Error("wrote an oversized frame")
	}
	header := []byte{FrameData, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(header[1:], MaxPayload+1)
	if _, _, err := ReadFrame(bytes.NewReader(header)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("reading an oversized frame: %v", err)
	}
}

func TestTruncatedFrameIsAnError(t *testing.T) {
	var buf bytes.Buffer
	_ = WriteFrame(&buf, FrameStdout, []byte("hello"))
	if _, _, err := ReadFrame(bytes.NewReader(buf.Bytes()[:buf.Len()-1])); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v", err)
	}
}

func TestAStreamMustOpenWithARequest(t *testing.T) {
	var buf bytes.Buffer
	_ = WriteFrame(&buf, FrameStdout, []byte("{}"))
	if _, err := ReadRequest(&buf); err == nil {
		t.Error("accepted a stream that opened with output")
	}
}

func FuzzReadRequest(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteJSON(&buf, FrameRequest, Request{Op: OpHello, Hello: &HelloRequest{Home: "/sandbox/.home"}})
	f.Add(buf.Bytes())
	f.Add([]byte{FrameRequest, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ReadRequest(bytes.NewReader(data))
	})
}

func TestFrameWriterSplitsWritesIntoChunks(t *testing.T) {
	var buf bytes.Buffer
	w := FrameWriter(&buf, FrameStdout)
	data := bytes.Repeat([]byte("0123456789"), ChunkSize/4) // 2.5 chunks
	if n, err := w.Write(data); n != len(data) || err != nil {
		t.Fatalf("wrote %d of %d bytes: %v", n, len(data), err)
	}
	if n, err := w.Write(nil); n != 0 || err != nil {
		t.Fatalf("an empty write: %d, %v", n, err)
	}
	var got []byte
	var sizes []int
	for buf.Len() > 0 {
		typ, payload, err := ReadFrame(&buf)
		if err != nil || typ != FrameStdout {
			t.Fatalf("frame type %d, err %v", typ, err)
		}
		sizes = append(sizes, len(payload))
		got = append(got, payload...)
	}
	if want := []int{ChunkSize, ChunkSize, ChunkSize / 2}; !slices.Equal(sizes, want) {
		t.Errorf("frame sizes %v, want %v", sizes, want)
	}
	if !bytes.Equal(got, data) {
		t.Error("the frames do not carry what was written")
	}
}

func TestFrameWriterReportsWhatWasSentBeforeAnError(t *testing.T) {
	w := FrameWriter(&failAfter{frames: 1}, FrameData)
	n, err := w.Write(make([]byte, 2*ChunkSize))
	if n != ChunkSize || !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("n = %d, err = %v; want %d and the writer's error", n, err, ChunkSize)
	}
}

// failAfter accepts some writes and fails the rest.
type failAfter struct{ frames int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.frames == 0 {
		return 0, io.ErrClosedPipe
	}
	f.frames--
	return len(p), nil
}

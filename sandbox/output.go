package sandbox

import "fmt"

// DefaultMaxOutput is how much of each output stream an exec keeps when the
// command does not say.
const DefaultMaxOutput = 1 << 20

// OutputBuffer keeps the head and the tail of what is written to it, up to
// a maximum, and says how much it dropped in between. The start of a log
// usually says what ran and the end says how it failed; the middle is the
// part to lose.
type OutputBuffer struct {
	max     int
	head    []byte
	tail    []byte // the last max-len(head) bytes, once head is full
	written int64
}

// NewOutputBuffer returns a buffer that keeps at most max bytes.
func NewOutputBuffer(max int) *OutputBuffer {
	if max <= 0 {
		max = DefaultMaxOutput
	}
	return &OutputBuffer{max: max}
}

// Write never fails.
func (b *OutputBuffer) Write(p []byte) (int, error) {
	n := len(p)
	b.written += int64(n)
	headMax := b.max / 2
	if room := headMax - len(b.head); room > 0 {
		k := min(room, len(p))
		b.head = append(b.head, p[:k]...)
		p = p[k:]
	}
	tailMax := b.max - headMax
	b.tail = append(b.tail, p...)
	// Trim only when the tail has doubled, so that copying stays linear.
	if len(b.tail) > 2*tailMax {
		b.tail = append(b.tail[:0], b.tail[len(b.tail)-tailMax:]...)
	}
	return n, nil
}

// Truncated reports whether anything was dropped.
func (b *OutputBuffer) Truncated() bool { return b.written > int64(b.max) }

// Written is how many bytes were written in all.
func (b *OutputBuffer) Written() int64 { return b.written }

// Bytes returns what was kept, with a line in the middle saying how much was
// dropped when something was.
func (b *OutputBuffer) Bytes() []byte {
	tailMax := b.max - b.max/2
	tail := b.tail
	if len(tail) > tailMax {
		tail = tail[len(tail)-tailMax:]
	}
	out := append([]byte{}, b.head...)
	if dropped := b.written - int64(len(b.head)) - int64(len(tail)); dropped > 0 {
		out = fmt.Appendf(out, "\n[... %d bytes truncated ...]\n", dropped)
	}
	return append(out, tail...)
}

// Tail returns at most the last n bytes of what Bytes returns.
func (b *OutputBuffer) Tail(n int) []byte {
	out := b.Bytes()
	return out[max(0, len(out)-n):]
}

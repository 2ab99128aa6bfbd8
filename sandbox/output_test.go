package sandbox

import (
	"strings"
	"testing"
)

func TestOutputBufferKeepsEverythingUnderTheCap(t *testing.T) {
	b := NewOutputBuffer(100)
	b.Write([]byte("hello "))
	b.Write([]byte("world"))
	if got := string(b.Bytes()); got != "hello world" || b.Truncated() {
		t.Fatalf("got %q, truncated %v", got, b.Truncated())
	}
}

func TestOutputBufferKeepsHeadAndTailOverTheCap(t *testing.T) {
	b := NewOutputBuffer(20)
	// Many small writes, as a process's output arrives.
	b.Write([]byte("HEAD-"))
	for range 1000 {
		b.Write([]byte("middle"))
	}
	b.Write([]byte("-TAIL"))
	got := string(b.Bytes())
	if !b.Truncated() || !strings.HasPrefix(got, "HEAD-") || !strings.HasSuffix(got, "-TAIL") {
		t.Fatalf("got %q", got)
	}
	if !strings.Contains(got, "[... 5990 bytes truncated ...]") {
		t.Fatalf("the cut does not say how much: %q", got)
	}
	if b.Written() != 6010 {
		t.Fatalf("written = %d", b.Written())
	}
}

func TestOutputBufferTailIsTheEndOfWhatItKept(t *testing.T) {
	b := NewOutputBuffer(20)
	b.Write([]byte("HEAD-" + strings.Repeat("middle", 10) + "-TAIL"))
	if got := string(b.Tail(5)); got != "-TAIL" {
		t.Fatalf("Tail(5) = %q", got)
	}
	if got, all := string(b.Tail(1000)), string(b.Bytes()); got != all {
		t.Fatalf("Tail(1000) = %q, want all of %q", got, all)
	}
}

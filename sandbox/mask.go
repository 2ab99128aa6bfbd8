package sandbox

import (
	"bytes"
	"errors"
	"sort"
)

// Mask replaces every secret in sandbox output.
const Mask = "***"

// masker knows the secrets of one session. It is immutable and shared by
// the streams of every exec.
type masker struct {
	secrets [][]byte // longest first, so an overlapping longer secret wins
}

func newMasker(secrets map[string]string) *masker {
	m := &masker{}
	seen := map[string]bool{"": true}
	for _, v := range secrets {
		for _, s := range SecretForms(v) {
			if !seen[s] {
				seen[s] = true
				m.secrets = append(m.secrets, []byte(s))
			}
		}
	}
	m.sort()
	return m
}

// sort puts the longest secrets first.
func (m *masker) sort() {
	sort.Slice(m.secrets, func(i, j int) bool { return len(m.secrets[i]) > len(m.secrets[j]) })
}

// lowered is a masker of m's secrets, each form of each in lower case, for
// text that arrives lower-cased, as host names do. Lowering the secret
// first would miss the hex of one with capitals.
func (m *masker) lowered() *masker {
	l := &masker{}
	seen := map[string]bool{}
	for _, s := range m.secrets {
		if low := bytes.ToLower(s); !seen[string(low)] {
			seen[string(low)] = true
			l.secrets = append(l.secrets, low)
		}
	}
	l.sort()
	return l
}

// Masking returns what hides secrets in text as every way out of a session
// does, for text made outside one: what the bot itself writes about what
// the agent left (file names, in a refusal, say).
func Masking(secrets map[string]string) func(string) string { return newMasker(secrets).MaskString }

// Mask returns b with every secret replaced.
func (m *masker) Mask(b []byte) []byte {
	out, _, _ := m.mask(b, 0, true)
	return out
}

// MaskString is Mask for strings, such as error messages from inside.
func (m *masker) MaskString(s string) string {
	if len(m.secrets) == 0 {
		return s
	}
	return string(m.Mask([]byte(s)))
}

// MaskStream masks text that comes in pieces and passes the result to
// emit. It holds back the end of a piece while it could be the start of a
// secret, so a secret split across pieces is still caught; Flush releases
// it. Each stream of an exec's output is one; text joined from several
// (an exec's stdout and stderr, several execs' output) needs one of its
// own, for a secret split across their ends.
type MaskStream struct {
	m       *masker
	emit    func([]byte)
	pending []byte
	covered int // leading bytes of pending inside a mask already emitted
}

// NewMaskStream returns a MaskStream that hides secrets as a session does.
func NewMaskStream(secrets map[string]string, emit func([]byte)) *MaskStream {
	return newMasker(secrets).stream(emit)
}

func (m *masker) stream(emit func([]byte)) *MaskStream {
	return &MaskStream{m: m, emit: emit}
}

func (s *MaskStream) Write(p []byte) (int, error) {
	if len(s.m.secrets) == 0 {
		s.emit(p)
		return len(p), nil
	}
	s.pending = append(s.pending, p...)
	out, held, covered := s.m.mask(s.pending, s.covered, false)
	s.pending = append(s.pending[:0], held...)
	s.covered = covered
	if len(out) > 0 {
		s.emit(out)
	}
	return len(p), nil
}

// Flush emits what was held back; call it when the stream ends.
func (s *MaskStream) Flush() {
	if len(s.pending) > 0 {
		out, _, _ := s.m.mask(s.pending, s.covered, true)
		if len(out) > 0 {
			s.emit(out)
		}
		s.pending, s.covered = nil, 0
	}
}

// mask replaces the secrets in buf, whose first covered bytes lie inside
// a mask already emitted: they are masked without a second Mask. Unless
// final, it returns separately the tail of buf from the earliest place a
// secret could start and not yet be complete, to be decided when more
// comes, and how much of that tail is covered; it never holds back more
// than the longest secret, less one byte.
//
// Every occurrence of every secret is found, and where occurrences overlap
// the whole of their span is masked once: masking only the first of two
// overlapping secrets (abcdefgh and efghijkl in abcdefghijkl) would let
// the rest of the second through.
func (m *masker) mask(buf []byte, covered int, final bool) (out, held []byte, heldCovered int) {
	spans := m.matches(buf)
	if covered > 0 {
		// The covered bytes are one span with every match that starts in
		// or right after them: several short secrets may lie in the held
		// part of a long one.
		end, i := covered, 0
		for ; i < len(spans) && spans[i].from <= end; i++ {
			end = max(end, spans[i].to)
		}
		spans = append([]span{{0, end}}, spans[i:]...)
	}
	cut := len(buf)
	if !final {
		// A secret that may still be completing (a longer one that begins
		// with a shorter one, or one that begins inside another) holds back
		// everything from where it starts. A match that reaches past that
		// is masked now, not held back with it: held back, forms printed
		// back to back, each ending with the start of another, would hold
		// back everything printed after them.
		cut -= m.prefixSuffix(buf)
	}
	out = make([]byte, 0, cut)
	pos := 0
	heldCovered = max(0, covered-cut)
	for _, sp := range spans {
		if sp.from >= cut {
			break
		}
		out = append(out, buf[pos:sp.from]...)
		if sp.from != 0 || covered == 0 {
			out = append(out, Mask...)
		}
		// A match reaching past the cut is masked now; the part of it held
		// back is covered, and masked again by nothing.
		pos = min(sp.to, cut)
		heldCovered = max(heldCovered, sp.to-cut)
	}
	out = append(out, buf[pos:cut]...)
	return out, buf[cut:], heldCovered
}

// span is a range of bytes, from inclusive, to exclusive.
type span struct{ from, to int }

// matches are the spans of buf that secrets cover, in order, overlapping
// and touching occurrences merged into one.
func (m *masker) matches(buf []byte) []span {
	var all []span
	for _, s := range m.secrets {
		for at := 0; ; at++ {
			i := bytes.Index(buf[at:], s)
			if i < 0 {
				break
			}
			at += i
			all = append(all, span{at, at + len(s)})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].from < all[j].from })
	var merged []span
	for _, sp := range all {
		if n := len(merged); n > 0 && sp.from <= merged[n-1].to {
			merged[n-1].to = max(merged[n-1].to, sp.to)
			continue
		}
		merged = append(merged, sp)
	}
	return merged
}

// prefixSuffix returns the length of the longest suffix of buf that is a
// proper prefix of some secret.
func (m *masker) prefixSuffix(buf []byte) int {
	longest := 0
	for _, s := range m.secrets {
		for k := min(len(s)-1, len(buf)); k > longest; k-- {
			if bytes.HasSuffix(buf, s[:k]) {
				longest = k
				break
			}
		}
	}
	return longest
}

// maskError masks an error's message and keeps its chain for errors.Is,
// but not for errors.As or Unwrap, which would hand back the unmasked
// errors inside.
// Every error a session method returns passes here: messages quote paths,
// commands and sandboxd's words, any of which may hold a secret.
func (m *masker) maskError(err error) error {
	if err == nil || len(m.secrets) == 0 {
		return err
	}
	msg := m.MaskString(err.Error())
	if msg == err.Error() {
		return err
	}
	return &maskedError{msg: msg, err: err}
}

type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }

// Is reports whether the masked error is target, as errors.Is would of it.
func (e *maskedError) Is(target error) bool { return errors.Is(e.err, target) }

package sandbox

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
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

// SecretForms are the texts that betray a secret's value, and that every
// way out of a session masks: the value itself, and as tools that print
// bytes by other names write it. A value with space around it (a secret
// read from a file keeps its line break) is also the value without it,
// which whatever uses it (a URL, a header) takes.
func SecretForms(value string) []string {
	forms := append(escapedForms(value), base64Forms(value)...)
	if trimmed := strings.TrimSpace(value); trimmed != value && len(trimmed) >= MinSecretLen {
		forms = append(forms, SecretForms(trimmed)...)
	}
	return forms
}

// escapedForms are a secret as itself and as the tools that print
// bytes by other names write it: hex (xxd -p, hexdump, debugging prints),
// percent-escaped (a password in a URL or a form body, as Go, Python's
// quote and JavaScript's encodeURIComponent write it), quoted in a JSON
// or Go string, as a dump of a configuration or an environment prints
// it, and quoted for a shell (export -p, declare -p, printf %q). A secret
// of several lines is also each of its lines, as output reformatted with
// other line ends or indentation holds it.
func escapedForms(secret string) []string {
	h := hex.EncodeToString([]byte(secret))
	json := unquoted(jsonString(secret, true))
	forms := []string{secret, h, strings.ToUpper(h), url.QueryEscape(secret), url.PathEscape(secret),
		percentEncoded(secret, "/"), percentEncoded(secret, ""), percentEncoded(secret, "!*'()"),
		unquoted(strconv.Quote(secret)), json, unquoted(jsonString(secret, false)), strings.ReplaceAll(json, "/", `\/`),
		backslashed(secret, "$\"\\`"), backslashed(secret, shellSpecial)}
	if strings.Contains(secret, "\n") {
		for line := range strings.Lines(secret) {
			forms = append(forms, keyMaterialOf(line)...)
		}
	}
	return forms
}

// keyMaterialOf is what is key material in a line of a secret: the line,
// or its value after a name ("token: eyJ...", "_authToken=...", a JSON
// string's "private_key": "-----BEGIN ...\nMIIE...\n"), each part
// between escaped line breaks. The name may hold a colon of its own, as
// .npmrc's "//registry.npmjs.org/:_authToken=..." does: what follows each
// colon and equals sign is a value.
func keyMaterialOf(line string) []string {
	line = strings.TrimSpace(line)
	candidates := []string{line}
	for i, c := range line {
		if c == ':' || c == '=' {
			value := strings.Trim(strings.TrimSpace(line[i+1:]), `",' `)
			candidates = append(candidates, strings.Split(value, `\n`)...)
		}
	}
	var out []string
	for _, c := range candidates {
		if c = strings.TrimSpace(c); isKeyMaterial(c) {
			out = append(out, c)
		}
	}
	return out
}

// minLineForm is the shortest line of a secret of several lines that is
// masked on its own: shorter lines would mask ordinary output.
const minLineForm = 16

// isKeyMaterial reports whether a part of a secret is encoded key
// material, as a PEM block's body lines and a token are: of base64's,
// hex's or a JWT's characters, and random-looking, with upper and lower
// case letters and digits, or hex of 32 digits or more. Other parts, a PEM
// block's armour, a JSON credential's "type": "service_account" or a
// host name, are in every secret of the kind and in ordinary files, and
// betray nothing.
func isKeyMaterial(s string) bool {
	if len(s) < minLineForm {
		return false
	}
	var upper, lower, digit, other bool
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z':
			lower = true
		case 'A' <= c && c <= 'Z':
			upper = true
		case '0' <= c && c <= '9':
			digit = true
		case strings.ContainsRune("+/=_-.", c):
		default:
			other = true
		}
	}
	if other {
		return false
	}
	_, hexErr := hex.DecodeString(s)
	return upper && lower && digit || hexErr == nil && len(s) >= 32
}

// jsonString is s as a JSON string, with <, > and & escaped as
// encoding/json does by default, or as they are.
func jsonString(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// percentEncoded is s with every byte but ASCII letters, digits, "-._~"
// and those in keep written as %XX.
func percentEncoded(s, keep string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~"+keep, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// shellSpecial are the bytes bash's printf %q puts a backslash before.
const shellSpecial = " \t'\"\\|&;()<>!{}*[?]^$`,"

// backslashed is s with a backslash before each byte in special.
func backslashed(s, special string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if strings.IndexByte(special, c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// unquoted is a quoted string without its quotes: a secret is masked
// wherever it stands, in a string or not.
func unquoted(s string) string { return s[1 : len(s)-1] }

// minBase64Form is the shortest part of a secret's base64 that is masked:
// shorter runs would mask ordinary output.
const minBase64Form = 8

// base64Forms are the parts of a secret's base64, standard and URL-safe,
// that the secret alone decides, wherever it starts in the encoded text:
// "Authorization: Basic" headers and Kubernetes secrets carry secrets so.
// Base64 turns each 3 bytes into 4 characters, so where the secret starts
// in its group of 3 changes the characters at its edges; what lies between
// is the same whatever surrounds it.
func base64Forms(secret string) []string {
	var forms []string
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for offset := range 3 {
			text := enc.EncodeToString(append(make([]byte, offset), secret...))
			first := (offset + 2) / 3         // the first group holding only the secret's bytes
			end := (offset + len(secret)) / 3 // one past the last such group
			if form := text[4*first : 4*max(first, end)]; len(form) >= minBase64Form {
				forms = append(forms, form)
			}
		}
	}
	return forms
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

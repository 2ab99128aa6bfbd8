package sandbox

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The forms of a secret that the masker looks for: see SecretForms.

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
// string (in ASCII alone too, as Python writes it) or a Go string, as a
// dump of a configuration or an environment prints it, and quoted for a
// shell (export -p, declare -p, printf %q, in words or $'...'). A secret
// of several lines is also each of its lines, as output reformatted with
// other line ends or indentation holds it.
func escapedForms(secret string) []string {
	h := hex.EncodeToString([]byte(secret))
	json := unquoted(jsonString(secret, true))
	forms := []string{secret, h, strings.ToUpper(h), url.QueryEscape(secret), url.PathEscape(secret),
		percentEncoded(secret, "/"), percentEncoded(secret, ""), percentEncoded(secret, "!*'()"),
		unquoted(strconv.Quote(secret)), json, unquoted(jsonString(secret, false)), strings.ReplaceAll(json, "/", `\/`),
		backslashed(secret, "$\"\\`"), backslashed(secret, shellSpecial), shellWord(secret), asciiJSON(secret), ansiC(secret)}
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

// shellWord is s as bash's printf %q writes a word of printable ASCII:
// a backslash before each of shellSpecial, before a "#" that starts it,
// and before a "~" that starts it or follows ":" or "=", where the shell
// would expand it.
func shellWord(s string) string {
	var b strings.Builder
	for i, c := range []byte(s) {
		if strings.IndexByte(shellSpecial, c) >= 0 || c == '#' && i == 0 || c == '~' && (i == 0 || s[i-1] == ':' || s[i-1] == '=') {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// asciiJSON is s in a JSON string written in ASCII alone, as Python's
// json.dumps writes it by default: what is not ASCII as \uXXXX, in two
// halves past U+FFFF, lower case. Of an ASCII secret it is the JSON form.
func asciiJSON(s string) string {
	var b strings.Builder
	for _, c := range unquoted(jsonString(s, false)) {
		switch {
		case c < utf8.RuneSelf:
			b.WriteRune(c)
		case c > 0xFFFF:
			hi, lo := utf16.EncodeRune(c)
			fmt.Fprintf(&b, "\\u%04x\\u%04x", hi, lo)
		default:
			fmt.Fprintf(&b, "\\u%04x", c)
		}
	}
	return b.String()
}

// ansiC is the inside of s as bash quotes it $'...' (printf %q, declare -p
// and export -p of a value with a byte that is not printable ASCII, in the
// C locale, as a sandbox's is): such bytes in octal, but for the escapes C
// names, and a backslash before ' and \. Of printable ASCII it is s.
func ansiC(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case c == '\'' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case strings.IndexByte("\a\b\f\n\r\t\v", c) >= 0:
			b.WriteString(strconv.QuoteRune(rune(c))[1:3])
		case c == 0x1b:
			b.WriteString(`\E`)
		case c < ' ' || c >= 0x7f:
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
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

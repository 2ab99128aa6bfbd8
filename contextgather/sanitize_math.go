package contextgather

import (
	"strings"
	"unicode/utf8"
)

// mathHidden returns what GitHub's math hides in the prose of s: in a
// math span ($...$, $`...`$ or $$...$$), what TeX hides (see texHidden),
// or all of it when s defines or colours (rewrites: see texRewrites).
// GitHub draws the span with MathJax rather than show its text. A "$"
// opens inline math when no space follows it, and one with no space before
// it closes it on the same line; "\$" is a dollar. Reading a "$" that is
// none as math hides a little visible text, the safer way to err.
func mathHidden(s string, class []byte, rewrites bool) []textSpan {
	b := []byte(s)
	prose := func(i int) bool { return i < len(s) && class[i] == classProse }
	// Each search goes on from where the last one that found nothing
	// stopped, or it would read the rest of the text once per "$".
	var out []textSpan
	noDisplay, noCode := false, false
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || !prose(i) || escaped(b, i) {
			continue
		}
		switch rest := s[i+1:]; {
		case strings.HasPrefix(rest, "$"):
			// Display math, which may span lines, not a blank one.
			end := -1
			if !noDisplay {
				end = strings.Index(rest[1:], "$$")
				noDisplay = end < 0
			}
			if end < 0 || hasBlankLine(rest[1:1+end]) {
				i++
				continue
			}
			out = append(out, texHidden(rest[1:1+end], i+2, rewrites)...)
			i += 2 + end + 1
		case strings.HasPrefix(rest, "`"):
			end := -1
			if !noCode {
				end = strings.Index(rest[1:], "`$")
				noCode = end < 0
			}
			if end < 0 {
				continue
			}
			if strings.Contains(rest[1:1+end], "\n") {
				i += end // the next "$`" is past the line: none before closes
				continue
			}
			out = append(out, texHidden(rest[1:1+end], i+2, rewrites)...)
			i += 2 + end + 1
		case rest != "" && !strings.ContainsRune(" \t\r\n", rune(rest[0])):
			end := inlineMathEnd(b, i+1, prose)
			if end < 0 {
				// No "$" after it closes on its line, nor after any
				// other there.
				if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
					i += nl
				} else {
					i = len(s)
				}
				continue
			}
			out = append(out, texHidden(s[i+1:end], i+1, rewrites)...)
			i = end
		}
	}
	return out
}

// inlineMathEnd is where the inline math that opens before s[from] closes:
// the next "$" of prose on its line with no space before it; -1 if none.
func inlineMathEnd(s []byte, from int, prose func(int) bool) int {
	for j := from; j < len(s) && s[j] != '\n'; j++ {
		if s[j] == '$' && prose(j) && !escaped(s, j) && s[j-1] != ' ' && s[j-1] != '\t' {
			return j
		}
	}
	return -1
}

// texHidden returns what TeX hides in math, body starting at byte base of
// the text: a comment, from an unescaped % to the end of its line, and
// \phantom, \hphantom or \vphantom with its argument, which takes room
// and shows nothing; or all of it, whole.
func texHidden(body string, base int, whole bool) []textSpan {
	if whole {
		return []textSpan{{base, base + len(body)}}
	}
	var out []textSpan
	for i := 0; i < len(body); i++ {
		switch {
		case body[i] == '%':
			end := len(body)
			if nl := strings.IndexByte(body[i:], '\n'); nl >= 0 {
				end = i + nl
			}
			out = append(out, textSpan{base + i, base + end})
			i = end
		case body[i] == '\\':
			if end := phantomEnd(body, i); end > i {
				out = append(out, textSpan{base + i, base + end})
				i = end - 1
			} else {
				i++ // an escaped character, \% among them
			}
		}
	}
	return out
}

// phantomEnd is the end of a phantom command at body[i] and its argument:
// a group in braces, a command with its group, or one character; i if
// there is no such command.
func phantomEnd(body string, i int) int {
	j := i
	for _, name := range []string{`\phantom`, `\hphantom`, `\vphantom`} {
		if strings.HasPrefix(body[i:], name) && (i+len(name) == len(body) || !isASCIILetter(body[i+len(name)])) {
			j = i + len(name)
		}
	}
	if j == i {
		return i
	}
	for j < len(body) && strings.ContainsRune(" \t\r\n", rune(body[j])) {
		j++
	}
	if j >= len(body) {
		return j
	}
	switch {
	case body[j] == '\\':
		// A command, as in \phantom\text{x}: its name, and its group.
		k := j + 1
		for k < len(body) && isASCIILetter(body[k]) {
			k++
		}
		if k == j+1 && k < len(body) {
			k++ // a command of one character, as \,
		}
		if k >= len(body) || body[k] != '{' {
			return k
		}
		j = k
	case body[j] != '{':
		_, size := utf8.DecodeRuneInString(body[j:])
		return j + size
	}
	return groupEnd(body, j)
}

// groupEnd is the end of the group in braces that opens at body[j], or
// of body if none closes it.
func groupEnd(body string, j int) int {
	depth := 0
	for ; j < len(body); j++ {
		switch body[j] {
		case '\\':
			j++
		case '{':
			depth++
		case '}':
			if depth--; depth == 0 {
				return j + 1
			}
		}
	}
	return len(body)
}

// texRewrites says whether a text uses a command that can hide any of its
// math by rules of its own: a macro that drops its argument (defined in
// one math span, it holds in every later one), a colour that matches the
// page, a style. Which of its math shows is then not known short of
// running TeX, so none of it is kept. Code that mentions one costs the
// text's math too, which errs the safe way.
func texRewrites(body string) bool {
	for rest := body; ; {
		i := strings.IndexByte(rest, '\\')
		if i < 0 {
			return false
		}
		j := i + 1
		for j < len(rest) && isASCIILetter(rest[j]) {
			j++
		}
		if texRewriting[rest[i+1:j]] {
			return true
		}
		rest = rest[min(len(rest), max(j, i+2)):] // past the name, or an escaped character
	}
}

// texRewriting are the commands texRewrites looks for.
var texRewriting = map[string]bool{
	"def": true, "gdef": true, "edef": true, "xdef": true, "let": true, "futurelet": true,
	"newcommand": true, "renewcommand": true, "providecommand": true, "DeclareMathOperator": true,
	"newenvironment": true, "renewenvironment": true,
	"color": true, "textcolor": true, "colorbox": true, "fcolorbox": true, "style": true, "class": true, "cssId": true,
	"require": true,
}

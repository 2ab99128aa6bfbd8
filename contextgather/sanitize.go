package contextgather

import (
	"fmt"
	"html"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sanitize cleans text written on GitHub of what its readers there did
// not see, so that nobody can hide instructions for the agent in an issue
// a maintainer approved:
//
//   - HTML comments, and their kin that GitHub also drops (<? ... >,
//     <!DOCTYPE ...>, <![CDATA[ ... >); a comment left open runs to the end;
//   - the attributes of HTML tags, which the page never shows as text, and
//     the contents of script, style, noscript and template elements;
//   - images: ![alt](url) becomes [image], <img> tags go; the agent
//     cannot see them, their addresses only invite fetching, and their alt
//     text is read by nobody who sees them;
//   - the titles of links, inline ([x](url "title")) or in reference
//     definitions, and the [//]: # (...) "comment" idiom, which GitHub
//     never shows;
//   - the info string of fenced code, but for a first word that looks like
//     the name of a language;
//   - invisible and bidirectional-control characters (see stripInvisible),
//     everywhere, code included, and outside code the character
//     references (&#x202E;, &ZeroWidthSpace;) that stand for them.
//
// Line endings become "\n", runs of blank lines outside code become one,
// and blank lines at the start and white space at the end go. Fenced and
// indented code blocks and inline code keep their contents but for
// invisible characters. Where the text is Markdown and where it is code is
// decided by a CommonMark parser, not by patterns: a pattern that took
// HTML for code would let a comment hide behind a stray backtick. Where
// the parser and GitHub may disagree, Sanitize errs towards dropping a
// little that GitHub shows, never keeping what GitHub hides.
//
// Each pass reads the markup before it takes invisible characters out,
// as GitHub reads it with them in place: taken out first, a zero-width
// space before "```" made code, which is kept, of what GitHub hid.
// Taking something out can join what stood around it into something
// hidden: "<<!-- -->!--" leaves "<!--", as does "<", a zero-width space
// and "!--". So the passes run again until they change nothing; text that
// still makes new markup after maxSanitizePasses, which only an attack
// nests so deep, is HTML-escaped whole.
func Sanitize(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = capLinks(s)
	for range maxSanitizePasses {
		next := stripInvisible(stripHiddenMarkup(flattenNesting(s)))
		if next == s {
			return TrimBlankLines(s)
		}
		s = next
	}
	if next := stripInvisible(stripHiddenMarkup(flattenNesting(s))); next != s {
		s = html.EscapeString(next)
	}
	return TrimBlankLines(s)
}

// maxLinkOpeners bounds the "](" a text may hold, each the opening of a
// link's address: the parser's time grows with the square of their number,
// and an issue of sixteen thousand took it half a minute a pass, where an
// issue of real links holds a few hundred.
const maxLinkOpeners = 1000

// capLinks leaves out the text from the paragraph holding the "](" past
// maxLinkOpeners on, and says so. Cut short, the text shows nothing
// GitHub would hide: what opens before the cut and would have closed
// after it hides to the end. A cut inside the paragraph could end a link
// before its title closed, and show the title as prose; nothing GitHub
// hides in a paragraph, a link's title or address, a definition, runs
// over a blank line.
func capLinks(s string) string {
	at := 0
	for range maxLinkOpeners + 1 {
		i := strings.Index(s[at:], "](")
		if i < 0 {
			return s
		}
		at += i + len("](")
	}
	cut := paragraphStart(s, at-len("]("))
	return s[:cut] + fmt.Sprintf("\n\n(oneshot left out the rest of this text, %d bytes: it opens more than %d links)\n", len(s)-cut, maxLinkOpeners)
}

// paragraphStart is where the paragraph holding byte at starts: after the
// last blank line before it, or at 0 when there is none.
func paragraphStart(s string, at int) int {
	for end := strings.LastIndexByte(s[:at], '\n'); end >= 0; {
		start := strings.LastIndexByte(s[:end], '\n') + 1
		if strings.Trim(s[start:end], " \t") == "" {
			return end + 1
		}
		end = start - 1
	}
	return 0
}

// maxSanitizePasses bounds Sanitize's passes; ordinary text takes two,
// the second finding nothing left to take out.
const maxSanitizePasses = 16

// maxNesting is how many quotes and list items a line may open, one in
// another, before the rest of its markers are taken as text. The parser
// spends time on each level in proportion to the line, so an issue of
// sixty thousand ">" took minutes; nobody nests a quote more than a few
// deep.
const maxNesting = 32

// flattenNesting escapes the container markers of each line after the
// first maxNesting: "\>" is a ">" in the text, and opens nothing. What
// follows them is still Markdown, and is cleaned as such.
func flattenNesting(s string) string {
	var b strings.Builder
	for start := 0; start < len(s); {
		end := strings.IndexByte(s[start:], '\n')
		if end < 0 {
			end = len(s)
		} else {
			end += start + 1
		}
		line := s[start:end]
		if at := deepMarker(line); at >= 0 {
			if b.Len() == 0 {
				b.Grow(len(s) + 1)
				b.WriteString(s[:start])
			}
			b.WriteString(line[:at] + "\\" + line[at:])
		} else if b.Len() > 0 {
			b.WriteString(line)
		}
		start = end
	}
	if b.Len() == 0 {
		return s
	}
	return b.String()
}

// deepMarker is where the line's container marker past maxNesting starts,
// or -1 when it opens no more than maxNesting: a quote's ">", or a list
// item's "-", "*", "+", "1." or "1)" followed by a space, each after up to
// three spaces.
func deepMarker(line string) int {
	i := 0
	for depth := 0; ; depth++ {
		j := i
		for j < len(line) && j-i < 3 && line[j] == ' ' {
			j++
		}
		n := containerMarker(line[j:])
		if n == 0 {
			return -1
		}
		if depth == maxNesting {
			return j
		}
		i = j + n
	}
}

// containerMarker is the length of the quote or list marker s starts
// with, its space included, or 0.
func containerMarker(s string) int {
	if strings.HasPrefix(s, ">") {
		if len(s) > 1 && (s[1] == ' ' || s[1] == '\t') {
			return 2
		}
		return 1
	}
	n := 0
	for n < len(s) && n < 9 && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	switch {
	case n > 0 && n < len(s) && (s[n] == '.' || s[n] == ')'):
		n++
	case n == 0 && len(s) > 0 && (s[0] == '-' || s[0] == '*' || s[0] == '+'):
		n = 1
	default:
		return 0
	}
	if n < len(s) && (s[n] == ' ' || s[n] == '\t') {
		return n + 1
	}
	return 0
}

// TrimBlankLines removes blank lines at the start and white space at the
// end; the first line keeps its indentation, which may make it code:
// unindented, "    <?php" would be taken for HTML.
func TrimBlankLines(s string) string {
	s = strings.TrimRight(s, " \t\n")
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 || strings.TrimSpace(s[:i]) != "" {
			return s
		}
		s = s[i+1:]
	}
}

// stripInvisible removes characters that show nothing, or that reorder
// what is shown, so the text the agent reads is the text people saw:
// zero-width characters (U+200B–U+200F), bidirectional embeddings,
// overrides and isolates (U+202A–U+202E, U+2066–U+2069), the byte order
// mark, soft hyphens, tag characters (U+E0000–U+E007F), and every other
// format (Cf) character; control characters but tab and newline; and
// variation selectors, which show nothing themselves and can carry a
// hidden message, a byte or so per visible character. Only the text and
// emoji presentation selectors (U+FE0E, U+FE0F) are kept, one at a time
// and only after a character that may take them (see takesPresentation),
// as in the emoji style of ❤️; the ideographic ones (U+E0100–U+E01EF)
// go, and a Han character shows in its usual form. Line and paragraph
// separators become newlines. Invalid UTF-8 becomes U+FFFD. The other
// characters Unicode sets aside to show nothing go too (see showsNothing).
func stripInvisible(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	prev := rune(-1) // the last rune kept; -1 at the start
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '\u2028' || r == '\u2029':
			r = '\n'
		case r == '\t' || r == '\n':
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), showsNothing(r):
			continue
		case isVariationSelector(r) && (r != '\uFE0E' && r != '\uFE0F' || !takesPresentation(prev)):
			continue
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

// isVariationSelector says whether r is one: U+FE00–U+FE0F, the
// ideographic U+E0100–U+E01EF, or Mongolian's free ones.
func isVariationSelector(r rune) bool { return unicode.Is(unicode.Variation_Selector, r) }

// takesPresentation says whether a presentation selector may follow r:
// after a symbol or punctuation beyond ASCII (❤, ☺, ‼), or a digit, # or *
// that starts a keycap (1️⃣), it picks text or emoji style. After anything
// else, a letter above all, it only carries a hidden bit. A selector is
// none of these, so they never run.
func takesPresentation(r rune) bool {
	switch {
	case r == '#' || r == '*' || (r >= '0' && r <= '9'):
		return true
	case r < 0x80:
		return false
	}
	return unicode.In(r, unicode.S, unicode.P)
}

var (
	// charRef is a character reference: numeric, whose ";" a browser
	// does without, or named.
	charRef = regexp.MustCompile(`&#[xX][0-9a-fA-F]+;?|&#[0-9]+;?|&[A-Za-z][A-Za-z0-9]{1,31};`)
	// blankRun is two or more blank lines.
	blankRun = regexp.MustCompile(`\n(?:[ \t]*\n){2,}`)
)

// rewriteProse rewrites text outside code: a character reference to what
// stripInvisible removes goes, as the character would (&#x202E; is as
// hidden as U+202E once the page is shown), and blank runs become one
// blank line. Other references stay as written: decoded, &lt;!-- would
// be a comment to whoever reads the text next.
func rewriteProse(s string) string {
	s = charRef.ReplaceAllStringFunc(s, func(ref string) string {
		if c := html.UnescapeString(ref); c != ref && stripInvisible(c) != c {
			return ""
		}
		return ref
	})
	return blankRun.ReplaceAllString(s, "\n\n")
}

// showsNothing says whether r is one of the characters Unicode sets
// aside to show nothing (default ignorable) that are neither format
// characters nor variation selectors: the letters and marks among them
// (the Hangul fillers, the combining grapheme joiner, the Khmer inherent
// vowels), and those not assigned yet (U+2065, U+FFF0–U+FFF8, the rest
// of U+E0000–U+E0FFF), which a browser draws as nothing. Each can stand
// in a line unseen and carry a hidden message, as a zero-width space can.
func showsNothing(r rune) bool {
	return r >= 0xE0000 && r <= 0xE0FFF || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}

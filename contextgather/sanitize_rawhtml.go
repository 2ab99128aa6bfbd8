package contextgather

import (
	"bytes"
	"strings"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// rawHTMLParser finds inline raw HTML as cmark-gfm does. Raw HTML may run
// over the lines of its paragraph, so each paragraph's text is put
// together once (see blockText) and searched from each "<".
type rawHTMLParser struct{}

var blockTextKey = parser.NewContextKey()

func (rawHTMLParser) Trigger() []byte { return []byte{'<'} }

func (rawHTMLParser) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	t, _ := pc.Get(blockTextKey).(*blockText)
	if t == nil || t.node != parent {
		t = newBlockText(parent, block.Source())
		pc.Set(blockTextKey, t)
	}
	line, pos := block.Position()
	if line < 0 || line >= len(t.lines) {
		return nil
	}
	at := t.lines[line].at + t.lines[line].seg.Padding - pos.Padding + pos.Start - t.lines[line].seg.Start
	n := t.rawHTML(at)
	if n == 0 {
		return nil
	}
	node := ast.NewRawHTML()
	// The HTML starts on the current line and may run over the next.
	for _, l := range t.lines[line:] {
		if l.at >= at+n {
			break
		}
		// The line's bytes in t.text, after its padding.
		from := l.at + l.seg.Padding
		start, stop := max(at, from), min(at+n, from+l.seg.Stop-l.seg.Start)
		if start < stop {
			node.Segments.Append(text.NewSegment(l.seg.Start+start-from, l.seg.Start+stop-from))
		}
	}
	block.Advance(n)
	return node
}

// strayHTML returns the raw HTML cmark-gfm would find in prose where
// goldmark found none because it read the text as something else: a
// link whose address is "<" and more than cmark-gfm allows between "<"
// and ">" ("[a](<<!-- ...)" is no link on GitHub, and its comment hides
// what follows), or a reference definition of such an address. class
// marks the code, which is left out, as is HTML goldmark found and a "<"
// after a backslash.
func strayHTML(s string, class []byte, html [][]textSpan) [][]textSpan {
	inHTML := make([]bool, len(s))
	for _, node := range html {
		for _, seg := range node {
			for i := max(seg.start, 0); i < min(seg.end, len(s)); i++ {
				inHTML[i] = true
			}
		}
	}
	t := &blockText{text: []byte(s)}
	var stray [][]textSpan
	for i := 0; i < len(s); i++ {
		if s[i] != '<' || class[i] == classCode || inHTML[i] || escaped(t.text, i) {
			continue
		}
		if n := t.rawHTML(i); n > 0 {
			stray = append(stray, []textSpan{{i, i + n}})
			i += n - 1
		}
	}
	return stray
}

// blockText is the text of a block's lines, one after another, as
// cmark-gfm searches it for raw HTML.
type blockText struct {
	node  ast.Node
	text  []byte
	lines []struct {
		at  int // where the line starts in text
		seg text.Segment
	}
	// piEnd and cdataEnd are where a processing instruction or a CDATA
	// section whose body starts at each byte ends, or 0; made when first
	// needed, from the end, as a search from each "<?" would take time in
	// proportion to the square of the text.
	piEnd, cdataEnd []int32
}

func newBlockText(node ast.Node, source []byte) *blockText {
	t := &blockText{node: node}
	lines := node.Lines()
	for i := range lines.Len() {
		seg := lines.At(i)
		t.lines = append(t.lines, struct {
			at  int
			seg text.Segment
		}{len(t.text), seg})
		t.text = append(t.text, bytes.Repeat([]byte{' '}, seg.Padding)...)
		t.text = append(t.text, source[seg.Start:seg.Stop]...)
	}
	return t
}

// rawHTML returns the length of the raw HTML at t.text[i], or 0: a tag,
// a comment, a processing instruction, a declaration or a CDATA section.
func (t *blockText) rawHTML(i int) int {
	s := t.text
	switch {
	case i+1 >= len(s) || s[i] != '<':
		return 0
	case isASCIILetter(s[i+1]) || s[i+1] == '/':
		return tagAt(s, i)
	case bytes.HasPrefix(s[i:], []byte("<!--")):
		return commentAt(s, i)
	case s[i+1] == '?':
		if t.piEnd == nil {
			t.piEnd = endsFromBack(s, '?', 1)
		}
		return endAt(t.piEnd, i, i+2)
	case len(s)-i >= len("<![CDATA[") && bytes.EqualFold(s[i:i+len("<![CDATA[")], []byte("<![CDATA[")):
		// cmark-gfm reads its patterns without regard to case.
		if t.cdataEnd == nil {
			t.cdataEnd = endsFromBack(s, ']', 2)
		}
		return endAt(t.cdataEnd, i, i+len("<![CDATA["))
	case s[i+1] == '!':
		return declarationAt(s, i)
	}
	return 0
}

func endAt(ends []int32, start, body int) int {
	if body >= len(ends) || ends[body] == 0 {
		return 0
	}
	return int(ends[body]) - start
}

// commentAt returns the length of the comment at s[i]: "<!---->", or
// "<!--", a text that neither starts with ">" or "->", nor ends with "-",
// nor holds "--", and "-->". A browser would take more for a comment, but
// cmark-gfm shows the rest as text, and what is in it may be HTML.
func commentAt(s []byte, i int) int {
	if bytes.HasPrefix(s[i:], []byte("<!---->")) {
		return len("<!---->")
	}
	from := i + len("<!--")
	k := bytes.Index(s[from:], []byte("--"))
	if k <= 0 || from+k+2 >= len(s) || s[from+k+2] != '>' {
		return 0
	}
	// k is the first "--", so the text neither holds one nor ends with "-".
	if body := s[from : from+k]; body[0] == '>' || bytes.HasPrefix(body, []byte("->")) {
		return 0
	}
	return from + k + len("-->") - i
}

// declarationAt returns the length of the declaration at s[i]: "<!", upper
// case letters, white space and anything up to ">".
func declarationAt(s []byte, i int) int {
	j := i + 2
	for j < len(s) && s[j] >= 'A' && s[j] <= 'Z' {
		j++
	}
	if j == i+2 || j == len(s) || !isSpacechar(s[j]) {
		return 0
	}
	gt := bytes.IndexByte(s[j:], '>')
	if gt < 0 {
		return 0
	}
	return j + gt + 1 - i
}

// endsFromBack finds, from the end of s, where the bodies of cmark-gfm's
// processing instructions (closer '?', n 1) and CDATA sections (']', 2)
// end: ends[i] is where a body that starts at i ends, just after n closers
// and ">", or 0. The n closers and the byte after them are taken together
// unless that byte is ">": "<?>" is no whole instruction, "<? ??> ?>" runs
// to its last "?>", and "]]]>" closes nothing.
func endsFromBack(s []byte, closer byte, n int) []int32 {
	ends := make([]int32, len(s)+1)
	next := make([]int32, n+1) // the end from i+1, after st closers in a row
	here := make([]int32, n+1)
	for i := len(s) - 1; i >= 0; i-- {
		for st := range n + 1 {
			switch {
			case st == n && s[i] == '>':
				here[st] = int32(i + 1)
			case st < n && s[i] == closer:
				here[st] = next[st+1]
			default:
				here[st] = next[0]
			}
		}
		next, here = here, next
		ends[i] = next[0]
	}
	return ends
}

// tagAt returns the length of the start or end tag at s[i], as CommonMark
// writes them, or 0.
func tagAt(s []byte, i int) int {
	j := i + 1
	closing := j < len(s) && s[j] == '/'
	if closing {
		j++
	}
	if j >= len(s) || !isASCIILetter(s[j]) {
		return 0
	}
	for j < len(s) && (isASCIILetter(s[j]) || isDigit(s[j]) || s[j] == '-') {
		j++
	}
	if !closing {
		j = attributesEnd(s, j)
	}
	for j < len(s) && isSpacechar(s[j]) {
		j++
	}
	if !closing && j < len(s) && s[j] == '/' {
		j++
	}
	if j < len(s) && s[j] == '>' {
		return j + 1 - i
	}
	return 0
}

// attributesEnd returns where the attributes that start at s[j] end.
func attributesEnd(s []byte, j int) int {
	for {
		k := j
		for k < len(s) && isSpacechar(s[k]) {
			k++
		}
		if k == j || k == len(s) || !(isASCIILetter(s[k]) || s[k] == '_' || s[k] == ':') {
			return j
		}
		for k < len(s) && (isASCIILetter(s[k]) || isDigit(s[k]) || strings.IndexByte("_:.-", s[k]) >= 0) {
			k++
		}
		j = k
		for k < len(s) && isSpacechar(s[k]) {
			k++
		}
		if k == len(s) || s[k] != '=' {
			continue
		}
		k++
		for k < len(s) && isSpacechar(s[k]) {
			k++
		}
		if end := valueEnd(s, k); end > k {
			j = end
		}
	}
}

// valueEnd returns where the attribute value at s[k] ends, or k if none
// starts there.
func valueEnd(s []byte, k int) int {
	if k == len(s) {
		return k
	}
	if q := s[k]; q == '"' || q == '\'' {
		if end := bytes.IndexByte(s[k+1:], q); end >= 0 {
			return k + 1 + end + 1
		}
		return k
	}
	end := k
	for end < len(s) && !isSpacechar(s[end]) && strings.IndexByte("\"'=<>`", s[end]) < 0 {
		end++
	}
	return end
}

// isSpacechar is CommonMark's white space in HTML: space, tab, line
// feed, line tabulation, form feed, carriage return.
func isSpacechar(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

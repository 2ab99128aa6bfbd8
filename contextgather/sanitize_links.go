package contextgather

import (
	"strings"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// endAttribute is the attribute in which linkEnds notes where a link or an
// image ends in the source.
const endAttribute = "oneshot-end"

// linkEnds is goldmark's link parser, noting on each link and image where
// it ends, which the tree does not say; where it starts is its Pos. What
// lies between, a title or an image's address, is found from these two
// ends rather than by a pattern, which nested brackets or parentheses
// would lead astray.
type linkEnds struct{ parser.InlineParser }

// withLinkEnds is parsers with the link parser wrapped by linkEnds.
func withLinkEnds(parsers []util.PrioritizedValue) []util.PrioritizedValue {
	for i, p := range parsers {
		if p.Value == parser.NewLinkParser() {
			parsers[i].Value = linkEnds{parser.NewLinkParser()}
		}
	}
	return parsers
}

func (l linkEnds) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	n := l.InlineParser.Parse(parent, block, pc)
	switch n.(type) {
	case *ast.Link, *ast.Image:
		_, pos := block.Position()
		n.SetAttributeString(endAttribute, pos.Start)
	}
	return n
}

func (l linkEnds) CloseBlock(parent ast.Node, block text.Reader, pc parser.Context) {
	if c, ok := l.InlineParser.(parser.CloseBlocker); ok {
		c.CloseBlock(parent, block, pc)
	}
}

// linkEnd returns where a link or an image ends in src, just after its
// ")" or "]".
func linkEnd(src []byte, n ast.Node) (int, bool) {
	v, _ := n.AttributeString(endAttribute)
	end, ok := v.(int)
	if !ok || end > len(src) || n.Pos() < 0 {
		return 0, false
	}
	// At the end of a line the reader may have moved on to the next.
	for end > n.Pos() && src[end-1] != ')' && src[end-1] != ']' {
		end--
	}
	return end, end > n.Pos()
}

// linkTitle returns where the title of an inline link is, with the space
// before it: from its opening quote or parenthesis to its closing one,
// which the link's ")" follows. A title is a tooltip at most on GitHub.
func linkTitle(src []byte, link *ast.Link) (textSpan, bool) {
	if link.Reference != nil || len(link.Title) == 0 {
		return textSpan{}, false // a reference's title is its definition's
	}
	start := link.Pos()
	end, ok := linkEnd(src, link)
	if !ok || src[end-1] != ')' {
		return textSpan{}, false
	}
	q := end - 2
	for q > start && isSpaceByte(src[q]) {
		q--
	}
	open := src[q]
	switch open {
	case '"', '\'':
	case ')':
		open = '('
	default:
		return textSpan{}, false
	}
	for i := q - 1; i > start; i-- {
		if src[i] == open && !escaped(src, i) {
			for i > start && isSpaceByte(src[i-1]) {
				i--
			}
			return textSpan{i, q + 1}, true
		}
	}
	return textSpan{}, false
}

// escaped says whether a backslash escapes src[i]: an odd number of them
// stands before it.
func escaped(src []byte, i int) bool {
	n := 0
	for i > 0 && src[i-1] == '\\' {
		n++
		i--
	}
	return n%2 == 1
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

// imageMention is what an image becomes: [image]. The agent cannot see
// the image, its address only invites fetching, and its description (the
// alt text), which people see the image in place of, is no place for
// words they would not read.
func imageMention() string { return "[image]" }

// hasText says whether a link shows any text: one with none, or only
// spaces, shows nothing on GitHub.
func hasText(src []byte, link *ast.Link) bool {
	shows := false
	_ = ast.Walk(link, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		switch n := n.(type) {
		case *ast.Text:
			shows = shows || strings.TrimSpace(string(n.Segment.Value(src))) != ""
		case *ast.CodeSpan, *ast.Image, *ast.RawHTML, *ast.AutoLink:
			shows = shows || n != nil
		}
		return ast.WalkContinue, nil
	})
	return shows
}

// hiddenAddress rewrites a link whose address or label can hold words
// GitHub never shows: an inline link to something that is no URL or path
// ("<ignore the rules>", "#ignore-the-rules"), or a reference whose label
// is not its text ([the docs][ignore the rules]). The link becomes its
// text, still linking its address when that is a URL or a path.
func hiddenAddress(src []byte, link *ast.Link) (textCut, bool) {
	end, ok := linkEnd(src, link)
	if !ok {
		return textCut{}, false
	}
	start := link.Pos()
	close, ok := linkTextEnd(src, start, end)
	if !ok {
		return textCut{}, false
	}
	text := string(src[start+1 : close])
	dest := string(link.Destination)
	switch {
	case link.Reference == nil && isAddress(dest):
		return textCut{}, false
	case link.Reference != nil && util.ToLinkReference(link.Reference.Value) == util.ToLinkReference([]byte(text)):
		return textCut{}, false // [text] or [text][]: the label is the text
	}
	with := text
	if isAddress(dest) {
		with = "[" + text + "](" + dest + ")"
	}
	return textCut{textSpan: textSpan{start, end}, with: with}, true
}

// linkTextEnd is where the "]" that closes the text of the link starting
// at start is, before end. Brackets nest; a backslash escapes one, and
// code spans, which bind tighter, hide theirs.
func linkTextEnd(src []byte, start, end int) (int, bool) {
	depth := 0
	for i := start; i < end; i++ {
		switch src[i] {
		case '\\':
			i++
		case '`':
			n := 1
			for i+n < end && src[i+n] == '`' {
				n++
			}
			fence := strings.Repeat("`", n)
			if j := strings.Index(string(src[i+n:end]), fence); j >= 0 {
				i += n + j + n - 1
			} else {
				i += n - 1
			}
		case '[':
			depth++
		case ']':
			if depth--; depth == 0 {
				return i, true
			}
		}
	}
	return 0, false
}

package contextgather

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// footnoteDef is a footnote's definition: its label, in lower case, and
// the whole lines it takes, its label's first.
type footnoteDef struct {
	label string
	lines textSpan
}

// footnoteFacts are the definitions footnoteCensus found in a text.
type footnoteFacts struct{ defs []footnoteDef }

// footnoteKey holds a parse's footnoteFacts in its context.
var footnoteKey = parser.NewContextKey()

// footnoteCensus notes the footnotes' definitions of a parse, before
// goldmark's footnote transformer takes those it found no reference to out
// of the tree (where their text would be left as if it were prose).
// goldmark matches a reference to its label in the case it is written in,
// where cmark-gfm, which GitHub runs, takes any case: which are used is
// decided by resolve.
type footnoteCensus struct{}

func (footnoteCensus) Transform(doc *ast.Document, reader text.Reader, pc parser.Context) {
	var facts footnoteFacts
	src := reader.Source()
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		fn, ok := n.(*east.Footnote)
		if !entering || !ok {
			return ast.WalkContinue, nil
		}
		// A label with a space is no footnote to cmark-gfm: its text is
		// shown as written.
		if !bytes.ContainsFunc(fn.Ref, unicode.IsSpace) {
			if lines, ok := linesOf(src, fn); ok {
				facts.defs = append(facts.defs, footnoteDef{asciiLower(string(fn.Ref)), lines})
			}
		}
		return ast.WalkSkipChildren, nil
	})
	pc.Set(footnoteKey, facts)
}

// resolve says which definitions of s no reference uses, which GitHub
// shows nowhere, and the labels of those used. A reference is [^label] in
// any case, in prose (class), but for the definition's own label.
func (f footnoteFacts) resolve(s string, class []byte) (unused []textSpan, used map[string]bool) {
	used = map[string]bool{}
	lower := asciiLower(s) // its positions are s's
	for _, d := range f.defs {
		ref := "[^" + d.label + "]"
		own := d.lines.start + strings.Index(lower[d.lines.start:], ref)
		referred := false
		for at := 0; !referred; {
			i := strings.Index(lower[at:], ref)
			if i < 0 {
				break
			}
			at += i
			referred = at != own && class[at] == classProse
			at += len(ref)
		}
		if referred {
			used[d.label] = true
		} else {
			unused = append(unused, d.lines)
		}
	}
	return unused, used
}

// linesOf is the whole lines a block and what it holds take, from the
// start of its first line, where a footnote's label is, to the end of its
// last; false when it holds no line (a definition with nothing after its
// label, which shows nothing either way).
func linesOf(src []byte, n ast.Node) (textSpan, bool) {
	first, last := -1, -1
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering || c.Type() != ast.TypeBlock {
			return ast.WalkContinue, nil
		}
		if lines := c.Lines(); lines.Len() > 0 {
			if start := lines.At(0).Start; first < 0 || start < first {
				first = start
			}
			last = max(last, lines.At(lines.Len()-1).Stop)
		}
		return ast.WalkContinue, nil
	})
	if first < 0 {
		return textSpan{}, false
	}
	start := bytes.LastIndexByte(src[:first], '\n') + 1
	end := len(src)
	if i := bytes.IndexByte(src[last:], '\n'); i >= 0 {
		end = last + i
	}
	return textSpan{start, end}, true
}

// footnotes numbers the labels of the footnotes in prose, [^label], in the
// order they first come: GitHub shows a footnote by its number, and its
// label can hold words nobody sees. What looks like a label but names no
// footnote used, as the class [^a-z] of a pattern, is text GitHub shows.
type footnotes struct {
	used    map[string]bool
	numbers map[string]int
}

func (f footnotes) number(s string) string {
	return footnoteLabel.ReplaceAllStringFunc(s, func(ref string) string {
		label := asciiLower(ref[2 : len(ref)-1])
		if !f.used[label] {
			return ref
		}
		n, ok := f.numbers[label]
		if !ok {
			n = len(f.numbers) + 1
			f.numbers[label] = n
		}
		return "[^" + strconv.Itoa(n) + "]"
	})
}

var footnoteLabel = regexp.MustCompile(`\[\^[^\]\n]+\]`)

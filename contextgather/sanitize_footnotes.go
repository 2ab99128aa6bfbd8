package contextgather

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// footnoteDef is a footnote's definition: its label, in lower case, where
// the label is written ([^label]:), and the whole lines it takes, its
// label's first.
type footnoteDef struct {
	label   string
	labelAt int
	lines   textSpan
}

// footnoteFacts are the definitions footnoteCensus found in a text, the
// labels goldmark found a reference to, and where the text's inline text
// is: a reference is only there, not in a link's address or a URL.
type footnoteFacts struct {
	defs   []footnoteDef
	linked map[string]bool
	texts  []textSpan // in text order
}

// footnoteKey holds a parse's footnoteFacts in its context.
var footnoteKey = parser.NewContextKey()

// footnoteDefinitions is goldmark's footnote block parser, opening a
// definition where cmark-gfm does (see Open) and noting each in the
// parse's context as it closes (see closedDefinition), before goldmark
// moves it into its list of footnotes: with a definition inside another,
// that move takes both out of the tree, where a walk of the document
// would never find them.
type footnoteDefinitions struct{ parser.BlockParser }

// closedDefinition is a footnote definition, where its label is written
// ([^label]:) and where the last line of what it holds ends.
type closedDefinition struct {
	fn            *east.Footnote
	labelAt, last int
}

// Keys of a parse's context: openedKey holds where each open definition's
// label is, closedKey the closedDefinitions.
var openedKey, closedKey = parser.NewContextKey(), parser.NewContextKey()

// Open opens a definition where cmark-gfm, which GitHub runs, opens one:
// at "[^label]:", the label any characters but "]", spaces, tabs and line
// breaks. goldmark's own rule differs both ways. It takes "[^a b]:",
// which cmark-gfm reads as a link reference definition, which GitHub
// hides, or else as a paragraph; and it refuses "[^[]:", "[^a\]:" and
// labels past 999 bytes, which cmark-gfm reads as footnotes.
func (f footnoteDefinitions) Open(parent ast.Node, reader text.Reader, pc parser.Context) (ast.Node, parser.State) {
	line, segment := reader.PeekLine()
	pos := pc.BlockOffset()
	if pos < 0 {
		return nil, parser.NoChildren
	}
	opening := footnoteOpening.Find(line[pos:])
	if opening == nil {
		return nil, parser.NoChildren
	}
	fn := east.NewFootnote(opening[len("[^") : len(opening)-len("]:")])
	opened, _ := pc.Get(openedKey).(map[*east.Footnote]int)
	if opened == nil {
		opened = map[*east.Footnote]int{}
		pc.Set(openedKey, opened)
	}
	opened[fn] = segment.Start + pos - segment.Padding
	// What follows the label is read as goldmark's parser reads it.
	after := pos + len(opening) - segment.Padding
	if after >= len(line) {
		reader.Advance(after)
		return fn, parser.NoChildren
	}
	reader.AdvanceAndSetPadding(after, segment.Padding)
	return fn, parser.HasChildren
}

// footnoteOpening is how a footnote's definition starts to cmark-gfm.
var footnoteOpening = regexp.MustCompile(`^\[\^[^\] \t\n]+\]:`)

func (f footnoteDefinitions) Close(node ast.Node, reader text.Reader, pc parser.Context) {
	if fn, ok := node.(*east.Footnote); ok {
		labelAt := pc.Get(openedKey).(map[*east.Footnote]int)[fn]
		closed, _ := pc.Get(closedKey).([]closedDefinition)
		pc.Set(closedKey, append(closed, closedDefinition{fn, labelAt, max(contentEnd(fn), labelAt)}))
	}
	f.BlockParser.Close(node, reader, pc)
}

// footnoteCensus notes the footnotes' definitions of a parse, before
// goldmark's footnote transformer takes those it found no reference to out
// of the tree (where their text would be left as if it were prose).
// goldmark matches a reference to its label in the case it is written in,
// where cmark-gfm, which GitHub runs, takes any case: which are used is
// decided by resolve.
type footnoteCensus struct{}

func (footnoteCensus) Transform(doc *ast.Document, reader text.Reader, pc parser.Context) {
	facts := footnoteFacts{linked: map[string]bool{}}
	src := reader.Source()
	lower := asciiLower(string(src))
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if t, ok := n.(*ast.Text); ok && entering {
			facts.texts = append(facts.texts, textSpan{t.Segment.Start, t.Segment.Stop})
		}
		if _, ok := n.(*east.Footnote); ok {
			return ast.WalkSkipChildren, nil // its text shows only as a footnote
		}
		return ast.WalkContinue, nil
	})
	closed, _ := pc.Get(closedKey).([]closedDefinition)
	for _, d := range closed {
		label := asciiLower(string(d.fn.Ref))
		if d.fn.Index >= 0 {
			facts.linked[label] = true
		}
		facts.defs = append(facts.defs, footnoteDef{label, d.labelAt, wholeLines(lower, d.labelAt, d.last)})
	}
	slices.SortFunc(facts.defs, func(a, b footnoteDef) int { return a.labelAt - b.labelAt })
	slices.SortFunc(facts.texts, func(a, b textSpan) int { return a.start - b.start })
	pc.Set(footnoteKey, facts)
}

// resolve says which definitions of s GitHub shows nowhere, and the labels
// of those it shows. It shows the first definition of a label, and only
// when something refers to it: [^label] in any case, in inline text that
// is prose (class), not escaped, and not where a definition writes its
// label; or a reference goldmark found.
func (f footnoteFacts) resolve(s string, class []byte) (unused []textSpan, used map[string]bool) {
	used = map[string]bool{}
	lower := asciiLower(s) // its positions are s's
	labels := map[int]bool{}
	for _, d := range f.defs {
		labels[d.labelAt] = true
	}
	seen := map[string]bool{}
	for _, d := range f.defs {
		if seen[d.label] { // a later definition of a label shows nowhere
			unused = append(unused, d.lines)
			continue
		}
		seen[d.label] = true
		ref := "[^" + d.label + "]"
		referred := f.linked[d.label]
		for at := 0; !referred && referable(d.label); {
			i := strings.Index(lower[at:], ref)
			if i < 0 {
				break
			}
			at += i
			referred = !labels[at] && class[at] == classProse && (at == 0 || s[at-1] != '\\') && f.inText(at)
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

// referable says whether text can refer to a footnote of this label: not
// when it is longer than cmark-gfm looks a label up by, 1000 bytes, nor
// when it holds a "[" no backslash escapes, which the "]" ending the
// reference would close, nor when it ends in a backslash, which escapes
// that "]".
func referable(label string) bool {
	if len(label) > 1000 {
		return false
	}
	i := 0
	for i < len(label) {
		switch label[i] {
		case '\\':
			i++
		case '[':
			return false
		}
		i++
	}
	return i == len(label)
}

// lines are where every definition is.
func (f footnoteFacts) lines() []textSpan {
	spans := make([]textSpan, len(f.defs))
	for i, d := range f.defs {
		spans[i] = d.lines
	}
	return spans
}

// inText reports whether byte at of the text is inline text.
func (f footnoteFacts) inText(at int) bool {
	i, _ := slices.BinarySearchFunc(f.texts, at, func(t textSpan, at int) int {
		switch {
		case t.end <= at:
			return -1
		case t.start > at:
			return 1
		}
		return 0
	})
	return i < len(f.texts) && f.texts[i].start <= at && at < f.texts[i].end
}

// contentEnd is where the last line a block holds ends, or -1 when it
// holds none (a definition with nothing after its label).
func contentEnd(n ast.Node) int {
	last := -1
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering && c.Type() == ast.TypeBlock {
			if lines := c.Lines(); lines.Len() > 0 {
				last = max(last, lines.At(lines.Len()-1).Stop)
			}
		}
		return ast.WalkContinue, nil
	})
	return last
}

// wholeLines is the lines of s from the one byte from is on to the end of
// the one byte to is on, but its line break.
func wholeLines(s string, from, to int) textSpan {
	end := len(s)
	if i := strings.IndexByte(s[to:], '\n'); i >= 0 {
		end = to + i
	}
	return textSpan{strings.LastIndexByte(s[:from], '\n') + 1, end}
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
	return footnoteLabel.ReplaceAllStringFunc(withoutBrokenLabels(s), func(ref string) string {
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

// withoutBrokenLabels writes [^] for what looks like a reference to a
// footnote whose label runs over a line break (see brokenLabels), which is
// what cmark-gfm shows of it: its words show nowhere. One that is a link's
// text, with an address or a label after it, is the link's (what only
// looks like a link's went before, see brokenLabelsOfNoLinkOrAroundCode).
func withoutBrokenLabels(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range brokenLabels(s) {
		if m.start < last || beforeLink(s, m.end) {
			continue // in one written as [^] already, or a link's text
		}
		b.WriteString(s[last:m.start])
		b.WriteString("[^]")
		last = m.end
	}
	if last == 0 {
		return s
	}
	return b.String() + s[last:]
}

// brokenLabelsOfNoLinkOrAroundCode are the labels over a line break, in
// prose, that withoutBrokenLabels, which reads the prose once cut and
// apart from the code in it, misses; each is cut to [^] as GitHub shows
// it. Those that look like a link's text but start no link the parser
// made: "[^\nwords](x", whose address never ends, or "[^\nwords][label]"
// with no such label, which it passes over as links'. And those that hold
// a code span, code and all, where it finds neither end; one that is a
// link's text is the link's.
func brokenLabelsOfNoLinkOrAroundCode(s string, class []byte, linkStarts map[int]bool) []textCut {
	var cuts []textCut
	last := 0
	notProse := func(c byte) bool { return c != classProse }
	for _, m := range brokenLabels(s) {
		in := class[m.start:m.end]
		noLink := beforeLink(s, m.end) && !linkStarts[m.start] && !slices.ContainsFunc(in, notProse)
		aroundCode := !beforeLink(s, m.end) && !notProse(in[0]) && !notProse(in[len(in)-1]) && slices.Contains(in, classCode)
		if m.start < last || !noLink && !aroundCode {
			continue
		}
		cuts = append(cuts, textCut{textSpan: m, with: "[^]"})
		last = m.end
	}
	return cuts
}

// brokenLabels are where s has what looks like a reference to a footnote
// whose label runs over a line break: from a "[^" to the "]" that closes
// it, the brackets between pairing as cmark-gfm pairs them, nested, a
// backslash escaping one, and a line break between; a bracket in a code
// span is none, as a code span goes before brackets; a blank line ends the
// paragraph, and every bracket open in it. They come in the order they
// start, one inside another too. A link inside one keeps cmark-gfm from
// reading a reference, showing its words; that is not looked for, and
// they go all the same.
func brokenLabels(s string) []textSpan {
	var spans []textSpan
	var open []int // where each bracket not closed yet starts
	lastBreak := -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) && strings.IndexByte("[]\\`", s[i+1]) >= 0 {
				i++
			}
		case '`':
			i = codeSpanEnd(s, i) - 1
		case '[':
			open = append(open, i)
		case ']':
			if len(open) == 0 {
				break
			}
			start := open[len(open)-1]
			open = open[:len(open)-1]
			if strings.HasPrefix(s[start:], "[^") && lastBreak > start {
				spans = append(spans, textSpan{start, i + 1})
			}
		case '\n':
			lastBreak = i
			if strings.HasPrefix(strings.TrimLeft(s[i+1:], " \t"), "\n") {
				open = open[:0]
			}
		}
	}
	slices.SortFunc(spans, func(a, b textSpan) int { return a.start - b.start })
	return spans
}

// codeSpanEnd is where the code span that a run of backticks at i opens
// ends: after the next run of as many, within the paragraph; or, when
// there is none, the run is text, and it ends after the run.
func codeSpanEnd(s string, i int) int {
	n := 0
	for i+n < len(s) && s[i+n] == '`' {
		n++
	}
	for at := i + n; at < len(s); {
		j := strings.IndexByte(s[at:], '`')
		if j < 0 || blankLine.MatchString(s[at:at+j]) {
			break
		}
		at += j
		m := 0
		for at+m < len(s) && s[at+m] == '`' {
			m++
		}
		if m == n {
			return at + m
		}
		at += m
	}
	return i + n
}

var blankLine = regexp.MustCompile(`\n[ \t]*\n`)

// beforeLink says whether text in brackets that ends at end has what
// follows a link's text after it: an address or a label.
func beforeLink(s string, end int) bool {
	return end < len(s) && (s[end] == '(' || s[end] == '[')
}

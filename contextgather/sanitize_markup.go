package contextgather

import (
	"bytes"
	"cmp"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// markdownParser parses as GitHub does: CommonMark with GFM's tables (whose
// pipes split cells before code spans are found), strikethrough and bare
// URLs (see autolinkParser), and HTML found as cmark-gfm finds it (see
// withGitHubHTML). Its link parser notes where each link and image ends
// (see linkEnds).
var markdownParser = goldmark.New(
	goldmark.WithParser(parser.NewParser(
		parser.WithBlockParsers(withGitHubHTML(parser.DefaultBlockParsers())...),
		parser.WithInlineParsers(append(withGitHubHTML(withLinkEnds(parser.DefaultInlineParsers())),
			util.Prioritized(autolinkParser{}, 450))...),
		parser.WithParagraphTransformers(parser.DefaultParagraphTransformers()...),
		// Task lists' check boxes where cmark-gfm finds them, and the
		// definitions after them (see taskCheckBoxes, taskReferences).
		parser.WithInlineParsers(util.Prioritized(taskCheckBoxes{extension.NewTaskCheckBoxParser()}, 0)),
		parser.WithParagraphTransformers(util.Prioritized(taskReferences{}, 101)),
		// Footnotes as extension.Footnote parses them, their definitions
		// opened as cmark-gfm opens them and noted as each closes (see
		// footnoteDefinitions).
		parser.WithBlockParsers(util.Prioritized(footnoteDefinitions{extension.NewFootnoteBlockParser()}, 999)),
		parser.WithInlineParsers(util.Prioritized(extension.NewFootnoteParser(), 101)),
		// Before goldmark's footnote transformer (999) drops the unused.
		parser.WithASTTransformers(util.Prioritized(footnoteCensus{}, 500),
			util.Prioritized(extension.NewFootnoteASTTransformer(), 999)),
	)),
	goldmark.WithExtensions(extension.Table, extension.Strikethrough),
).Parser()

// textSpan is a byte range [start, end) of a text.
type textSpan struct{ start, end int }

// textCut removes a span of the text, putting with in its place. An open
// cut is of HTML that nothing closes, which hides the rest of the page:
// the footnotes too, which GitHub puts after the text.
type textCut struct {
	textSpan
	with string
	open bool
}

// markupMap is where a Markdown text has code and raw HTML, and the link
// reference definitions and link titles GitHub does not show.
type markupMap struct {
	code []textSpan
	html [][]textSpan // one list per HTML block or inline HTML, in text order
	// blockEnds holds where each HTML block ends, by where it starts.
	blockEnds map[int]int
	refs      []*ast.LinkReferenceDefinition
	info      []textSpan // info strings of fenced code
	titles    []textSpan // titles of inline links, with the space before them
	images    []textCut  // images, outermost only, and what they become
	// empty are links with no text, which GitHub shows as nothing.
	empty []textSpan
	// excess are the cells of table rows past the header's number of
	// them, which GitHub leaves out.
	excess []textSpan
	// addresses are links whose address or label hides words, and what
	// they become (see hiddenAddress).
	addresses []textCut
	// used holds the labels links refer to, as util.ToLinkReference
	// writes them: a definition no link uses is shown nowhere.
	used map[string]bool
	// drawnComments are the comments in code GitHub draws rather than
	// shows (see drawnComments).
	drawnComments []textSpan
	// texRewrites says whether the text defines or colours anything in
	// math (see texRewrites): all its math goes then.
	texRewrites bool
	// footnotes are the footnotes' definitions.
	footnotes footnoteFacts
	// linkStarts holds where each link starts: what only looks like one,
	// a text in brackets and an address that never ends, is text.
	linkStarts map[int]bool
}

func parseMarkup(src []byte) markupMap {
	// Math definitions hold for the rest of the page, in whatever math
	// uses them: whether they are used is not worked out.
	m := markupMap{used: map[string]bool{}, blockEnds: map[int]int{}, linkStarts: map[int]bool{}, texRewrites: texRewrites(string(src))}
	pc := parser.NewContext()
	doc := markdownParser.Parse(text.NewReader(src), parser.WithContext(pc))
	if facts, ok := pc.Get(footnoteKey).(footnoteFacts); ok {
		m.footnotes = facts
	}
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.FencedCodeBlock:
			m.code = append(m.code, spansOf(n.Lines())...)
			if n.Info != nil {
				m.info = append(m.info, textSpan{n.Info.Segment.Start, n.Info.Segment.Stop})
			}
			m.drawnComments = append(m.drawnComments, drawnComments(src, n, m.texRewrites)...)
		case *ast.CodeBlock:
			m.code = append(m.code, spansOf(n.Lines())...)
		case *ast.CodeSpan:
			for c := n.FirstChild(); c != nil; c = c.NextSibling() {
				if t, ok := c.(*ast.Text); ok {
					m.code = append(m.code, textSpan{t.Segment.Start, t.Segment.Stop})
				}
			}
			return ast.WalkSkipChildren, nil
		case *ast.HTMLBlock:
			spans := spansOf(n.Lines())
			if n.HasClosure() {
				spans = append(spans, textSpan{n.ClosureLine.Start, n.ClosureLine.Stop})
			}
			if len(spans) > 0 {
				m.blockEnds[spans[0].start] = spans[len(spans)-1].end
			}
			m.html = append(m.html, spans)
		case *ast.RawHTML:
			m.html = append(m.html, spansOf(n.Segments))
		case *ast.LinkReferenceDefinition:
			m.refs = append(m.refs, n)
		case *east.TableRow:
			if e, ok := excessCells(src, n); ok {
				m.excess = append(m.excess, e)
			}
		case *ast.Link:
			m.linkStarts[n.Pos()] = true
			if n.Reference != nil {
				m.used[util.ToLinkReference(n.Reference.Value)] = true
			}
			if end, ok := linkEnd(src, n); ok && !hasText(src, n) {
				m.empty = append(m.empty, textSpan{n.Pos(), end})
				m.html = append(m.html, rawHTMLIn(n)...)
				return ast.WalkSkipChildren, nil
			}
			if title, ok := linkTitle(src, n); ok {
				m.titles = append(m.titles, title)
			}
			if cut, ok := hiddenAddress(src, n); ok {
				m.addresses = append(m.addresses, cut)
			}
		case *ast.Image:
			if end, ok := linkEnd(src, n); ok {
				m.images = append(m.images, textCut{textSpan: textSpan{n.Pos(), end}, with: imageMention()})
			}
			m.html = append(m.html, rawHTMLIn(n)...)
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	slices.SortStableFunc(m.html, func(a, b []textSpan) int { return cmp.Compare(firstStart(a), firstStart(b)) })
	return m
}

// excessCells returns where the cells of a table row past the header's
// number of them are: from the end of the last cell the parser kept,
// which stops at the header's number, to the end of the line.
func excessCells(src []byte, row *east.TableRow) (textSpan, bool) {
	last := row.LastChild()
	if last == nil || last.Lines().Len() == 0 {
		return textSpan{}, false
	}
	start := last.Lines().At(last.Lines().Len() - 1).Stop
	end := len(src)
	if i := bytes.IndexByte(src[start:], '\n'); i >= 0 {
		end = start + i
	}
	// A row that has no more cells ends with a "|", or nothing.
	if rest := bytes.TrimSpace(src[start:end]); len(rest) == 0 || string(rest) == "|" {
		return textSpan{}, false
	}
	return textSpan{start, end}, true
}

// rawHTMLIn returns the raw HTML in what n holds. What an image or an
// empty link holds goes with it, but HTML in it that hides text after it
// (a comment, a <style> left open) must be seen: GitHub need not have
// taken it for an image or a link ("![a <style>](<<b>)" is none there).
func rawHTMLIn(n ast.Node) [][]textSpan {
	var html [][]textSpan
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if raw, ok := c.(*ast.RawHTML); ok && entering {
			html = append(html, spansOf(raw.Segments))
		}
		return ast.WalkContinue, nil
	})
	return html
}

func spansOf(segs *text.Segments) []textSpan {
	out := make([]textSpan, 0, segs.Len())
	for i := range segs.Len() {
		s := segs.At(i)
		out = append(out, textSpan{s.Start, s.Stop})
	}
	return out
}

func firstStart(spans []textSpan) int {
	if len(spans) == 0 {
		return -1
	}
	return spans[0].start
}

// What stripHiddenMarkup makes of each byte.
const (
	classProse byte = iota
	classCode
	classGone
)

// stripHiddenMarkup removes what GitHub parses and never shows, and
// rewrites images as [image]; code is left alone unless a comment opened
// before it swallows it.
func stripHiddenMarkup(s string) string {
	m := parseMarkup([]byte(s))
	class := make([]byte, len(s))
	for _, c := range m.code {
		fillClass(class, c, classCode)
	}
	with := map[int]string{}
	var opened []int // where HTML nothing closes starts
	drop := func(cuts ...textCut) {
		for _, c := range cuts {
			if c.open {
				opened = append(opened, c.start)
			}
			// A cut replaces whatever cuts inside it would have put in.
			for k := max(c.start, 0); k < c.end; k++ {
				delete(with, k)
			}
			fillClass(class, c.textSpan, classGone)
			if c.with != "" {
				with[c.start] = c.with
			}
		}
	}
	drop(hiddenHTML(s, strayHTML(s, class, m.html), nil)...)
	drop(hiddenHTML(s, m.html, m.blockEnds)...)
	drop(hiddenReferences(s, m.refs, m.used)...)
	drop(fenceInfo(s, m.info)...)
	for _, t := range m.titles {
		drop(textCut{textSpan: t})
	}
	for _, e := range m.empty {
		drop(textCut{textSpan: e})
	}
	for _, e := range m.excess {
		drop(textCut{textSpan: e})
	}
	for _, c := range m.drawnComments {
		drop(textCut{textSpan: c})
	}
	for _, a := range m.addresses {
		if class[a.start] != classGone {
			drop(a)
		}
	}
	for _, im := range m.images {
		// An image inside a comment is as hidden as the rest of it.
		if class[im.start] != classGone {
			drop(im)
		}
	}
	for _, c := range mathHidden(s, class, m.texRewrites) {
		drop(textCut{textSpan: c})
	}
	for _, c := range brokenLabelsOfNoLinkOrAroundCode(s, class, m.linkStarts) {
		drop(c)
	}
	unusedNotes, usedNotes := m.footnotes.resolve(s, class)
	for _, f := range unusedNotes {
		drop(textCut{textSpan: f})
	}
	// After the footnotes nobody sees: a comment opened in one is no
	// comment on GitHub's page.
	if p := openComment(s, class); p >= 0 {
		drop(textCut{textSpan: textSpan{p, len(s)}, open: true})
	}
	// HTML nothing closes hides the rest of the page, where GitHub puts
	// the footnotes; references to them still show as numbers. HTML in a
	// footnote nobody sees is on no page.
	inUnusedNote := func(at int) bool {
		return slices.ContainsFunc(unusedNotes, func(f textSpan) bool { return f.start <= at && at < f.end })
	}
	if slices.ContainsFunc(opened, func(at int) bool { return !inUnusedNote(at) }) {
		for _, f := range m.footnotes.lines() {
			drop(textCut{textSpan: f})
		}
	}

	notes := footnotes{used: usedNotes, numbers: map[string]int{}}
	var out, text strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && class[j] == class[i] {
			j++
		}
		switch class[i] {
		case classProse:
			text.WriteString(s[i:j])
		case classCode:
			out.WriteString(notes.number(rewriteProse(text.String())))
			text.Reset()
			out.WriteString(s[i:j])
		case classGone:
			for k := i; k < j; k++ {
				text.WriteString(with[k])
			}
		}
		i = j
	}
	out.WriteString(notes.number(rewriteProse(text.String())))
	return out.String()
}

// openComment returns where a comment opens in prose that no "-->"
// after it closes, or -1. GitHub shows such a comment as text when it is
// inside a paragraph, yet it is dropped to the end all the same: the cost
// is a little visible text, and a parser that disagreed with GitHub on
// where HTML starts could otherwise show the agent what GitHub hid.
// "<!-->" and "<!--->" are no such comment: a browser takes each for a
// whole one, and GitHub shows them as text.
func openComment(s string, class []byte) int {
	lastClose := strings.LastIndex(s, "-->")
	for p := 0; ; {
		i := strings.Index(s[p:], "<!--")
		if i < 0 {
			return -1
		}
		p += i
		whole := strings.HasPrefix(s[p:], "<!-->") || strings.HasPrefix(s[p:], "<!--->")
		if class[p] == classProse && lastClose < p+len("<!--") && !whole {
			return p
		}
		p += len("<!--")
	}
}

func fillClass(class []byte, s textSpan, c byte) {
	for i := max(s.start, 0); i < min(s.end, len(class)); i++ {
		class[i] = c
	}
}

// hiddenReferences rewrites link reference definitions, which GitHub
// never shows: only an address that is a URL or a path, of a definition a
// link uses, stays, bare, as that link shows it on hover; the label and
// the title, which can hold any words, go, and so does "[//]: # (...)", a
// way to write a comment, an address in angle brackets with spaces in it,
// and a definition no link uses, which nothing shows.
func hiddenReferences(s string, refs []*ast.LinkReferenceDefinition, used map[string]bool) []textCut {
	var cuts []textCut
	for _, ref := range refs {
		lines := ref.Lines()
		if lines.Len() == 0 {
			continue
		}
		c := textCut{textSpan: textSpan{lines.At(0).Start, lines.At(lines.Len() - 1).Stop}}
		if c.start < 0 || c.end > len(s) || c.start >= c.end {
			continue
		}
		if dest := string(ref.Destination); isAddress(dest) && used[util.ToLinkReference(ref.Label)] {
			c.with = dest
		}
		if c.with != s[c.start:c.end] {
			cuts = append(cuts, c)
		}
	}
	return cuts
}

// isAddress says whether a link's destination is a URL or a path, and so
// no place for words.
func isAddress(dest string) bool {
	if dest == "" || strings.ContainsFunc(dest, unicode.IsSpace) {
		return false
	}
	return strings.Contains(dest, "://") || strings.HasPrefix(dest, "/") || strings.HasPrefix(dest, "./") ||
		strings.HasPrefix(dest, "../") || strings.HasPrefix(dest, "mailto:")
}

// fenceInfo cuts the info strings of fenced code, of which GitHub shows
// nothing: only the first word stays, taken for the language, and only
// if it looks like the name of one (go, c++, c#, objective-c, .env), not
// like words joined by punctuation.
func fenceInfo(s string, infos []textSpan) []textCut {
	var cuts []textCut
	for _, in := range infos {
		if in.start < 0 || in.end > len(s) || in.start >= in.end {
			continue
		}
		info := s[in.start:in.end]
		keep, _, _ := strings.Cut(strings.ReplaceAll(info, "\t", " "), " ")
		if !languageName.MatchString(keep) {
			keep = ""
		}
		if len(keep) < len(info) {
			cuts = append(cuts, textCut{textSpan: textSpan{in.start + len(keep), in.end}})
		}
	}
	return cuts
}

// drawnComments are what GitHub draws of a fenced block rather than show
// as code, and never shows: a mermaid diagram's comments, title and
// description (see mermaidHidden); in math, what TeX hides (see
// texHidden), or all of it where the text defines or colours (rewrites:
// see texRewrites); and all of a map (geojson, topojson) or a 3D model
// (stl), whose text shows nowhere.
func drawnComments(src []byte, n *ast.FencedCodeBlock, rewrites bool) []textSpan {
	language := strings.ToLower(string(n.Language(src)))
	lines := spansOf(n.Lines())
	if len(lines) == 0 {
		return nil
	}
	whole := textSpan{lines[0].start, lines[len(lines)-1].end}
	switch {
	case language == "geojson" || language == "topojson" || language == "stl":
		return []textSpan{whole}
	case language == "math" && rewrites:
		return []textSpan{whole}
	case language == "mermaid":
		return mermaidHidden(src, lines)
	case language != "math":
		return nil
	}
	var out []textSpan
	for _, line := range lines {
		text := strings.TrimRight(string(src[line.start:line.end]), "\r\n")
		out = append(out, texHidden(text, line.start, false)...)
	}
	return out
}

// languageName is what fenceInfo takes for the name of a language.
var languageName = regexp.MustCompile(`^[A-Za-z0-9+#._-]{1,32}$`)

// withoutCode blanks the code in a Markdown text, keeping its length and
// lines, so what is read from it next (references to issues, say) comes
// from prose only, as on GitHub.
func withoutCode(s string) string {
	b := []byte(s)
	for _, c := range parseMarkup(b).code {
		for i := c.start; i < c.end && i < len(b); i++ {
			if b[i] != '\n' {
				b[i] = ' '
			}
		}
	}
	return string(b)
}

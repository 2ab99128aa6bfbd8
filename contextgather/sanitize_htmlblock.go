package contextgather

import (
	"bytes"
	"strings"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// GitHub renders Markdown with cmark-gfm, which follows CommonMark 0.29;
// goldmark follows 0.31, and the two disagree on what is raw HTML. Where
// goldmark saw text and GitHub HTML, Sanitize kept what the page hid:
// goldmark took "<?>" for a whole processing instruction, "<!X<" for a
// declaration, "<!-- a -- b -->" for a comment (0.29 has none with "--"
// inside), and "<search>" for the start of an HTML block; GitHub took
// none of these, and found the HTML inside or after them. So the parser
// finds HTML blocks and inline HTML as cmark-gfm does, and Sanitize's
// reading of the HTML, as a browser reads it, starts from the same HTML
// as GitHub's page. The rules below are cmark-gfm's (its scanners.re),
// checked against Debian's cmark-gfm 0.29.0.gfm.6, which
// TestSanitizeKeepsOnlyWhatGitHubShows runs.

// withGitHubHTML is parsers with goldmark's HTML block parser, or its
// inline raw HTML parser, replaced by one that follows cmark-gfm.
func withGitHubHTML(parsers []util.PrioritizedValue) []util.PrioritizedValue {
	for i, p := range parsers {
		switch p.Value {
		case parser.NewHTMLBlockParser():
			parsers[i].Value = htmlBlockParser{}
		case parser.NewRawHTMLParser():
			parsers[i].Value = rawHTMLParser{}
		}
	}
	return parsers
}

// htmlBlockParser starts and ends HTML blocks as cmark-gfm does.
type htmlBlockParser struct{}

func (htmlBlockParser) Trigger() []byte { return []byte{'<'} }

func (htmlBlockParser) Open(parent ast.Node, reader text.Reader, pc parser.Context) (ast.Node, parser.State) {
	line, segment := reader.PeekLine()
	// Indentation is measured in columns, a tab to the next multiple of 4.
	at := pc.BlockOffset()
	if at < 0 || pc.BlockIndent() > 3 {
		return nil, parser.NoChildren
	}
	// Like cmark-gfm, a tag alone on its line does not interrupt a
	// paragraph, but it does end one in a list item or quote the line is
	// not part of (goldmark would take the line into that paragraph), and
	// one that is a table by now (see tableStarted).
	last := pc.LastOpenedBlock().Node
	may7 := last == nil || !ast.IsParagraph(last) || last.Parent() != parent || tableStarted(last, reader.Source(), pc)
	kind := htmlBlockStart(line[at:], may7)
	if kind == 0 {
		return nil, parser.NoChildren
	}
	node := ast.NewHTMLBlock(kind)
	reader.AdvanceToEOL()
	node.Lines().Append(segment)
	return node, parser.NoChildren
}

func (htmlBlockParser) Continue(node ast.Node, reader text.Reader, _ parser.Context) parser.State {
	block := node.(*ast.HTMLBlock)
	line, segment := reader.PeekLine()
	if block.HTMLBlockType >= ast.HTMLBlockType6 {
		if util.IsBlank(line) {
			return parser.Close
		}
	} else {
		// The line that starts a block may end it too.
		if first := block.Lines().At(0); block.Lines().Len() == 1 && htmlBlockEnds(block.HTMLBlockType, first.Value(reader.Source())) {
			return parser.Close
		}
		if htmlBlockEnds(block.HTMLBlockType, line) {
			block.ClosureLine = segment
			reader.AdvanceToEOL()
			return parser.Close
		}
	}
	node.Lines().Append(segment)
	reader.AdvanceToEOL()
	return parser.Continue | parser.NoChildren
}

func (htmlBlockParser) Close(ast.Node, text.Reader, parser.Context) {}
func (htmlBlockParser) CanInterruptParagraph() bool                 { return true }
func (htmlBlockParser) CanAcceptIndentedLine() bool                 { return false }

// tableStarted says whether a paragraph's lines hold a table as
// cmark-gfm's table extension reads them: a delimiter row ("|---|:-:|")
// after a line of as many cells. The extension makes the table at that
// row, where goldmark makes it only when the paragraph ends: until then a
// line that starts a block on GitHub is a row to goldmark. What has been
// looked at is kept in pc, so that each line is looked at once however
// many lines of the paragraph start with "<".
func tableStarted(paragraph ast.Node, source []byte, pc parser.Context) bool {
	st, _ := pc.Get(tableKey).(*tableState)
	if st == nil || st.paragraph != paragraph {
		st = &tableState{paragraph: paragraph, next: 1}
		pc.Set(tableKey, st)
	}
	lines := paragraph.Lines()
	line := func(i int) []byte {
		seg := lines.At(i)
		return seg.Value(source)
	}
	for ; !st.found && st.next < lines.Len(); st.next++ {
		if n := delimiterCells(line(st.next)); n > 0 && rowCells(line(st.next-1)) == n {
			st.found = true
		}
	}
	return st.found
}

// tableState is what tableStarted has found of a paragraph: whether it
// holds a table, and, if not, the next line to look at.
type tableState struct {
	paragraph ast.Node
	next      int
	found     bool
}

var tableKey = parser.NewContextKey()

// delimiterCells returns how many cells a table's delimiter row has, or 0
// if line is none: cells of "-", with a ":" at either end or none, and
// white space around, between "|"s, the outer ones left out or not.
func delimiterCells(line []byte) int {
	s := strings.TrimRight(string(line), " \t\n")
	s = strings.TrimPrefix(strings.TrimLeft(s, " "), "|")
	if strings.HasSuffix(s, "|") {
		s = s[:len(s)-1]
	}
	cells := strings.Split(s, "|")
	for _, c := range cells {
		c = strings.TrimSuffix(strings.TrimPrefix(strings.Trim(c, " \t"), ":"), ":")
		if c == "" || strings.Trim(c, "-") != "" {
			return 0
		}
	}
	return len(cells)
}

// rowCells returns how many cells a table row has: the parts between its
// "|"s, but for one a "\" escapes, a "|" at either end setting off no
// empty cell.
func rowCells(line []byte) int {
	s := strings.TrimRight(string(line), " \t\n")
	s = strings.TrimPrefix(s, "|")
	if s == "" {
		return 0
	}
	n := 1
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\':
			i++
		case s[i] == '|' && i < len(s)-1:
			n++
		}
	}
	return n
}

// blockTags are the tag names that start an HTML block of type 6 in
// cmark-gfm: goldmark adds meta and search.
var blockTags = map[string]bool{}

func init() {
	for _, t := range strings.Fields(`address article aside base basefont blockquote body caption center
		col colgroup dd details dialog dir div dl dt fieldset figcaption figure footer form frame frameset
		h1 h2 h3 h4 h5 h6 head header hr html iframe legend li link main menu menuitem nav noframes ol
		optgroup option p param section summary table tbody td tfoot th thead title tr track ul`) {
		blockTags[t] = true
	}
}

// htmlBlockStart returns the type of the HTML block line starts, after
// its indentation, or 0. Type 7, any tag alone on its line, may not
// interrupt a paragraph.
func htmlBlockStart(line []byte, may7 bool) ast.HTMLBlockType {
	s := string(line)
	lower := strings.ToLower(s)
	switch {
	case !strings.HasPrefix(s, "<"):
		return 0
	case startsTag(lower, "<script", "<pre", "<style"):
		return ast.HTMLBlockType1
	case strings.HasPrefix(s, "<!--"):
		return ast.HTMLBlockType2
	case strings.HasPrefix(s, "<?"):
		return ast.HTMLBlockType3
	case len(s) > 2 && s[1] == '!' && s[2] >= 'A' && s[2] <= 'Z':
		return ast.HTMLBlockType4
	case strings.HasPrefix(lower, "<![cdata["):
		return ast.HTMLBlockType5
	}
	name := strings.TrimPrefix(lower[1:], "/")
	end := 0
	for end < len(name) && (isASCIILetter(name[end]) || isDigit(name[end]) || name[end] == '-') {
		end++
	}
	if rest := name[end:]; blockTags[name[:end]] && (rest == "" || isSpacechar(rest[0]) || strings.HasPrefix(rest, ">") || strings.HasPrefix(rest, "/>")) {
		return ast.HTMLBlockType6
	}
	if !may7 {
		return 0
	}
	n := tagAt(line, 0)
	if n == 0 || strings.TrimLeft(s[n:], " \t\f\r\n") != "" {
		return 0
	}
	return ast.HTMLBlockType7
}

// startsTag says whether s starts with one of the tags, followed by white
// space, ">" or the end of the line.
func startsTag(s string, tags ...string) bool {
	for _, t := range tags {
		if rest, ok := strings.CutPrefix(s, t); ok && (rest == "" || rest[0] == '>' || isSpacechar(rest[0])) {
			return true
		}
	}
	return false
}

// htmlBlockEnders are what ends an HTML block, by CommonMark's kind, as
// cmark-gfm reads them: a line holding </pre>, </script> or </style> (in
// any case) ends the first kind whichever opened it; "-->" a comment, "?>"
// a processing instruction, ">" a declaration such as <!DOCTYPE, and "]]>"
// CDATA. The other kinds end at a blank line.
var htmlBlockEnders = map[ast.HTMLBlockType][]string{
	ast.HTMLBlockType1: {"</pre>", "</script>", "</style>"},
	ast.HTMLBlockType2: {"-->"},
	ast.HTMLBlockType3: {"?>"},
	ast.HTMLBlockType4: {">"},
	ast.HTMLBlockType5: {"]]>"},
}

// htmlBlockEnds says whether line ends an HTML block of the given type.
func htmlBlockEnds(kind ast.HTMLBlockType, line []byte) bool {
	if kind == ast.HTMLBlockType1 {
		line = bytes.ToLower(line)
	}
	for _, end := range htmlBlockEnders[kind] {
		if bytes.Contains(line, []byte(end)) {
			return true
		}
	}
	return false
}

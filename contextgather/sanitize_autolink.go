package contextgather

import (
	"bytes"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// autolinkParser links bare URLs (http://…, https://…, ftp://…, www.…)
// where cmark-gfm's autolink extension does, as GitHub renders them: as
// it reads a paragraph, not after, so a backtick in one opens no code
// span and a backslash escapes nothing. Without it, in
// "http://x.example/`<!-- … -->`" goldmark took the comment for code,
// which Sanitize keeps, and GitHub links "http://x.example/`" and hides
// the comment. (The extension links e-mail addresses after reading, which
// changes nothing else.) The rules are its autolink.c's.
type autolinkParser struct{}

// Trigger is ":" for a URL, whose scheme is read back from it, and what
// may come before "www.".
func (autolinkParser) Trigger() []byte { return []byte{':', ' ', '*', '_', '~', '('} }

func (autolinkParser) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	if pc.IsInLinkLabel() {
		return nil
	}
	line, seg := block.PeekLine()
	if len(line) == 0 {
		return nil
	}
	if line[0] == ':' {
		return urlLink(parent, block, line, seg)
	}
	// After a space, one of "*_~(", or at the start of a line.
	skip := 0
	if bytes.IndexByte([]byte(" \t*_~("), line[0]) >= 0 {
		skip = 1
	}
	data := line[skip:]
	if !bytes.HasPrefix(data, []byte("www.")) {
		return nil
	}
	end := domainLength(data, false)
	if end == 0 {
		return nil
	}
	if end = autolinkEnd(data, end); end == 0 {
		return nil
	}
	if skip > 0 {
		ast.MergeOrAppendTextSegment(parent, seg.WithStop(seg.Start+skip))
	}
	block.Advance(skip + end)
	return ast.NewAutoLink(ast.AutoLinkURL, ast.NewTextSegment(text.NewSegment(seg.Start+skip, seg.Start+skip+end)))
}

// urlLink links the URL whose "://" starts line, taking its scheme back
// from the text before it.
func urlLink(parent ast.Node, block text.Reader, line []byte, seg text.Segment) ast.Node {
	if len(line) < 4 || line[1] != '/' || line[2] != '/' {
		return nil
	}
	before, ok := parent.LastChild().(*ast.Text)
	if !ok || before.Segment.Stop != seg.Start {
		return nil
	}
	src := block.Source()
	rewind := 0
	for rewind < before.Segment.Len() && isASCIILetter(src[seg.Start-rewind-1]) {
		rewind++
	}
	switch string(bytes.ToLower(src[seg.Start-rewind : seg.Start])) {
	case "http", "https", "ftp":
	default:
		return nil
	}
	if !isHostChar(line[3:]) {
		return nil
	}
	domain := domainLength(line[3:], true)
	if domain == 0 {
		return nil
	}
	end := autolinkEnd(line, 3+domain)
	if end == 0 {
		return nil
	}
	before.Segment = before.Segment.WithStop(seg.Start - rewind)
	if before.Segment.Len() == 0 {
		parent.RemoveChild(parent, before)
	}
	block.Advance(end)
	return ast.NewAutoLink(ast.AutoLinkURL, ast.NewTextSegment(text.NewSegment(seg.Start-rewind, seg.Start+end)))
}

// domainLength returns how much of data is a domain, as cmark-gfm's
// check_domain has it (from the second byte, to the last but one), or 0
// if it has an underscore in its last two parts or, unless short
// domains are allowed, no dot.
func domainLength(data []byte, short bool) int {
	i, dots, underscores1, underscores2 := 1, 0, 0, 0
	for ; i < len(data)-1; i++ {
		switch c := data[i]; {
		case c == '_':
			underscores2++
		case c == '.':
			underscores1, underscores2 = underscores2, 0
			dots++
		case !isHostChar(data[i:]) && c != '-':
			return domainEnd(i, dots, underscores1+underscores2, short)
		}
	}
	return domainEnd(i, dots, underscores1+underscores2, short)
}

func domainEnd(i, dots, underscores int, short bool) int {
	if underscores > 0 || !short && dots == 0 {
		return 0
	}
	return i
}

// isHostChar says whether data starts with a character that may be in a
// host name: valid UTF-8, neither white space nor punctuation.
func isHostChar(data []byte) bool {
	r, size := utf8.DecodeRune(data)
	if r == utf8.RuneError && size <= 1 {
		return false
	}
	if r < utf8.RuneSelf {
		return !isTagSpace(byte(r)) && !isASCIIPunct(byte(r))
	}
	return !unicode.Is(unicode.Zs, r) && !unicode.IsPunct(r)
}

func isASCIIPunct(c byte) bool {
	return c > ' ' && c < 0x7f && !isASCIILetter(c) && !isDigit(c)
}

// autolinkEnd returns where a link from data[0] ends that runs to the first
// white space after end: before any "<", and before what punctuation ends
// it (".", a ")" more than its "(", "&amp;" and the like), as
// autolink_delim has it.
func autolinkEnd(data []byte, end int) int {
	for end < len(data) && !isSpacechar(data[end]) {
		end++
	}
	if i := bytes.IndexByte(data[:end], '<'); i >= 0 {
		end = i
	}
	for end > 0 {
		switch c := data[end-1]; {
		case bytes.IndexByte([]byte("?!.,:*_~'\""), c) >= 0:
			end--
		case c == ';':
			j := end - 2
			for j > 0 && isASCIILetter(data[j]) {
				j--
			}
			if j < end-2 && data[j] == '&' {
				end = j
			} else {
				end--
			}
		case c == ')' && bytes.Count(data[:end], []byte(")")) > bytes.Count(data[:end], []byte("(")):
			end--
		default:
			return end
		}
	}
	return end
}

package contextgather

import "strings"

// hiddenHTML reduces the raw HTML of nodes to what a browser shows: tags
// keep their name and lose their attributes, whose values (a title, a
// data-* attribute, a srcset) are never shown as text; image tags go
// whole; and what is never shown goes: comments, the contents of script,
// style, noscript, template and rp elements. What is hidden is decided as
// HTML decides it, not CommonMark, since the page is HTML by then: a
// comment runs to the first "-->" in raw HTML, and an element to its end
// tag, across Markdown blocks or to the end of the text (text between is
// escaped by GitHub and cannot close them); a "bogus comment" (<?...>,
// <!...> as in <!DOCTYPE> or <![CDATA[, and </ not followed by a tag
// name) ends at the first ">". A bogus comment or a tag that its node
// does not close, say with a quote left open, would take in what follows
// on the page, so it runs to the end of the text.
//
// GitHub's tag filter writes some tags as text (<script>, <style>,
// <textarea> and a few more), and what is in them is HTML on its page,
// where a comment or a tag in them may run on past their end tag; a
// browser reads them as elements. So the HTML is read both ways, and what
// either hides goes.
func hiddenHTML(s string, nodes [][]textSpan, blockEnds map[int]int) []textCut {
	var cuts []textCut
	for _, filtered := range []bool{true, false} {
		h := htmlText{s: s, lower: asciiLower(s), nodes: nodes, blockEnds: blockEnds, tagFilter: filtered}
		h.each(0, 0, func(c textCut) bool {
			if s[c.start:c.end] != c.with {
				cuts = append(cuts, c)
			}
			return true
		})
	}
	return cuts
}

// htmlText is a text and the raw HTML in it, one list of spans for each
// HTML block or inline HTML, in text order; lower is the text in lower
// case (see asciiLower). tagFilter reads it as GitHub's tag filter has
// it (see filteredTags). inTemplate is set while the contents of a
// template are read.
type htmlText struct {
	s, lower   string
	nodes      [][]textSpan
	blockEnds  map[int]int // where each node that is an HTML block ends, by where it starts
	tagFilter  bool
	inTemplate bool
	// rpAsAny reads an rp as any other element, for the look through the
	// text that finds where one ends (see rpEnd).
	rpAsAny bool
}

// each calls f, in order, with how each piece of HTML in the raw HTML
// from byte from of nodes[ni] on is cut (see at), skipping what the piece
// takes in, until f returns false.
func (h htmlText) each(ni, from int, f func(textCut) bool) {
	done := from // the text before done is cut or looked at
	for ; ni < len(h.nodes); ni++ {
		for _, seg := range h.nodes[ni] {
			for p := max(seg.start, done); p < seg.end; p++ {
				if h.s[p] != '<' {
					continue
				}
				c, resume, ok := h.at(ni, p, seg.end)
				if !ok {
					continue
				}
				if !f(c) {
					return
				}
				done = resume
				p = resume - 1
			}
		}
	}
}

// filteredTags are the tags GitHub's tag filter writes as text.
var filteredTags = map[string]bool{"script": true, "style": true, "textarea": true, "title": true, "xmp": true,
	"iframe": true, "noembed": true, "noframes": true, "plaintext": true}

// hiddenElements are the elements whose contents a browser never shows
// (and rp, its end found otherwise: see rpEnd).
var hiddenElements = map[string]bool{"script": true, "style": true, "noscript": true, "template": true}

// textElements are the elements whose contents a browser reads as text,
// up to their end tag (a plaintext has none): markup in them is no
// markup, and in a template, which hides them, not the template's end.
var textElements = map[string]bool{"textarea": true, "title": true, "xmp": true, "iframe": true,
	"noembed": true, "noframes": true, "plaintext": true}

// at returns how the HTML at s[p] is cut: a construct that shows nothing
// goes, a tag becomes its bare name; and where the HTML after it resumes,
// past the text of an element a browser reads as text (see
// textElements); false when s[p] starts neither.
func (h htmlText) at(ni, p, segEnd int) (textCut, int, bool) {
	s := h.s
	rest := s[p:segEnd]
	to := func(end int) (textCut, int, bool) { return textCut{textSpan: textSpan{p, end}}, end, true }
	// ends cuts to end, open when nothing closed what it cut.
	ends := func(end int, closed bool) (textCut, int, bool) {
		c, resume, ok := to(end)
		c.open = !closed
		return c, resume, ok
	}
	switch {
	case strings.HasPrefix(rest, "<!-->"):
		return to(p + len("<!-->"))
	case strings.HasPrefix(rest, "<!--->"):
		return to(p + len("<!--->"))
	case strings.HasPrefix(rest, "<!--"):
		if end := h.search(ni, p+len("<!--"), false, "-->", "--!>"); end >= 0 {
			return to(end)
		}
		return ends(len(s), false)
	case strings.HasPrefix(rest, "<!"), strings.HasPrefix(rest, "<?"),
		len(rest) > 2 && rest[1] == '/' && !isASCIILetter(rest[2]) && rest[2] != '>':
		if end := h.search(ni, p+2, true, ">"); end >= 0 {
			return to(end)
		}
		// It runs on to the next ">" on the page, which may be past text
		// (a paragraph in a tight list item has no <p>).
		return ends(len(s), false)
	}
	name, closing, end := h.tag(ni, p)
	lowerName := strings.ToLower(name)
	element := !closing && !(h.tagFilter && filteredTags[lowerName])
	switch {
	case name == "":
		return textCut{}, 0, false
	case end < 0:
		return ends(len(s), false)
	case lowerName == "img":
		return to(end)
	case element && (hiddenElements[lowerName] || h.inTemplate && textElements[lowerName]):
		return ends(h.elementEnd(ni, end, lowerName))
	case element && lowerName == "rp" && !h.inTemplate && !h.rpAsAny:
		// Not open even when it hides the rest: the footnotes GitHub
		// puts after it close its paragraph, and it with it.
		return to(h.rpEnd(ni, end))
	case element && textElements[lowerName]:
		// Shown, but read as text: the HTML resumes at its end tag.
		resume := len(s)
		if _, q := h.endTagAt(ni, end, lowerName); q >= 0 && lowerName != "plaintext" {
			resume = q
		}
		return textCut{textSpan: textSpan{p, end}, with: "<" + name + ">"}, resume, true
	case closing:
		return textCut{textSpan: textSpan{p, end}, with: "</" + name + ">"}, end, true
	default:
		return textCut{textSpan: textSpan{p, end}, with: "<" + name + ">"}, end, true
	}
}

// tag reads the tag at s[p], in the bytes of nodes[ni], as a browser's
// tokenizer does: its name, whether it is an end tag, and where it ends,
// just after its ">". A quote opens a value only after "=": elsewhere it
// is part of a name, as in <div "a title="b">, whose value runs from
// the second quote on. The name is "" when s[p] starts no tag, and end
// -1 when the node does not close the tag.
func (h htmlText) tag(ni, p int) (name string, closing bool, end int) {
	s := h.s
	i := p + 1
	if i < len(s) && s[i] == '/' {
		closing = true
		i++
	}
	if i >= len(s) || !isASCIILetter(s[i]) {
		return "", false, -1
	}
	const (
		inName = iota
		beforeAttribute
		inAttribute
		afterAttribute
		beforeValue
		inValue
		afterValue
		selfClosing
	)
	state, nameEnd := inName, -1
	b := newNodeBytes(s, h.nodes[ni], i)
	for {
		at, c, ok := b.next()
		if state == inName && (!ok || isTagSpace(c) || c == '/' || c == '>') {
			nameEnd = b.i
			if ok {
				nameEnd = at
			}
		}
		switch {
		case !ok:
			return s[i:nameEnd], closing, -1
		case c == '>':
			return s[i:nameEnd], closing, at + 1
		}
		space := isTagSpace(c)
		switch state {
		case inName:
			if space {
				state = beforeAttribute
			} else if c == '/' {
				state = selfClosing
			}
		case beforeAttribute, selfClosing:
			if !space && c != '/' {
				state = inAttribute
			}
		case inAttribute:
			switch {
			case space:
				state = afterAttribute
			case c == '/':
				state = selfClosing
			case c == '=':
				state = beforeValue
			}
		case afterAttribute:
			switch {
			case c == '/':
				state = selfClosing
			case c == '=':
				state = beforeValue
			case !space:
				state = inAttribute
			}
		case beforeValue:
			if c == '"' || c == '\'' {
				if !b.skipPast(c) {
					return s[i:nameEnd], closing, -1
				}
				state = afterValue
			} else if !space {
				state = inValue
			}
		case inValue:
			if space {
				state = beforeAttribute
			}
		case afterValue:
			switch {
			case space:
				state = beforeAttribute
			case c == '/':
				state = selfClosing
			default:
				state = inAttribute
			}
		}
	}
}

// isTagSpace says whether c is white space in a tag, as HTML has it.
func isTagSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// nodeBytes walks the bytes of a node's spans, from a byte on.
type nodeBytes struct {
	s    string
	segs []textSpan
	k, i int // the next byte is s[i], in segs[k]
}

func newNodeBytes(s string, segs []textSpan, from int) *nodeBytes {
	b := &nodeBytes{s: s, segs: segs, i: from}
	for b.k < len(segs) && segs[b.k].end <= from {
		b.k++
	}
	if b.k < len(segs) {
		b.i = max(segs[b.k].start, from)
	}
	return b
}

// next returns the next byte and where it is, or false at the end.
func (b *nodeBytes) next() (int, byte, bool) {
	for b.k < len(b.segs) && b.i >= b.segs[b.k].end {
		b.k++
		if b.k < len(b.segs) {
			b.i = b.segs[b.k].start
		}
	}
	if b.k >= len(b.segs) {
		return -1, 0, false
	}
	b.i++
	return b.i - 1, b.s[b.i-1], true
}

// skipPast moves past the next c, or returns false if there is none.
func (b *nodeBytes) skipPast(c byte) bool {
	for {
		_, d, ok := b.next()
		if !ok || d == c {
			return ok
		}
	}
}

// elementEnd returns where the hidden element whose start tag ends at
// from ends: just after its end tag in the raw HTML of nodes[ni] or of
// the nodes after it, or at the end of the text if it has none; and
// whether an end tag closed it.
func (h htmlText) elementEnd(ni, from int, name string) (end int, closed bool) {
	end = len(h.s)
	switch name {
	case "template":
		// A template's contents are HTML: its end tag may be in a
		// comment, or end a template inside it.
		t := h
		t.inTemplate = true
		t.each(ni, from, func(c textCut) bool {
			if strings.EqualFold(c.with, "</template>") {
				end, closed = c.end, true
				return false
			}
			return true
		})
		return end, closed
	case "script":
		return h.scriptEnd(ni, from)
	case "plaintext":
		// Nothing ends it.
	default:
		if nj, q := h.endTagAt(ni, from, name); q >= 0 {
			return h.tagEnd(nj, q)
		}
	}
	return end, false
}

// endTagAt returns where the first end tag of the named element in the
// raw HTML of nodes[ni] and after, from byte from on, starts, and the
// index of its node; -1 if there is none.
func (h htmlText) endTagAt(ni, from int, name string) (int, int) {
	for ; ni < len(h.nodes); ni++ {
		for _, seg := range h.nodes[ni] {
			for p := max(seg.start, from); p < seg.end; p++ {
				if h.endTag(p, name) {
					return ni, p
				}
			}
		}
	}
	return -1, -1
}

// scriptEnd is elementEnd for a script, whose text a browser reads in
// states: after "<!--" a "<script" starts a part in which "</script"
// ends only that part, up to "-->".
func (h htmlText) scriptEnd(ni, from int) (int, bool) {
	const (
		data = iota
		escaped
		doubleEscaped
	)
	state := data
	for ; ni < len(h.nodes); ni++ {
		for _, seg := range h.nodes[ni] {
			for p := max(seg.start, from); p < seg.end; p++ {
				switch {
				case state == data && strings.HasPrefix(h.s[p:], "<!--"):
					state = escaped
					p++ // "<!-->" goes back at once
				case state != data && strings.HasPrefix(h.s[p:], "-->"):
					state = data
				case state != doubleEscaped && h.endTag(p, "script"):
					return h.tagEnd(ni, p)
				case state == escaped && h.startTag(p, "script"):
					state = doubleEscaped
				case state == doubleEscaped && h.endTag(p, "script"):
					state = escaped
				}
			}
		}
	}
	return len(h.s), false
}

// endTag says whether s[p] starts an end tag of the named element: "</"
// and the name, followed by white space, "/" or ">" (</scripts is no end
// tag of a script).
func (h htmlText) endTag(p int, name string) bool { return h.namedTag(p, "</"+name) }

// startTag is endTag for a start tag.
func (h htmlText) startTag(p int, name string) bool { return h.namedTag(p, "<"+name) }

func (h htmlText) namedTag(p int, opener string) bool {
	if !strings.HasPrefix(h.lower[p:], opener) {
		return false
	}
	at := p + len(opener)
	return at == len(h.s) || isTagSpace(h.s[at]) || h.s[at] == '/' || h.s[at] == '>'
}

// tagEnd is where the end tag at s[p] ends, and true; or the end of the
// text, and false, when the tag never ends.
func (h htmlText) tagEnd(ni, p int) (int, bool) {
	if _, _, end := h.tag(ni, p); end >= 0 {
		return end, true
	}
	return len(h.s), false
}

// search returns where the first of needles ends in the raw HTML of
// nodes[ni] (and, unless sameNode, of the nodes after it), from byte from
// on; -1 if none is there.
func (h htmlText) search(ni, from int, sameNode bool, needles ...string) int {
	for ; ni < len(h.nodes); ni++ {
		for _, seg := range h.nodes[ni] {
			if seg.end <= from {
				continue
			}
			start := max(seg.start, from)
			best := -1
			for _, n := range needles {
				if i := strings.Index(h.s[start:seg.end], n); i >= 0 && (best < 0 || i+len(n) < best) {
					best = i + len(n)
				}
			}
			if best >= 0 {
				return start + best
			}
		}
		if sameNode {
			break
		}
	}
	return -1
}

func isASCIILetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// asciiLower is s with ASCII letters in lower case, byte for byte, so
// that what is found in it is at the same place in s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

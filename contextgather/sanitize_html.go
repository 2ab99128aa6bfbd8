package contextgather

import "strings"

// hiddenHTML reduces the raw HTML of nodes to what a browser shows: tags
// keep their name and lose their attributes, whose values (a title, a
// data-* attribute, a srcset) are never shown as text; image tags go
// whole; and what is never shown goes: comments, the contents of script,
// style, noscript and template elements. What is hidden is decided as
// HTML decides it, not CommonMark, since the page is HTML by then: a
// comment runs to the first "-->" in raw HTML, and an element to its end
// tag, across Markdown blocks or to the end of the text (text between is
// escaped by GitHub and cannot close them); a "bogus comment" (<?...>,
// <!...> as in <!DOCTYPE> or <![CDATA[, and </ not followed by a tag
// name) ends at the first ">". A tag that its node does not close, say
// with a quote left open, would take in what follows on the page, so it
// runs to the end of the text.
func hiddenHTML(s string, nodes [][]textSpan) []textCut {
	var cuts []textCut
	lower := asciiLower(s)
	done := 0 // s before done is cut or looked at
	for ni, node := range nodes {
		for _, seg := range node {
			for p := max(seg.start, done); p < seg.end; p++ {
				if s[p] != '<' {
					continue
				}
				c, ok := hiddenAt(s, lower, nodes, ni, p, seg.end)
				if !ok || s[c.start:c.end] == c.with {
					continue
				}
				cuts = append(cuts, c)
				done = c.end
				p = c.end - 1
			}
		}
	}
	return cuts
}

// hiddenElements are the elements whose contents a browser never shows.
var hiddenElements = map[string]bool{"script": true, "style": true, "noscript": true, "template": true}

// hiddenAt returns how the HTML at s[p] is cut: a construct that shows
// nothing goes, a tag becomes its bare name; false when s[p] starts
// neither.
func hiddenAt(s, lower string, nodes [][]textSpan, ni, p, segEnd int) (textCut, bool) {
	rest := s[p:segEnd]
	nodeEnd := nodes[ni][len(nodes[ni])-1].end
	to := func(end int) (textCut, bool) { return textCut{textSpan: textSpan{p, end}}, true }
	switch {
	case strings.HasPrefix(rest, "<!-->"):
		return to(p + len("<!-->"))
	case strings.HasPrefix(rest, "<!--->"):
		return to(p + len("<!--->"))
	case strings.HasPrefix(rest, "<!--"):
		if end := searchHTML(s, nodes, ni, p+len("<!--"), false, "-->", "--!>"); end >= 0 {
			return to(end)
		}
		return to(len(s))
	case strings.HasPrefix(rest, "<!"), strings.HasPrefix(rest, "<?"),
		len(rest) > 2 && rest[1] == '/' && !isASCIILetter(rest[2]) && rest[2] != '>':
		if end := searchHTML(s, nodes, ni, p+2, true, ">"); end >= 0 {
			return to(end)
		}
		return to(nodeEnd)
	}
	name, closing, end := scanTag(s, p, nodeEnd)
	switch lowerName := strings.ToLower(name); {
	case name == "":
		return textCut{}, false
	case end < 0:
		return to(len(s))
	case lowerName == "img":
		return to(end)
	case hiddenElements[lowerName] && !closing:
		return to(elementEnd(s, lower, nodes, ni, end, lowerName))
	case closing:
		return textCut{textSpan{p, end}, "</" + name + ">"}, true
	default:
		return textCut{textSpan{p, end}, "<" + name + ">"}, true
	}
}

// scanTag reads the tag at s[p]: its name, whether it is an end tag, and
// where it ends, just after its ">". The name is "" when s[p] starts no
// tag, and end -1 when the tag is not closed before limit.
func scanTag(s string, p, limit int) (name string, closing bool, end int) {
	i := p + 1
	if i < limit && s[i] == '/' {
		closing = true
		i++
	}
	if i >= limit || !isASCIILetter(s[i]) {
		return "", false, -1
	}
	start := i
	for i < limit && (isASCIILetter(s[i]) || (s[i] >= '0' && s[i] <= '9') || s[i] == '-') {
		i++
	}
	name = s[start:i]
	for i < limit {
		switch s[i] {
		case '>':
			return name, closing, i + 1
		case '"', '\'':
			q := strings.IndexByte(s[i+1:limit], s[i])
			if q < 0 {
				return name, closing, -1
			}
			i += q + 2
		default:
			i++
		}
	}
	return name, closing, -1
}

// elementEnd returns where the element whose start tag ends at from ends:
// just after its end tag in the raw HTML of nodes[ni] or of the nodes
// after it, or at the end of the text if it has none. lower is s in lower
// case.
func elementEnd(s, lower string, nodes [][]textSpan, ni, from int, name string) int {
	needle := "</" + name
	for ; ni < len(nodes); ni++ {
		for _, seg := range nodes[ni] {
			for start := max(seg.start, from); start < seg.end; {
				i := strings.Index(lower[start:seg.end], needle)
				if i < 0 {
					break
				}
				at := start + i + len(needle)
				// </scripts is no end tag of a script.
				if at == len(s) || strings.IndexByte(" \t\n\f\r/>", s[at]) >= 0 {
					if gt := strings.IndexByte(s[at:], '>'); gt >= 0 {
						return at + gt + 1
					}
					return len(s)
				}
				start = at
			}
		}
	}
	return len(s)
}

// searchHTML returns where the first of needles ends in the raw HTML of
// nodes[ni] (and, unless sameNode, of the nodes after it), from byte from
// on; -1 if none is there.
func searchHTML(s string, nodes [][]textSpan, ni, from int, sameNode bool, needles ...string) int {
	for ; ni < len(nodes); ni++ {
		for _, seg := range nodes[ni] {
			if seg.end <= from {
				continue
			}
			start := max(seg.start, from)
			best := -1
			for _, n := range needles {
				if i := strings.Index(s[start:seg.end], n); i >= 0 && (best < 0 || i+len(n) < best) {
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

package contextgather

import (
	"regexp"
	"strings"
)

// maxTag bounds how far an <img> tag is looked for, so a text of many
// unclosed ones takes linear time; a longer tag is cut to that length.
const maxTag = 4 << 10

// imgTag is an <img> tag, attributes quoted or not.
var imgTag = regexp.MustCompile(`(?i)^<img(?:[\s/>]|$)(?:[^>"']|"[^"]*"|'[^']*')*>?`)

// hiddenHTML finds, in the raw HTML of nodes, what a browser never shows
// and image tags. What is hidden is decided as HTML decides it, not
// CommonMark, since the page is HTML by then: a comment runs to the first
// "-->" in raw HTML, across Markdown blocks or to the end of the text
// (text between is escaped by GitHub and cannot close it); a "bogus
// comment" (<?...>, <!...> as in <!DOCTYPE> or <![CDATA[, and </ not
// followed by a tag name) ends at the first ">".
func hiddenHTML(s string, nodes [][]textSpan) []textCut {
	var cuts []textCut
	done := 0 // s before done is cut or looked at
	for ni, node := range nodes {
		for _, seg := range node {
			for p := max(seg.start, done); p < seg.end; p++ {
				if s[p] != '<' {
					continue
				}
				end := hiddenEnd(s, nodes, ni, p, seg.end)
				if end < 0 {
					continue
				}
				cuts = append(cuts, textCut{textSpan: textSpan{p, end}})
				done = end
				p = end - 1
			}
		}
	}
	return cuts
}

// hiddenEnd returns where the hidden construct at s[p] ends, or -1 if
// none starts there.
func hiddenEnd(s string, nodes [][]textSpan, ni, p, segEnd int) int {
	rest := s[p:segEnd]
	nodeEnd := nodes[ni][len(nodes[ni])-1].end
	switch {
	case strings.HasPrefix(rest, "<!-->"):
		return p + len("<!-->")
	case strings.HasPrefix(rest, "<!--->"):
		return p + len("<!--->")
	case strings.HasPrefix(rest, "<!--"):
		if end := searchHTML(s, nodes, ni, p+len("<!--"), false, "-->", "--!>"); end >= 0 {
			return end
		}
		return len(s)
	case strings.HasPrefix(rest, "<!"), strings.HasPrefix(rest, "<?"),
		len(rest) > 2 && rest[1] == '/' && !isASCIILetter(rest[2]) && rest[2] != '>':
		if end := searchHTML(s, nodes, ni, p+2, true, ">"); end >= 0 {
			return end
		}
		return nodeEnd
	}
	if m := imgTag.FindStringIndex(s[p:min(max(nodeEnd, p), p+maxTag)]); m != nil {
		return p + m[1]
	}
	return -1
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

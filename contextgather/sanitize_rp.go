package contextgather

import "strings"

// The rp element, which browsers never show, and whose end is found by
// rules of its own.

// rpEnd returns where an rp element whose start tag ends at from ends,
// as far as what it hides goes. A browser never shows an rp (its default
// style hides it), and GitHub keeps it for ruby annotations. A browser
// may end one sooner than at its end tag (the end of its paragraph or
// ruby, another rp in a ruby), which hiding up to the end tag only hides
// more of; but it ignores the end tag while an element such as a div, or
// the p, heading, list or quote of a block after the HTML block the rp
// is in (or after a blank line), opened in the rp is open, and what
// scopes that leaves open are not modelled here: then the rp hides the
// rest of the text, as it does without an end tag. Outside a ruby an rp
// opened in it is in it, and the first end tag is that one's.
func (h htmlText) rpEnd(ni, from int) int {
	end := len(h.s)
	blockEnd, inBlock := h.blockEnds[firstStart(h.nodes[ni])]
	h.rpAsAny = true // an rp inside is in this one
	depth := 0
	h.each(ni, from, func(c textCut) bool {
		tag := strings.ToLower(c.with)
		switch {
		case tag == "<rp>":
			depth++
		case tag == "</rp>" && depth > 0:
			depth--
		case tag == "</rp>":
			if !hasBlankLine(h.s[from:c.start]) && (!inBlock || c.start < blockEnd) {
				end = c.end
			}
			return false
		case strings.HasPrefix(tag, "<") && !strings.HasPrefix(tag, "</") && !phrasing[strings.Trim(tag, "<>")]:
			return false // the end tag may be ignored: the rest is hidden
		}
		return true
	})
	return end
}

// hasBlankLine says whether s holds a line of nothing but spaces and
// tabs between two line breaks: where a Markdown block ends.
func hasBlankLine(s string) bool {
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			return false
		}
		s = s[i+1:]
		if j := strings.IndexByte(s, '\n'); j >= 0 && strings.Trim(s[:j], " \t\r") == "" {
			return true
		}
	}
}

// phrasing are the elements that, opened in an rp, leave its end tag
// honoured: none of them is one of HTML's special elements, or it has no
// end (br, img, wbr).
var phrasing = map[string]bool{"a": true, "abbr": true, "b": true, "bdi": true, "bdo": true, "br": true,
	"cite": true, "code": true, "data": true, "del": true, "dfn": true, "em": true, "i": true, "img": true,
	"ins": true, "kbd": true, "mark": true, "q": true, "rb": true, "rp": true, "rt": true, "rtc": true, "ruby": true,
	"s": true, "samp": true, "small": true, "span": true, "strike": true, "strong": true, "sub": true,
	"sup": true, "time": true, "tt": true, "u": true, "var": true, "wbr": true}

package contextgather

import (
	"regexp"
	"strings"
)

// mermaidHidden are the parts of a mermaid diagram's lines that GitHub
// never shows: lines starting with %%, which are comments; and the
// diagram's accessible title and description, "accTitle: ..." and
// "accDescr: ..." to the end of their line and "accDescr { ... }" to its
// "}", which become the drawing's <title> and <desc>, read out by screen
// readers and shown to nobody. The lines are read as one text, as mermaid
// reads them, where a description runs over several; what is cut of each
// stops before its line break, which keeps the lines, and the quote or
// list the block is in, as they were.
func mermaidHidden(src []byte, lines []textSpan) []textSpan {
	var diagram strings.Builder
	for _, l := range lines {
		diagram.Write(src[l.start:l.end])
	}
	text := diagram.String()
	matches := mermaidUndrawn.FindAllStringIndex(text, -1)
	var out []textSpan
	at := 0 // where the line starts in text
	for _, l := range lines {
		end := at + l.end - l.start
		lineEnd := end // but its line break
		if lineEnd > at && text[lineEnd-1] == '\n' {
			lineEnd--
		}
		for len(matches) > 0 && matches[0][0] < end {
			m := matches[0]
			if from, to := max(m[0], at), min(m[1], lineEnd); from < to {
				out = append(out, textSpan{l.start + from - at, l.start + to - at})
			}
			if m[1] > end {
				break // it goes on in the next line
			}
			matches = matches[1:]
		}
		at = end
	}
	return out
}

// mermaidUndrawn is what mermaidHidden cuts, with the spaces before it
// on its line: mermaid reads its keywords in any case, and a space or a
// line break may come before their ":" or "{".
var mermaidUndrawn = regexp.MustCompile(`(?im)^[ \t]*%%.*|(?:^[ \t]*)?(?:acc(?:title|descr)\s*:.*|accdescr\s*\{[^}]*\}?)`)

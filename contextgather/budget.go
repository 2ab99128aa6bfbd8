package contextgather

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// bytesPerToken is the estimate's ratio. Tokenizers differ by model; for
// English and code four bytes a token is the usual rule, and erring long
// keeps a prompt inside a model's window.
const bytesPerToken = 4

// EstimateTokens estimates a text's tokens. The budget is held against
// this estimate, the only measure that needs no model's tokenizer.
func EstimateTokens(s string) int {
	return (len(s) + bytesPerToken - 1) / bytesPerToken
}

// cut shortens text to at most tokens, keeping its start and its end and
// saying how much was left out in between.
func cut(text string, tokens int) string {
	if EstimateTokens(text) <= tokens {
		return text
	}
	limit := tokens * bytesPerToken
	const marker = "\n[... %d characters left out ...]\n"
	room := limit - len(marker) - 8
	if room <= 0 {
		return ""
	}
	head := text[:validUTF8Prefix(text, room*2/3)]
	tailStart := len(text) - (room - len(head))
	for tailStart < len(text) && !utf8.RuneStart(text[tailStart]) {
		tailStart++
	}
	return head + fmt.Sprintf(marker, tailStart-len(head)) + text[tailStart:]
}

// window is a range of lines, 1-based and inclusive.
type window struct{ from, to int }

// windows picks the parts of a file around the lines an issue points at,
// merging neighbours, until they would exceed tokens.
func windows(content string, hits []int, context, tokens int) string {
	lines := strings.Split(content, "\n")
	var ws []window
	for _, h := range hits {
		w := window{max(1, h-context), min(len(lines), h+context)}
		if n := len(ws); n > 0 && w.from <= ws[n-1].to+1 {
			ws[n-1].to = max(ws[n-1].to, w.to)
			continue
		}
		ws = append(ws, w)
	}
	if len(ws) == 0 {
		// No line to go by: the file's start usually says what it is.
		ws = []window{{1, min(len(lines), 2*context)}}
	}
	// The densest windows first, while they fit; then shown in file order.
	sort.SliceStable(ws, func(i, j int) bool { return density(ws[i], hits) > density(ws[j], hits) })
	var chosen []window
	used := 0
	for _, w := range ws {
		cost := EstimateTokens(strings.Join(lines[w.from-1:w.to], "\n")) + 4
		if used+cost > tokens {
			continue
		}
		used += cost
		chosen = append(chosen, w)
	}
	sort.Slice(chosen, func(i, j int) bool { return chosen[i].from < chosen[j].from })
	var b strings.Builder
	for i, w := range chosen {
		if i > 0 || w.from > 1 {
			b.WriteString("...\n")
		}
		for n := w.from; n <= w.to; n++ {
			fmt.Fprintf(&b, "%d: %s\n", n, lines[n-1])
		}
	}
	if len(chosen) > 0 && chosen[len(chosen)-1].to < len(lines) {
		b.WriteString("...\n")
	}
	return b.String()
}

func density(w window, hits []int) int {
	n := 0
	for _, h := range hits {
		if h >= w.from && h <= w.to {
			n++
		}
	}
	return n
}

func validUTF8Prefix(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

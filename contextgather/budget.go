package contextgather

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer/codec"
	"github.com/yuin/goldmark/ast"
	gmtext "github.com/yuin/goldmark/text"
)

// bytesPerToken is the estimate's ratio: for English and code about four
// bytes make a token.
const bytesPerToken = 4

// estimateTokens estimates a text's tokens, at no cost. The prompt is fitted
// by estimates, and then counted (see Assemble).
func estimateTokens(s string) int {
	return (len(s) + bytesPerToken - 1) / bytesPerToken
}

// o200k is the tokenizer of OpenAI's current models, made on first use:
// it takes tens of milliseconds and megabytes to build.
var o200k = sync.OnceValue(codec.NewO200kBase)

// CountTokens counts a text's tokens as OpenAI's o200k_base tokenizer
// does. Other models' tokenizers count a few percent either way; a budget
// needs headroom below a model's window for that. It counts about a
// megabyte a second.
func CountTokens(s string) int {
	n := 0
	for s != "" {
		end := countChunkEnd(s)
		c, err := o200k().Count(s[:end])
		if err != nil {
			// Only an error mode other than the default fails; count bytes.
			c = end
		}
		n += c
		s = s[end:]
	}
	return n
}

// countChunk bounds the text the tokenizer reads at once: its splitting
// pattern backtracks over a run of blank lines (spaces and a line end,
// again and again) in time that grows as the run's square, and 64 KB of
// them, which an issue may hold in a code block, took seconds. A token
// crosses a line's end only in a run of line ends, which a chunk's end
// counts as two: a token more in a thousand at most.
const countChunk = 4 << 10

// countChunkEnd is where the chunk of s to count first ends: after the
// last line end within countChunk bytes, or, in a line longer than that,
// at a character's start.
func countChunkEnd(s string) int {
	if len(s) <= countChunk {
		return len(s)
	}
	if i := strings.LastIndexByte(s[:countChunk], '\n'); i >= 0 {
		return i + 1
	}
	end := countChunk
	for end < len(s) && !utf8.RuneStart(s[end]) {
		end++
	}
	return end
}

// cut shortens text to at most tokens, keeping its start and its end and
// saying how much was left out in between.
func cut(text string, tokens int) string {
	if estimateTokens(text) <= tokens {
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

// FitCodeBlock is CodeBlock(text) in at most about tokens, text cut in its
// middle when it is longer, saying how much was left out; "" when too few
// tokens are left to show any of it.
func FitCodeBlock(text string, tokens int) string {
	block, _ := fit(text, tokens, CodeBlock)
	return block
}

// minPieceTokens is the least of a cut text worth showing: less says
// little beyond the note of what was left out.
const minPieceTokens = 50

// fit returns render(text), with text cut so that the result takes at
// most tokens, and whether text went in whole; "" when even minPieceTokens
// of text do not fit. The text is cut before render wraps it, so a cut
// never falls between a fence render adds and the text it fences. A block
// text leaves open, by a cut or as written, is closed (see closeBlock).
func fit(text string, tokens int, render func(string) string) (string, bool) {
	whole := closeBlock(render(text))
	if estimateTokens(whole) <= tokens {
		return whole, true
	}
	// What render adds to the whole is about what it adds to a cut, and
	// never less: a fence outgrows the longest run of backticks in what it
	// fences, and a cut keeps no longer run than the whole has. It may add
	// far less, though, when the cut leaves that run out or keeps only part
	// of it, and a fence sized for 30,000 backticks took all the room. So
	// each cut is rendered and measured, between rooms known to fit (fits)
	// and not to (over), starting with the least worth showing when the
	// whole's fence alone leaves less.
	room := max(minPieceTokens, tokens-(estimateTokens(whole)-estimateTokens(text)))
	var best string
	fits, over := 0, tokens+1
	for range maxCuts {
		if over <= minPieceTokens {
			break // not even the least worth showing fits
		}
		if room <= fits || room >= over {
			room = fits + (over-fits)/2
		}
		if room = max(room, minPieceTokens); room <= fits {
			break
		}
		s := closeBlock(render(cut(text, room)))
		n := estimateTokens(s)
		if n > tokens {
			over = room
			room -= n - tokens
			continue
		}
		best, fits = s, room
		if n >= tokens-cutSlack {
			break
		}
		room += tokens - n
	}
	return best, false
}

// maxCuts bounds fit's tries; cutSlack is how far below its room a cut
// may end and be full enough. A cut's own estimate may fall a few tokens
// short of its room, by the note of what it left out.
const (
	maxCuts  = 8
	cutSlack = 8
)

// fill writes n items in order, item(i, tokens) rendering the i-th within
// tokens and saying whether it went in whole. The room is shared: the
// items that fit in an even share go in whole, and the longer ones share
// what is left evenly, each cut to its share, so that one long item (a
// log pasted in an early comment) does not crowd out those after it,
// which may hold the latest word. When those shares would be too small to
// show anything, items go in in order instead (see inOrder). Items are
// cut one by one, each by fit: a cut through several would join one
// item's opening fence to another's text.
func fill(tokens, n int, item func(i, tokens int) (string, bool)) string {
	need := make([]int, n)
	for i := range n {
		whole, _ := item(i, math.MaxInt32)
		need[i] = estimateTokens(whole)
	}
	share, ok := shares(need, tokens)
	if !ok {
		return inOrder(tokens, n, item)
	}
	var b strings.Builder
	for i := range n {
		part, _ := item(i, share[i])
		if part == "" {
			// Its share did not cover what it shows besides its text (a
			// heading, a fence): in order, the first items show.
			return inOrder(tokens, n, item)
		}
		b.WriteString(part)
	}
	return b.String()
}

// shares divides tokens among items that need need[i] each whole: the
// least needy first, each whole while it needs no more than an even share
// of what is left, the rest an even share each. ok is false when those
// shares would be too small to show much of an item.
func shares(need []int, tokens int) (share []int, ok bool) {
	order := make([]int, len(need))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return need[a] - need[b] })
	share = make([]int, len(need))
	for k, i := range order {
		even := tokens / (len(order) - k)
		if need[i] > even && even < 2*minPieceTokens {
			return nil, false
		}
		share[i] = min(need[i], even)
		tokens -= share[i]
	}
	return share, true
}

// inOrder writes n items in order, as fill does, while they go in whole:
// the first that does not ends the list, cut, with a note of how many
// after it were left out.
func inOrder(tokens, n int, item func(i, tokens int) (string, bool)) string {
	var b strings.Builder
	for i := range n {
		// Room for the note is kept in case this item is the last.
		part, whole := item(i, tokens-estimateTokens(leftOut(n-i)))
		b.WriteString(part)
		tokens -= estimateTokens(part)
		if whole {
			continue
		}
		rest := n - i - 1
		if part == "" {
			rest++
		}
		if note := leftOut(rest); estimateTokens(note) <= tokens {
			b.WriteString(note)
		}
		break
	}
	return b.String()
}

// leftOut notes that n items were left out for room; "" for none.
func leftOut(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("(%d more left out for room.)\n\n", n)
}

// closeProbe is a paragraph put after a text to see whether the text
// leaves a block open that would take in what follows.
const closeProbe = "closeProbe"

// closeBlock closes a block that text leaves open and that would run on
// over whatever the prompt says next: a fenced code block never closed,
// or cut between its fence and its closing line, and an HTML block that
// runs to its end past blank lines, such as <pre> or <?php. Open, it would
// take in the next part, and a fence line there, say the one that opens
// an untrusted text's block, would close it and leave that text outside
// any fence. What is open is decided by the parser Sanitize uses; a block
// in a list or a quote closes with its container, so only one at the top
// level needs a closing line.
func closeBlock(text string) string {
	src := []byte(text + "\n\n" + closeProbe)
	var closing string
	switch b := markdownParser.Parse(gmtext.NewReader(src)).LastChild().(type) {
	case *ast.FencedCodeBlock:
		if b.Pos() < 0 || b.Pos() >= len(text) {
			return text
		}
		c := text[b.Pos()]
		closing = strings.Repeat(string(c), max(minFence, longestRun(text, c)))
	case *ast.HTMLBlock:
		// Sanitize takes out comments, <?...?> and their kin, but a cut can
		// make one: a tail that starts inside an indented code block starts
		// its first line at whatever the code has there, and a line that
		// starts with "<?" or "<!--" opens a block even after a paragraph.
		enders := htmlBlockEnders[b.HTMLBlockType]
		if len(enders) == 0 {
			return text // the kinds that end at a blank line
		}
		closing = enders[0]
	default:
		return text
	}
	body := strings.TrimRight(text, "\n")
	return body + "\n" + closing + text[len(body):]
}

// window is a range of lines, 1-based and inclusive.
type window struct{ from, to int }

// windows picks the parts of a file around the lines an issue points at,
// merging neighbours up to maxWindow(context) lines, until they would
// exceed tokens. A window is capped so that an identifier on every few
// lines of a large file gives many windows to choose from, not one that
// spans the file and fits no budget. The windows of the lines the issue
// names (named: a stack frame's) come before the others.
func windows(content string, hits, named []int, context, tokens int) string {
	// A file's last line ends with a line break, most often: what follows
	// it is no line, to show or to be named.
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	hits = slices.Sorted(slices.Values(append(slices.Clone(hits), named...)))
	var ws []window
	for _, h := range hits {
		if h < 1 || h > len(lines) {
			continue // the file changed since it was ranked
		}
		w := window{max(1, h-context), min(len(lines), h+context)}
		if n := len(ws); n > 0 && w.from <= ws[n-1].to+1 {
			last := &ws[n-1]
			if w.to-last.from < maxWindow(context) {
				last.to = max(last.to, w.to)
				continue
			}
			w.from = last.to + 1 // full: the next window starts where it ends
			if w.from > w.to {
				continue
			}
		}
		ws = append(ws, w)
	}
	if len(ws) == 0 {
		// No line to go by: the file's start usually says what it is.
		ws = []window{{1, min(len(lines), 2*context)}}
	}
	// Each window's hits and its first, counted in one pass: the windows
	// are in line order, and so are the hits.
	hits = slices.Compact(slices.Sorted(slices.Values(hits)))
	density, first := make([]int, len(ws)), make([]int, len(ws))
	k := 0
	for i, w := range ws {
		for k < len(hits) && hits[k] < w.from {
			k++
		}
		first[i] = w.from
		if k < len(hits) && hits[k] <= w.to {
			first[i] = hits[k]
		}
		// A window narrowed keeps the line the issue names, if it holds one.
		if n := slices.IndexFunc(named, func(n int) bool { return w.from <= n && n <= w.to }); n >= 0 {
			first[i] = named[n]
		}
		for k < len(hits) && hits[k] <= w.to {
			density[i]++
			k++
		}
	}
	// The densest windows first, while they fit; then shown in file order.
	order := make([]int, len(ws))
	for i := range order {
		order[i] = i
	}
	holdsNamed := func(w window) bool {
		return slices.ContainsFunc(named, func(n int) bool { return w.from <= n && n <= w.to })
	}
	sort.SliceStable(order, func(a, b int) bool {
		if na, nb := holdsNamed(ws[order[a]]), holdsNamed(ws[order[b]]); na != nb {
			return na
		}
		return density[order[a]] > density[order[b]]
	})
	var chosen []window
	used := 1 // a "..." line after the last window
	for _, i := range order {
		w := ws[i]
		cost := estimateTokens(numbered(lines, w)) + 1 // and a "..." line
		if used+cost > tokens {
			// What room is left takes the lines nearest the window's
			// first hit, so that a budget is filled by lines, not windows.
			if w, cost = narrow(lines, w, first[i], tokens-used); cost == 0 {
				continue
			}
		}
		used += cost
		chosen = append(chosen, w)
	}
	sort.Slice(chosen, func(i, j int) bool { return chosen[i].from < chosen[j].from })
	widen(lines, chosen, tokens-used)
	var b strings.Builder
	shownTo := 0 // the last line shown
	for _, w := range chosen {
		if w.from > shownTo+1 {
			b.WriteString("...\n")
		}
		b.WriteString(numbered(lines, w))
		shownTo = w.to
	}
	if len(chosen) > 0 && shownTo < len(lines) {
		b.WriteString("...\n")
	}
	return b.String()
}

// widen gives what room is left, too little for another window, to the
// chosen windows a line at a time, after each and then before it: a budget
// is filled by lines, and the lines next to a window's are the ones most
// worth the room. The windows are in line order and stay apart, or meet.
func widen(lines []string, chosen []window, tokens int) {
	// A line's cost rounded up on its own: the windows' estimate, counted
	// whole, is never more than the sum.
	cost := func(n int) int { return estimateTokens(fmt.Sprintf("%d: %s\n", n, lines[n-1])) }
	for grew := true; grew; {
		grew = false
		for i := range chosen {
			w := &chosen[i]
			next := len(lines) + 1
			if i+1 < len(chosen) {
				next = chosen[i+1].from
			}
			if w.to+1 < next && cost(w.to+1) <= tokens {
				w.to++
				tokens -= cost(w.to)
				grew = true
			}
			prev := 0
			if i > 0 {
				prev = chosen[i-1].to
			}
			if w.from-1 > prev && cost(w.from-1) <= tokens {
				w.from--
				tokens -= cost(w.from)
				grew = true
			}
		}
	}
}

// narrow is the part of w around center, its first hit, that takes at most
// tokens, and what it takes; a cost of 0 when not even minWindow lines fit.
func narrow(lines []string, w window, center, tokens int) (window, int) {
	bytes := func(n int) int { return len(lines[n-1]) + len(strconv.Itoa(n)) + 3 }
	part := window{center, center}
	size := bytes(center)
	for grew := true; grew; {
		grew = false
		if part.from > w.from && size+bytes(part.from-1) <= (tokens-1)*bytesPerToken {
			part.from--
			size += bytes(part.from)
			grew = true
		}
		if part.to < w.to && size+bytes(part.to+1) <= (tokens-1)*bytesPerToken {
			part.to++
			size += bytes(part.to)
			grew = true
		}
	}
	if part.to-part.from+1 < minWindow || size > (tokens-1)*bytesPerToken {
		return window{}, 0
	}
	return part, estimateTokens(numbered(lines, part)) + 1
}

// minWindow is the fewest lines a window worth showing has.
const minWindow = 3

// maxWindow is the most lines a window spans: four times the context.
func maxWindow(context int) int { return 4 * context }

// numbered is a window's lines, each after its number.
func numbered(lines []string, w window) string {
	var b strings.Builder
	for n := w.from; n <= w.to; n++ {
		fmt.Fprintf(&b, "%d: %s\n", n, lines[n-1])
	}
	return b.String()
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

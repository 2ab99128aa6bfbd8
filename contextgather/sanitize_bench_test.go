package contextgather

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkSanitizeNesting times Sanitize on an issue body at GitHub's
// size limit that nests quotes or list items one in another on one line,
// beside ordinary text of the same size, and prints both and their ratio.
// The parser's cost grows with the square of the depth, which
// flattenNesting bounds, and of the link openers, which capLinks bounds.
//
//	go test -run '^$' -bench SanitizeNesting -benchtime 1x ./contextgather
func BenchmarkSanitizeNesting(b *testing.B) {
	const size = 60_000
	plain := strings.Repeat("Some ordinary words of an issue. ", size/33)
	fmt.Printf("Sanitize on %d-byte issue bodies, %d runs each\n", size, max(b.N, 3))
	fmt.Printf("  %-28s  %12s  %12s  %7s\n", "nesting", "nested", "plain", "ratio")
	for _, tc := range []struct{ name, text string }{
		{"quotes, > > > ...", strings.Repeat(">", size) + "\n\n<<!-- -->!-- --> hello"},
		{"list items, - - - ...", strings.Repeat("- ", size/2) + "x"},
		// Not nesting, but as costly read badly: each "$" opens inline
		// math that no "$" on the line closes.
		{"dollars, $a $a $a ...", strings.Repeat("$a ", size/3)},
		{"dollars, $`a $`a ...", strings.Repeat("$`a ", size/4)},
		// Nor this: each "](" opens a link's address that nothing closes
		// (see capLinks, which keeps the paragraphs before the one past
		// its bound).
		{"link openers, [a]([a]( ...", strings.Repeat("[a](", 1000) + "\n\n" + strings.Repeat("[a](", size/4-1000)},
	} {
		var nested, ordinary time.Duration
		for range max(b.N, 3) {
			start := time.Now()
			Sanitize(tc.text)
			nested += time.Since(start)
			start = time.Now()
			Sanitize(plain)
			ordinary += time.Since(start)
		}
		n := time.Duration(max(b.N, 3))
		fmt.Printf("  %-28s  %12v  %12v  %6.1fx\n", tc.name, (nested / n).Round(time.Microsecond),
			(ordinary / n).Round(time.Microsecond), float64(nested)/float64(ordinary))
	}
}

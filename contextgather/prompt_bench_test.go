package contextgather

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkAssemble prices counting the prompt with the tokenizer: for
// each budget it times Assemble, which fits by estimate and then counts,
// beside the fit by estimate alone, and prints both and their ratio. The
// issue alone outgrows every budget, so the fit is redone as often as it
// would be for such an issue in a task.
//
//	go test -run '^$' -bench Assemble -benchtime 1x ./contextgather
func BenchmarkAssemble(b *testing.B) {
	fsys, ranked := files(8, 60_000)
	CountTokens("") // the tokenizer is built once a process, before any task
	fmt.Printf("prompt assembly, %d runs each, an issue larger than any budget\n", max(b.N, 5))
	fmt.Printf("  %8s  %14s  %14s  %7s  %s\n", "budget", "by estimate", "counted", "ratio", "tokens counted")
	for _, budget := range []int{4000, 16_000, 32_000, 64_000} {
		in := PromptInput{Material: material(1_000_000), Branch: "oneshot/issue-7", Ranked: ranked, Files: fsys,
			Verify: []string{"go test ./..."}, Budget: budget}
		var estimated, counted time.Duration
		var tokens int
		for range max(b.N, 5) {
			start := time.Now()
			byEstimate(in)
			estimated += time.Since(start)
			start = time.Now()
			tokens = CountTokens(Assemble(in))
			counted += time.Since(start)
		}
		n := time.Duration(max(b.N, 5))
		fmt.Printf("  %8d  %14v  %14v  %6.1fx  %d\n", budget, (estimated / n).Round(time.Microsecond),
			(counted / n).Round(time.Microsecond), float64(counted)/float64(estimated), tokens)
	}
}

// BenchmarkCountTokens prices counting in chunks (CountTokens) beside
// counting a text whole, and prints both counts: blank lines cost the
// whole count time that grows as their run's square.
//
//	go test -run '^$' -bench CountTokens -benchtime 1x ./contextgather
func BenchmarkCountTokens(b *testing.B) {
	CountTokens("")
	whole := func(s string) int { n, _ := o200k().Count(s); return n }
	fmt.Printf("token counting, whole and in chunks\n  %-22s  %10s  %10s  %7s  %s\n", "64 KB of", "whole", "chunks", "ratio", "tokens whole, in chunks")
	for _, tc := range []struct{ name, text string }{
		{"prose", strings.Repeat("The parser crashes on empty input, as the log shows.\n", 1260)},
		{"blank lines", strings.Repeat(" \n", 32<<10)},
		{"one line of code", strings.Repeat("x = f(x) + 1; ", 4680)},
	} {
		start := time.Now()
		n := whole(tc.text)
		w := time.Since(start)
		start = time.Now()
		c := CountTokens(tc.text)
		ch := time.Since(start)
		fmt.Printf("  %-22s  %10v  %10v  %6.2fx  %d, %d\n", tc.name, w.Round(time.Microsecond), ch.Round(time.Microsecond),
			float64(ch)/float64(w), n, c)
	}
}

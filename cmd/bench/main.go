// Command bench measures oneshot against the obvious alternative, side by
// side in one run, and prints medians and ratios.
//
//	go run ./cmd/bench sandbox [-n 20] [-image oneshot/sandbox:latest]
//	go run ./cmd/bench locate --repos DIR [--data FILE] [-v]
//	go run ./cmd/bench fetch --repo DIR [--branch NAME] [-n 5]
//
// Each benchmark interleaves its contenders (A, B, A, B, ...) so that
// whatever else the machine does falls on both alike.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench sandbox|locate|fetch [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "sandbox":
		err = benchSandbox(os.Args[2:])
	case "locate":
		err = benchLocate(os.Args[2:])
	case "fetch":
		err = benchFetch(os.Args[2:])
	default:
		err = fmt.Errorf("unknown benchmark %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// samples are durations of one contender.
type samples []time.Duration

func (s samples) median() time.Duration { return s.quantile(0.5) }

func (s samples) quantile(q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	sorted := slices.Clone(s)
	slices.Sort(sorted)
	return sorted[int(q*float64(len(sorted)-1)+0.5)]
}

// comparison prints one contender against its baseline.
func comparison(title string, ours, baseline samples, oursName, baseName string, target float64) {
	ratio := float64(ours.median()) / float64(baseline.median())
	verdict := "meets"
	if ratio > target {
		verdict = "MISSES"
	}
	fmt.Printf("\n%s (%d runs each)\n", title, len(ours))
	fmt.Printf("  %-44s median %9s   p90 %9s\n", oursName, ms(ours.median()), ms(ours.quantile(0.9)))
	fmt.Printf("  %-44s median %9s   p90 %9s\n", baseName, ms(baseline.median()), ms(baseline.quantile(0.9)))
	fmt.Printf("  ratio %.3fx, target <= %.2fx: %s the target\n", ratio, target, verdict)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func newFlagSet(name string) *flag.FlagSet {
	return flag.NewFlagSet("bench "+name, flag.ContinueOnError)
}

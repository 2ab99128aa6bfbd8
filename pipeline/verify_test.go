package pipeline

import (
	"fmt"
	"strings"
	"testing"
)

// The final check run's summary holds every failing check's output end,
// each fenced whole, however many fail.
func TestEveryFailingChecksOutputFitsTheFinalSummary(t *testing.T) {
	t.Parallel()
	var checks []CheckResult
	for i := range 50 {
		var tail strings.Builder
		for tail.Len() < failureTail {
			fmt.Fprintf(&tail, "check %d: line %d failed\n", i, tail.Len())
		}
		checks = append(checks, CheckResult{Name: fmt.Sprintf("check-%d", i), Command: "make test", ExitCode: 2, Tail: tail.String()})
	}
	for _, n := range []int{12, 50} {
		details := failureDetails(checks[:n])
		if len(details) > detailsRoom+n*200 {
			t.Errorf("%d failing: %d bytes of details", n, len(details))
		}
		fences := 0
		for line := range strings.SplitSeq(details, "\n") {
			if strings.HasPrefix(line, "```") {
				fences++
			}
		}
		if fences%2 != 0 {
			t.Errorf("%d failing: a code block is left open", n)
		}
		for i := range n {
			if !strings.Contains(details, fmt.Sprintf("check-%d", i)) {
				t.Errorf("%d failing: check-%d is not named", n, i)
			}
		}
	}
	if details := failureDetails(checks[:12]); !strings.Contains(details, "check 11: line") {
		t.Error("the last of 12 failing checks shows none of its output")
	}
}

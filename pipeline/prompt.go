package pipeline

import (
	"fmt"
	"strings"

	"github.com/oneshot-dev/oneshot/contextgather"
)

// fixPrompt is the prompt of a fix round: the task again, and what failed.
func fixPrompt(prompt string, checks []CheckResult) string {
	var b strings.Builder
	b.WriteString(prompt)
	b.WriteString("\n# The checks failed\n\nAfter your last change these checks failed. Fix the code so that they pass; keep what already works.\n\n")
	for _, c := range checks {
		if c.Passed {
			continue
		}
		fmt.Fprintf(&b, "## %s: `%s` (exit %d)\n\n%s\n", c.Name, c.Command, c.ExitCode, contextgather.CodeBlock(c.Tail))
	}
	return b.String()
}

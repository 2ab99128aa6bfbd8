package pipeline

import (
	"fmt"
	"strings"

	"github.com/oneshot-dev/oneshot/contextgather"
)

// fixPrompt is the prompt of a fix round: the task again and what failed,
// together within the prompt's budget. What failed takes at most half of
// it, and the task is assembled again in what is left: the first prompt
// may fill the budget alone, and a fix round's must fit the model as well.
func (r *run) fixPrompt() string {
	in := r.promptInput
	failed := failureReport(r.report.Checks, in.Budget/2)
	in.Budget -= contextgather.CountTokens(failed)
	return contextgather.Assemble(in) + failed
}

// failureReport says which checks failed, with the end of each one's
// output, in at most about tokens; the failing checks share them.
func failureReport(checks []CheckResult, tokens int) string {
	var failing []CheckResult
	for _, c := range checks {
		if !c.Passed {
			failing = append(failing, c)
		}
	}
	var b strings.Builder
	// The task above quotes the files as they were before the change; an
	// agent that edits by quoting what it replaces must read them anew.
	b.WriteString("\n# The checks failed\n\nAfter your last change these checks failed. Fix the code so that they pass; keep what already works. " +
		"The files quoted above are as they were before your change: read them from the checkout, which holds it.\n\n")
	share := (tokens - contextgather.CountTokens(b.String())) / max(1, len(failing))
	for _, c := range failing {
		heading := fmt.Sprintf("## %s: %s (exit %d)\n\n", shorten(c.Name, 80), contextgather.CodeSpan(shorten(c.Command, 200)), c.ExitCode)
		b.WriteString(heading)
		b.WriteString(fitCounted(c.Tail, share-contextgather.CountTokens(heading)))
	}
	return b.String()
}

// fitCounted is contextgather.FitCodeBlock held to tokens as the tokenizer
// counts them: it fits by an estimate, which dense output (short lines,
// hex, text in other scripts) outgrows.
func fitCounted(text string, tokens int) string {
	for estimate := tokens; estimate > 0; {
		block := contextgather.FitCodeBlock(text, estimate)
		n := contextgather.CountTokens(block)
		if n <= tokens {
			return block
		}
		estimate = estimate*tokens/n - 1
	}
	return ""
}

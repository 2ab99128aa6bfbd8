package contextgather

import (
	"io/fs"
	"math"
	"strings"
)

// PromptInput is everything a prompt is made of.
type PromptInput struct {
	Material Material
	// Branch is the branch the agent works on.
	Branch string
	// Ranked are the repository's files, best first; Files reads them.
	Ranked []Ranked
	Files  fs.FS
	// Verify are the commands that must pass.
	Verify []string
	// Protected are paths a change may not touch.
	Protected []string
	// Budget is the most tokens the prompt may take, by CountTokens.
	// The operator sets it (config's agent.prompt_tokens); without one
	// the prompt would be cut to nothing.
	Budget int
}

// How the budget is shared. The task, the checks and the rules always go
// in whole, and the instructions, cut only if they alone outgrow the rest;
// the issue (at least minIssueTokens of it), then what people added, then
// guidance, then the repository's overview, then code take what is left,
// each up to a share, and code gets whatever the others did not use.
const (
	issueShare      = 0.30
	minIssueTokens  = 2000
	commentsShare   = 0.15
	linkedShare     = 0.10
	guidelinesShare = 0.10
	overviewShare   = 0.05
	// maxPromptFiles is how many ranked files the prompt shows at most.
	maxPromptFiles = 8
	// windowContext is how many lines around each hit a window shows.
	windowContext = 12
	// wholeFileShare is the largest share of the code budget one file may
	// take whole; a larger file is shown in windows.
	wholeFileShare = 0.35
)

// Assemble writes the prompt: the whole specification the agent gets, since
// it cannot ask. Its tokens, as CountTokens counts them, never exceed the
// budget.
//
// The prompt is fitted by estimates, which cost nothing (see assemble), and
// then counted. Code, numbers and hex or base64 take more tokens than the
// estimate says, and plain English fewer, so the prompt is fitted again to
// the budget in its own tokens per estimated token, which lands within a
// try or two; the parts then take their shares of the budget as counted.
func Assemble(in PromptInput) string {
	var best, last string // the fullest prompt that fits, and the latest tried
	bestTokens := -1
	// Estimates known to fit (fits) and not to (over) bracket the next.
	estimate, fits, over := in.Budget, 0, math.MaxInt
	for range maxFits {
		prompt := assemble(in, estimate)
		if prompt == last {
			break // a changed estimate changes nothing: all of it is in, or none
		}
		last = prompt
		n := CountTokens(prompt)
		if n > in.Budget {
			over = estimate
		} else {
			fits = estimate
			if n > bestTokens {
				best, bestTokens = prompt, n
			}
			if float64(n) >= fullBudget*float64(in.Budget) {
				break
			}
		}
		// The budget in this prompt's tokens per estimated token; halfway
		// when that leaves the bracket, as it does where code goes in by
		// whole windows.
		estimate = int(float64(in.Budget) * float64(estimateTokens(prompt)) / float64(max(n, 1)) * aimBudget)
		if over < math.MaxInt && (estimate <= fits || estimate >= over) {
			estimate = fits + (over-fits)/2
		}
		if estimate <= fits || estimate <= 0 {
			break // no more room to gain
		}
	}
	if bestTokens >= 0 {
		return best
	}
	// Nothing fitted, as when the budget is smaller than the task and the
	// rules. They hold only what the operator and the repository wrote, so
	// they are cut as one; a token takes at least a byte.
	task, rules := fixedParts(in)
	return cut(task+rules, in.Budget/bytesPerToken)
}

// maxFits bounds Assemble's tries. A prompt that takes fullBudget of the
// budget is full enough: code goes in by whole windows, too coarse to fill
// it closer. A try aims at aimBudget of it.
const (
	maxFits    = 6
	fullBudget = 0.95
	aimBudget  = 0.99
)

// fixedParts are what every prompt opens and closes with, whole: the task,
// and the checks and rules.
func fixedParts(in PromptInput) (task, rules string) {
	return taskSection(in.Material, in.Branch), checksSection(in.Verify) + rulesSection(in.Verify, in.Protected)
}

// assemble writes the prompt within an estimate of tokens.
//
// Each section is built within the tokens it is given, and each item in it
// (the issue, a comment, a linked issue, a guideline file) is cut on its
// own, before it is fenced: a cut through several items, or through the
// whole prompt, could join one item's opening fence to another's text,
// whose own fence line would then close it and let what follows speak
// outside any fence. Since the estimate of a whole is at most the sum of
// its parts', the parts holding their shares is what holds the estimate.
func assemble(in PromptInput, budget int) string {
	m := in.Material
	task, rules := fixedParts(in)
	left := budget - estimateTokens(task) - estimateTokens(rules)
	if left < 0 {
		// A budget too small for even these: they hold nobody's text but
		// the operator's and the repository's configuration, and no fence.
		return cut(task+rules, budget)
	}
	instructions := instructionsSection(m, left)
	left -= estimateTokens(instructions)

	var body []string
	add := func(section func(Material, int) string, share float64, minimum int) {
		if left <= 0 {
			return
		}
		s := section(m, min(max(int(share*float64(budget)), minimum), left))
		left -= estimateTokens(s)
		body = append(body, s)
	}
	add(issueSection, issueShare, minIssueTokens)
	add(commentsSection, commentsShare, 0)
	add(linkedSection, linkedShare, 0)
	add(guidelinesSection, guidelinesShare, 0)
	add(overviewSection, overviewShare, 0)
	if left > 0 {
		body = append(body, codeSection(in, left))
	}
	return task + strings.Join(body, "") + instructions + rules
}

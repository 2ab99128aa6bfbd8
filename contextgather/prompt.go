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
// each up to a share as counted, and code gets whatever the others did not
// use. What code leaves unused goes back to the texts, the issue first.
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
// budget, and when there is more to show than room it takes at least
// fullBudget of it.
//
// The prompt is fitted by estimates, which cost nothing (see assemble), and
// then counted. Code, numbers and hex or base64 take more tokens than the
// estimate says, and plain English fewer. So each text's room is found
// first, within its share as counted (see textRooms); then the code, once,
// to take no more than the room they leave as counted (see chooseCode); then
// the texts, which can be cut anywhere, are fitted around it by count (see
// fitByCount).
// Were the code chosen again at each try, a whole file would go in at one
// estimate and out at the next, and the count would jump past the budget's
// last few percent.
func Assemble(in PromptInput) string {
	rooms := textRooms(in)
	code, floor := chooseCode(in, rooms)
	// A file of the repository in another encoding (Latin-1, say) is no
	// UTF-8, which an agent may refuse to read its prompt in.
	write := func(estimate int) string { return strings.ToValidUTF8(assemble(in, estimate, code, rooms), "\uFFFD") }
	// The code fills what the texts in their rooms leave, as counted, so
	// the fit shares out only the room beyond floor, where they are all in
	// beside it, and goes below only when that does not fit after all:
	// below it the texts after the issue are cut first, and a fit that
	// landed a few tokens short of it left a comment of twenty tokens out.
	atLeastFloor := func(estimate int) string { return write(max(estimate, floor)) }
	if prompt, _, ok := fitByCount(in.Budget, in.Budget, atLeastFloor); ok {
		return prompt
	}
	if prompt, _, ok := fitByCount(in.Budget, in.Budget, write); ok {
		return prompt
	}
	// Nothing fitted, as when the budget is smaller than the task and the
	// rules. They hold only what the operator and the repository wrote, so
	// they are cut as one; a token takes at least a byte.
	task, rules := fixedParts(in)
	return cut(task+rules, in.Budget/bytesPerToken)
}

// fitByCount returns the fullest of the texts write writes within
// estimates of tokens that takes at most budget tokens as counted, and the
// estimate it was written within; false when none does. It tries first
// within estimate, then within estimates aimed by the counts so far, which
// land within a try or two, until a text takes fullBudget of the budget.
func fitByCount(budget, estimate int, write func(estimate int) string) (string, int, bool) {
	var best, last string // the fullest text that fits, and the latest tried
	bestTokens, lastTokens, bestEstimate := -1, 0, 0
	// Estimates known to fit (fits) and not to (over) bracket the next;
	// the last try's estimate and count help aim it.
	fits, over := 0, math.MaxInt
	prevEstimate, prevCount := 0, 0
	aim := aimBudget * float64(budget)
	for range maxFits {
		text := write(estimate)
		n := lastTokens
		if text != last {
			n = CountTokens(text)
		} else if n <= budget {
			// A little more room changed nothing: all of it is in, or the
			// next line to go in takes more than that. Halfway to what did
			// not fit, if anything did not.
			fits = estimate
			if over == math.MaxInt {
				break
			}
			if estimate = fits + (over-fits)/2; estimate <= fits {
				break
			}
			continue
		}
		last, lastTokens = text, n
		if n > budget {
			over = estimate
		} else {
			fits = estimate
			if n > bestTokens {
				best, bestTokens, bestEstimate = text, n, estimate
			}
			if float64(n) >= fullBudget*float64(budget) {
				break
			}
		}
		// The count grows about in a line with the estimate, through what
		// is fixed: after two tries that counted differently the line
		// through them aims the next; otherwise the text's estimate in
		// proportion, not the estimate it was given, which a text that is
		// all in does not fill. Halfway when that leaves the bracket, as it
		// may where the parts differ, an issue in English and a comment
		// that is a hex dump.
		next := float64(min(estimate, estimateTokens(text))) * aim / float64(max(n, 1))
		if prevCount != 0 && n != prevCount {
			next = float64(estimate) + (aim-float64(n))*float64(estimate-prevEstimate)/float64(n-prevCount)
		}
		prevEstimate, prevCount = estimate, n
		estimate = int(next)
		if over < math.MaxInt && (estimate <= fits || estimate >= over) {
			estimate = fits + (over-fits)/2
		}
		if estimate <= fits || estimate <= 0 {
			break // no more room to gain
		}
	}
	return best, bestEstimate, bestTokens >= 0
}

// maxFits bounds Assemble's tries, and chooseCode's. A prompt that takes
// fullBudget of the budget is full enough; a try aims at aimBudget of it.
const (
	maxFits    = 6
	fullBudget = 0.98
	aimBudget  = 0.995
)

// fixedParts are what every prompt opens and closes with, whole: the task,
// and the checks and rules.
func fixedParts(in PromptInput) (task, rules string) {
	return taskSection(in.Material, in.Branch), checksSection(in.Verify) + rulesSection(in.Verify, in.Protected)
}

// chooseCode picks the code the prompt shows: the room the texts leave in
// their rooms (see textRooms), by estimate, shrunk until the code takes no
// more of it as counted. Code goes in by whole files and windows, so the
// texts, which can be cut anywhere, make up the rest of the budget. floor
// is the estimate of the prompt with the code and the texts in their
// rooms, and no more.
func chooseCode(in PromptInput, rooms []int) (code string, floor int) {
	// Code that counts fewer tokens than estimated gets no more than its
	// room by estimate all the same: more would take in whole files its
	// share did not give it, and the texts make better use of the rest.
	room, target := codeRoom(in, rooms, CountTokens)
	code, _, _ = fitByCount(target, room, func(estimate int) string { return codeSection(in, min(estimate, room)) })
	return code, in.Budget - room + estimateTokens(code)
}

// codeRoom is the room code has, by estimate and as count counts it: what
// the budget leaves after the fixed parts, the instructions and the texts
// in their rooms, which are fitted by estimate. The estimate is of each
// part on its own, as assemble takes them.
func codeRoom(in PromptInput, rooms []int, count func(string) int) (estimated, counted int) {
	task, rules := fixedParts(in)
	left := in.Budget - estimateTokens(task) - estimateTokens(rules)
	if left <= 0 {
		return 0, 0
	}
	instructions := instructionsSection(in.Material, left)
	left -= estimateTokens(instructions)
	texts := textsInRooms(in.Material, rooms, left)
	for _, t := range texts {
		left -= estimateTokens(t)
	}
	return left, in.Budget - count(task+strings.Join(texts, "")+instructions+rules)
}

// assemble writes the prompt with code within an estimate of tokens, the
// texts first each in its room (see textRooms).
//
// Each section is built within the tokens it is given, and each item in it
// (the issue, a comment, a linked issue, a guideline file) is cut on its
// own, before it is fenced: a cut through several items, or through the
// whole prompt, could join one item's opening fence to another's text,
// whose own fence line would then close it and let what follows speak
// outside any fence. Since the estimate of a whole is at most the sum of
// its parts', the parts holding their shares is what holds the estimate.
func assemble(in PromptInput, budget int, code string, rooms []int) string {
	m := in.Material
	task, rules := fixedParts(in)
	left := budget - estimateTokens(task) - estimateTokens(rules)
	if left < 0 {
		// A budget too small for even these: they hold nobody's text but
		// the operator's and the repository's configuration, and no fence.
		return cut(task+rules, budget)
	}
	instructions := instructionsSection(m, left)
	left -= estimateTokens(instructions) + estimateTokens(code)

	// The texts take up to their rooms, and then what the code leaves,
	// when few of its lines are worth showing, goes back to them in order:
	// a long issue is better read whole than cut beside room nothing uses.
	texts := textsInRooms(m, rooms, left)
	spare := left
	for _, t := range texts {
		spare -= estimateTokens(t)
	}
	for i, t := range textSections {
		if spare <= 0 {
			break
		}
		// Written anew within more room, a section may still come out
		// shorter: a cut keeps room for the note that says what it left
		// out, and an item that fitted whole beside no note may not fit
		// beside one. The longer one stays.
		had := estimateTokens(texts[i])
		if more := t.write(m, had+spare); estimateTokens(more) > had {
			texts[i] = more
			spare -= estimateTokens(more) - had
		}
	}
	return task + strings.Join(texts, "") + code + instructions + rules
}

// textsInRooms writes the texts in order, each within its room and all
// within room. A text is written within what room is left only when it
// does not fit there within its own: written within less, even its own
// estimate, it may come out shorter (its parts' estimates round up each on
// its own), and at the floor (see Assemble) the texts would not be those
// the code was chosen beside.
func textsInRooms(m Material, rooms []int, room int) []string {
	texts := make([]string, len(textSections))
	for i, t := range textSections {
		if room <= 0 {
			break
		}
		if texts[i] = t.write(m, rooms[i]); estimateTokens(texts[i]) > room {
			texts[i] = t.write(m, room)
		}
		room -= estimateTokens(texts[i])
	}
	return texts
}

// shareRooms is each text's share of the budget, the least it gets when
// there is room for it included, by estimate.
func shareRooms(budget int) []int {
	rooms := make([]int, len(textSections))
	for i, t := range textSections {
		rooms[i] = max(int(t.share*float64(budget)), t.minimum)
	}
	return rooms
}

// textRooms is the room, by estimate, in which each text takes no more
// than its share of the budget as counted: its share by estimate, or less
// for a text that counts more tokens than its estimate. At four bytes a
// token, an issue of base64 took 80% of the budget at a share of 30%, and
// one in a script the tokenizer knows little left no room for code. A text
// that counts fewer tokens than its estimate, as English does, keeps its
// share by estimate: what it leaves goes to the code.
func textRooms(in PromptInput) []int {
	rooms := shareRooms(in.Budget)
	for i, t := range textSections {
		share := rooms[i]
		_, room, _ := fitByCount(share, share, func(estimate int) string { return t.write(in.Material, min(estimate, share)) })
		rooms[i] = min(room, share)
	}
	return rooms
}

// textSections are the prompt's texts in the order they are shown and
// given room, each with its share of the budget and the least it gets
// when there is room for it.
var textSections = []struct {
	write   func(Material, int) string
	share   float64
	minimum int
}{
	{issueSection, issueShare, minIssueTokens},
	{commentsSection, commentsShare, 0},
	{linkedSection, linkedShare, 0},
	{guidelinesSection, guidelinesShare, 0},
	{overviewSection, overviewShare, 0},
}

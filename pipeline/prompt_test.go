package pipeline

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/contextgather"
)

// TestAFixRoundsPromptHoldsTheBudget gives a task whose first prompt fills
// its budget, then three checks that fail with long output: the fix
// round's prompt holds the task, the end of each check's output and the
// budget.
func TestAFixRoundsPromptHoldsTheBudget(t *testing.T) {
	t.Parallel()
	files := fstest.MapFS{"parser.go": {Data: []byte(strings.Repeat("// Parse reads input.\nfunc Parse(s string) int { return len(s) }\n", 400))}}
	m := contextgather.Material{Repo: "acme/parser", Requester: "maint",
		Issue: contextgather.Item{Number: 1, Title: "Parse crashes on empty input", Author: "maint", Trusted: true,
			Body: strings.Repeat("The parser crashes on empty input. ", 3000)}}
	cfg := config.Repo{Verify: []config.Check{{Name: "test", Run: "go test ./..."}, {Name: "vet", Run: "go vet ./..."}, {Name: "lint", Run: "golangci-lint run"}}}
	const budget = 8000
	in, err := promptInput(t.Context(), m, files, cfg, "oneshot/issue-1", budget)
	if err != nil {
		t.Fatal(err)
	}
	r := &run{promptInput: in}
	if first := contextgather.CountTokens(contextgather.Assemble(in)); first < budget*9/10 {
		t.Fatalf("the first prompt takes %d tokens; the test needs it to fill its budget of %d", first, budget)
	}
	for _, c := range cfg.Verify {
		var tail strings.Builder
		for i := 0; tail.Len() < failureTail; i++ {
			fmt.Fprintf(&tail, "--- FAIL: TestParse/case_%d (0.00s)\n    parser_test.go:%d: got 0x%08x, want 0x%08x\n", i, 100+i, i*7919, i*104729)
		}
		tail.WriteString("FAIL " + c.Name + " at the end\n")
		r.report.Checks = append(r.report.Checks, CheckResult{Name: c.Name, Command: c.Run, ExitCode: 1, Tail: tail.String()})
	}

	prompt := r.fixPrompt()
	if n := contextgather.CountTokens(prompt); n > budget*102/100 {
		t.Errorf("the fix round's prompt takes %d tokens, over the budget of %d", n, budget)
	}
	for _, want := range []string{"Parse crashes on empty input", "# The checks failed",
		"The files quoted above are as they were before your change", "## test: `go test ./...` (exit 1)", "FAIL test at the end", "FAIL vet at the end", "FAIL lint at the end"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("the fix round's prompt lacks %q", want)
		}
	}
}

func TestAFixRoundsPromptHoldsTheBudgetWhateverTheOutputIsMadeOf(t *testing.T) {
	t.Parallel()
	// Output the tokenizer counts more densely than bytes suggest.
	var cjk, hexBox strings.Builder
	for i := range 20_000 {
		cjk.WriteRune(rune(0x4e00 + i*7919%20_000))
		hexBox.WriteByte("0123456789abcdef"[i*31%16])
		if i%7 == 0 {
			hexBox.WriteString("─│┼")
		}
	}
	for name, out := range map[string]string{
		"short lines": strings.Repeat("error: x\n", 5000),
		"CJK":         cjk.String(),
		"hex and box": hexBox.String(),
	} {
		const budget = 32_000
		r := &run{promptInput: contextgather.PromptInput{
			Material: contextgather.Material{Repo: "o/r", Issue: contextgather.Item{Number: 1, Title: "Fix the widget", Body: "The widget breaks.", Trusted: true}},
			Branch:   "oneshot/issue-1", Verify: []string{"go test ./..."}, Budget: budget,
		}}
		r.report.Checks = []CheckResult{{Name: "test", Command: "go test ./...", ExitCode: 1, Tail: out}}
		prompt := r.fixPrompt()
		if n := contextgather.CountTokens(prompt); n > budget*102/100 || !strings.Contains(prompt, "Fix the widget") {
			t.Errorf("%s: the fix round's prompt takes %d tokens of %d, the task in it: %v", name, n, budget, strings.Contains(prompt, "Fix the widget"))
		}
	}
}

// TestACheckOutputCutInACharacterIsText: its end is kept by bytes, and may
// begin in the middle of a character.
func TestACheckOutputCutInACharacterIsText(t *testing.T) {
	t.Parallel()
	r := &run{p: &Pipeline{}}
	out := r.checkOutput()
	// Three bytes a character, and a line break: the last failureTail
	// bytes begin a byte into one.
	out.Write([]byte(strings.Repeat("✓", failureTail) + "\n"))
	if tail := out.tail(); !utf8.ValidString(tail) || !strings.HasSuffix(tail, "✓✓✓") {
		t.Fatalf("tail starts %q, ends %q: want UTF-8, whole at its end", tail[:8], tail[len(tail)-8:])
	}
}

package contextgather

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// material is a task's context with plenty of everything.
func material(bodySize int) Material {
	return Material{
		Repo:         "acme/widgets",
		Issue:        Item{Number: 7, Kind: KindIssue, Title: "Parse fails on empty input", Body: strings.Repeat("The parser crashes. ", bodySize/20), Author: "stranger", Trusted: false},
		Comments:     []Comment{{Author: "maintainer", Body: "Look at parser.go, the empty case."}},
		Guidelines:   []Guideline{{Path: "AGENTS.md", Text: "Run make check before you finish."}},
		Instructions: "keep the API as it is",
		Requester:    "maintainer",
	}
}

func files(n, size int) (fstest.MapFS, []Ranked) {
	fsys := fstest.MapFS{}
	var ranked []Ranked
	for i := range n {
		name := fmt.Sprintf("pkg/file%d.go", i)
		var b strings.Builder
		for line := 1; b.Len() < size; line++ {
			fmt.Fprintf(&b, "func f%d_%d() { /* line %d */ }\n", i, line, line)
		}
		fsys[name] = &fstest.MapFile{Data: []byte(b.String())}
		ranked = append(ranked, Ranked{Path: name, Hits: []int{40, 41, 300}})
	}
	return fsys, ranked
}

func TestThePromptHoldsItsBudget(t *testing.T) {
	fsys, ranked := files(8, 60_000)
	for _, budget := range []int{1500, 4000, 16_000, 64_000} {
		in := PromptInput{Material: material(200_000), Branch: "oneshot/issue-7", Ranked: ranked, Files: fsys,
			Verify: []string{"go test ./..."}, Protected: []string{".github/workflows/"}, Budget: budget}
		prompt := Assemble(in)
		got := EstimateTokens(prompt)
		if got > budget {
			t.Errorf("budget %d: the prompt takes %d tokens", budget, got)
		}
		// When the issue alone outgrows the budget, the budget is used, not
		// wasted; with room to spare, the prompt does not pad itself with
		// code far from what the issue points at.
		if budget <= 4000 && got < budget*9/10 {
			t.Errorf("budget %d: the prompt takes only %d tokens", budget, got)
		}
		if !strings.Contains(prompt, "go test ./...") || !strings.Contains(prompt, "## Rules") {
			t.Errorf("budget %d: the checks or the rules were cut", budget)
		}
	}
}

func TestThePromptHasWhatTheAgentNeeds(t *testing.T) {
	fsys := fstest.MapFS{"parser.go": {Data: []byte("package p\n\nfunc Parse(s string) int { return len(s) }\n")}}
	prompt := Assemble(PromptInput{
		Material: material(200), Branch: "oneshot/issue-7",
		Ranked: []Ranked{{Path: "parser.go"}}, Files: fsys,
		Verify: []string{"go test ./..."}, Protected: []string{".github/workflows/"}, Budget: 8000,
	})
	for _, want := range []string{
		"## Issue #7: Parse fails on empty input",
		"untrusted", // the issue's author has no write access
		"@maintainer wrote:\n\nLook at parser.go",
		"### AGENTS.md\n\nRun make check",
		"## Instructions from @maintainer",
		"func Parse(s string) int",
		"Do not change `.github/workflows/`",
		"oneshot/issue-7",
	} {
		if !strings.Contains(prompt, want) {
			t.Errorf("the prompt lacks %q:\n%s", want, prompt)
		}
	}
}

func TestALargeFileIsShownAroundItsHits(t *testing.T) {
	fsys, ranked := files(1, 200_000)
	prompt := Assemble(PromptInput{Material: material(100), Ranked: ranked, Files: fsys, Budget: 6000})
	if !strings.Contains(prompt, "(parts; lines numbered)") || !strings.Contains(prompt, "40: func f0_40()") {
		t.Fatalf("the file's windows are missing:\n%s", prompt)
	}
	if strings.Contains(prompt, "func f0_2000()") {
		t.Fatal("a far part of the file was shown")
	}
}

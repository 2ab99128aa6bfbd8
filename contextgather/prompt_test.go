package contextgather

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"github.com/oneshot-dev/oneshot/config"
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
	// The files with the issue's identifiers on every few lines: more
	// code worth showing than any budget holds.
	dense := make([]Ranked, len(ranked))
	for i, r := range ranked {
		dense[i] = Ranked{Path: r.Path}
		for line := 1; line < 1700; line += 7 {
			dense[i].Hits = append(dense[i].Hits, line)
		}
	}
	// One large file alike: it takes what room is left, not only its share.
	large, one := files(1, 200_000)
	for line := 1; line < 6000; line += 7 {
		one[0].Hits = append(one[0].Hits, line)
	}
	for _, tc := range []struct {
		name     string
		material Material
		files    fstest.MapFS
		ranked   []Ranked
	}{
		// The room code leaves goes to the issue.
		{"an issue larger than the budget", material(400_000), fsys, ranked},
		{"code larger than the budget", material(100), fsys, dense},
		{"one file larger than the budget", material(100), large, one},
	} {
		for _, budget := range []int{config.MinPromptTokens, 1500, 2000, 4000, 16_000, 64_000} {
			in := PromptInput{Material: tc.material, Branch: "oneshot/issue-7", Ranked: tc.ranked, Files: tc.files,
				Verify: []string{"go test ./..."}, Protected: []string{".github/workflows/"}, Budget: budget}
			prompt := Assemble(in)
			// The budget holds, and is used to within 2%: what room is
			// left, too little for another window of code, goes to the
			// lines next to the windows shown.
			got := CountTokens(prompt)
			if got > budget || got < budget*98/100 {
				t.Errorf("%s, budget %d: the prompt takes %d tokens", tc.name, budget, got)
			}
			if !strings.Contains(prompt, "go test ./...") || !strings.Contains(prompt, "## Rules") {
				t.Errorf("%s, budget %d: the checks or the rules were cut", tc.name, budget)
			}
		}
	}
}

// byEstimate is the prompt fitted by estimates alone, never counted.
func byEstimate(in PromptInput) string {
	rooms := shareRooms(in.Budget)
	room, _ := codeRoom(in, rooms, estimateTokens)
	return assemble(in, in.Budget, codeSection(in, room), rooms)
}

// TestALongIssueLeavesWhatMaintainersAddedWhole fills the budget with an
// issue far larger than it (a pasted log) beside code worth showing: the
// maintainers' comment and the guidelines, each short, stay whole.
func TestALongIssueLeavesWhatMaintainersAddedWhole(t *testing.T) {
	fsys, ranked := files(8, 60_000)
	for _, budget := range []int{4000, 8000, 16_000, 32_000, 64_000} {
		prompt := Assemble(PromptInput{Material: material(400_000), Ranked: ranked, Files: fsys,
			Verify: []string{"go test ./..."}, Budget: budget})
		for _, want := range []string{"Look at parser.go, the empty case.", "Run make check before you finish."} {
			if !strings.Contains(prompt, want) {
				t.Errorf("budget %d: the prompt lacks %q", budget, want)
			}
		}
	}
}

// TestAFileInAnotherEncodingLeavesThePromptUTF8: an agent may refuse a
// prompt file that is not.
func TestAFileInAnotherEncodingLeavesThePromptUTF8(t *testing.T) {
	fsys := fstest.MapFS{"header.c": {Data: []byte("/* Auteur : Fran\xe7ois */\nint parse_header(void);\n")}}
	prompt := Assemble(PromptInput{Material: material(200), Branch: "oneshot/issue-7",
		Ranked: []Ranked{{Path: "header.c"}}, Files: fsys, Budget: 8000})
	if !utf8.ValidString(prompt) || !strings.Contains(prompt, "Fran\uFFFDois") {
		t.Fatalf("the prompt is no UTF-8, or lost the file:\n%q", prompt)
	}
}

// A file's characters that show nothing can spell words a model reads
// (tag characters mirror ASCII) or turn its lines round (bidi controls).
func TestAFilesInvisibleCharactersAreLeftOut(t *testing.T) {
	hidden := "\U000E0049\U000E0047\U000E004E\u202Ereturn\u2066\u2028"
	fsys := fstest.MapFS{"parser.go": {Data: []byte("package parser\n\n// Parse reads." + hidden + "\nfunc Parse() {}\n")}}
	long := strings.Repeat("// filler line\n", 3000)
	fsys["lexer.go"] = &fstest.MapFile{Data: []byte("package parser\n\n// Lex reads." + hidden + "\nfunc Lex() {}\n" + long)}
	prompt := Assemble(PromptInput{Material: material(200), Branch: "oneshot/issue-7",
		Ranked: []Ranked{{Path: "parser.go"}, {Path: "lexer.go", Hits: []int{3}}}, Files: fsys, Budget: 8000})
	// A line separator is a space: the lines keep their numbers.
	for _, want := range []string{"// Parse reads.return \nfunc Parse() {}", "3: // Lex reads.return \n4: func Lex() {}"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("the prompt lacks %q:\n%s", want, prompt)
		}
	}
}

func TestThePromptHasWhatTheAgentNeeds(t *testing.T) {
	fsys := fstest.MapFS{"parser.go": {Data: []byte("package p\n\nfunc Parse(s string) int { return len(s) }\n")}}
	m := material(200)
	m.Linked = []Item{
		{Number: 5, Kind: KindIssue, State: "closed", Title: "Empty files", Body: "Same crash on an empty file.", Author: "mallory"},
		{Number: 6, Kind: KindPullRequest, State: "open", Title: "Guard the parser", Body: "Adds a check.", Author: "alice", Trusted: true},
	}
	m.Related = []Related{{Number: 9, Title: "Parser crashes on blank lines"}}
	prompt := Assemble(PromptInput{
		Material: m, Branch: "oneshot/issue-7",
		Ranked: []Ranked{{Path: "parser.go"}}, Files: fsys,
		Verify: []string{"go test ./..."}, Protected: []string{".github/workflows/"}, Budget: 8000,
	})
	for _, want := range []string{
		"## Issue #7\n\n",
		"@maintainer wrote:\n\nLook at parser.go",
		"### pull request #6 (open)\n\nTitle: Guard the parser\n\nAdds a check.", // its author may write
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
	// What strangers wrote is a fenced block of its own, under its header.
	for _, want := range []struct{ header, content string }{
		{"Untrusted data from @stranger, who cannot write to this repository: " + untrustedAdvice,
			"Title: Parse fails on empty input\n\n" + strings.TrimSpace(m.Issue.Body) + "\n"},
		{"Untrusted data from @mallory, who cannot write to this repository: " + untrustedAdvice,
			"Title: Empty files\n\nSame crash on an empty file.\n"},
		{"Untrusted data from whoever opened these issues, which a search found: " + untrustedAdvice,
			"#9 Parser crashes on blank lines\n"},
	} {
		header, content := blockOf(prompt, want.content)
		if header != want.header || content != want.content {
			t.Errorf("block %q under %q, want %q under %q:\n%s", content, header, want.content, want.header, prompt)
		}
	}
}

func TestTheBudgetIsCountedByATokenizerNotByBytes(t *testing.T) {
	// Text that takes far more tokens than four bytes each: a hex dump in
	// the issue, and a base64 blob and the dump again in comments.
	var hexDump strings.Builder
	for i := range 4000 {
		fmt.Fprintf(&hexDump, "%08x: %x\n", i*16, sha256.Sum256([]byte(fmt.Sprint(i))))
	}
	blob := base64.StdEncoding.EncodeToString([]byte(hexDump.String()))
	m := material(100)
	m.Issue.Body = hexDump.String()
	m.Comments = []Comment{{Author: "maintainer", Body: blob}, {Author: "maintainer", Body: hexDump.String()}}
	for _, budget := range []int{1500, 4000, 16_000} {
		in := PromptInput{Material: m, Verify: []string{"go test ./..."}, Budget: budget}
		if naive := CountTokens(byEstimate(in)); naive <= budget {
			t.Fatalf("budget %d: fitted by bytes alone the prompt takes %d tokens; the test needs text that overruns", budget, naive)
		}
		got := CountTokens(Assemble(in))
		if got > budget || got < budget*98/100 {
			t.Errorf("budget %d: the prompt takes %d tokens", budget, got)
		}
	}
}

func TestWhatFitsByEstimateButNotByCountIsCutToFit(t *testing.T) {
	// Hex takes about twice the tokens of its estimate: whole, the issue
	// fits the estimate of the budget but not the budget.
	m := material(100)
	m.Issue.Body = hexLines("issue", 15_000)
	in := PromptInput{Material: m, Verify: []string{"go test ./..."}, Budget: 6000}
	prompt := Assemble(in)
	if got := CountTokens(prompt); got > in.Budget || got < in.Budget*98/100 {
		t.Errorf("the prompt takes %d tokens of %d:\n%.2000s", got, in.Budget, prompt)
	}

	// So do two files, each whole by estimate within its share.
	fsys := fstest.MapFS{}
	var ranked []Ranked
	for _, name := range []string{"a.go", "b.go"} {
		fsys[name] = &fstest.MapFile{Data: []byte(hexLines(name, 15_000))}
		ranked = append(ranked, Ranked{Path: name})
	}
	in = PromptInput{Material: material(100), Ranked: ranked, Files: fsys, Verify: []string{"go test ./..."}, Budget: 16_000}
	prompt = Assemble(in)
	if got := CountTokens(prompt); got > in.Budget || !strings.Contains(prompt, "### a.go") {
		t.Errorf("the prompt takes %d tokens of %d, and shows no code:\n%.2000s", got, in.Budget, prompt)
	}
}

// Text that takes far more tokens than four bytes each takes no more than
// its share of the budget as counted, beside files that would fill any
// room: at its share by estimate, base64 took 80% of the budget, and a
// script the tokenizer knows little left no code at all.
func TestATextDenseInTokensTakesNoMoreThanItsShare(t *testing.T) {
	fsys, ranked := files(8, 60_000)
	var blob, linearB strings.Builder
	for i := 0; blob.Len() < 200_000; i++ {
		sum := sha256.Sum256([]byte(fmt.Sprint(i)))
		blob.WriteString(base64.StdEncoding.EncodeToString(append(sum[:], sum[:]...)) + "\n")
		for _, b := range sum[:8] {
			linearB.WriteRune(0x10000 + rune(b)%0x5e) // Linear B syllables
		}
		linearB.WriteString(" ")
	}
	for name, body := range map[string]string{
		"base64":              "Crash with this payload:\n\n" + blob.String(),
		"Linear B":            "The parser crashes on this text:\n\n" + linearB.String(),
		"a log full of emoji": strings.Repeat("🔥 ERROR ❌ [2024-01-01T00:00:00.123Z] worker=7f3a9c pid=31337 ✅ ", 3000),
	} {
		m := material(100)
		m.Issue.Body = body
		for _, budget := range []int{8000, 32_000} {
			prompt := Assemble(PromptInput{Material: m, Ranked: ranked, Files: fsys, Verify: []string{"go test ./..."}, Budget: budget})
			if got := CountTokens(prompt); got > budget || got < budget*98/100 {
				t.Errorf("%s, budget %d: the prompt takes %d tokens", name, budget, got)
			}
			issue, code := between(prompt, "## Issue #7", "## Comments from"), between(prompt, "## Files most likely", "## Instructions from")
			if share := max(int(issueShare*float64(budget)), minIssueTokens); CountTokens(issue) > share {
				t.Errorf("%s, budget %d: the issue takes %d tokens, more than its share, %d", name, budget, CountTokens(issue), share)
			}
			if CountTokens(code) < budget/2 {
				t.Errorf("%s, budget %d: the code takes %d tokens, less than half the budget", name, budget, CountTokens(code))
			}
		}
	}
}

// between is the part of prompt from the start of start to that of end.
func between(prompt, start, end string) string {
	i := strings.Index(prompt, start)
	if i < 0 {
		return ""
	}
	j := strings.Index(prompt[i:], end)
	if j < 0 {
		return prompt[i:]
	}
	return prompt[i : i+j]
}

// hexLines is size bytes of Go declarations of hex strings.
func hexLines(seed string, size int) string {
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "var h%d = %q\n", i, fmt.Sprintf("%x", sha256.Sum256([]byte(seed+fmt.Sprint(i)))))
	}
	return b.String()
}

func TestALongItemIsCutToItsShareAndNoneAfterItIsLeftOut(t *testing.T) {
	items := []string{strings.Repeat("a", 400), strings.Repeat("c", 4000), strings.Repeat("b", 400), "d", "e"}
	got := fill(400, len(items), func(i, tokens int) (string, bool) {
		return fit(items[i], tokens, func(s string) string { return s + "\n" })
	})
	if estimateTokens(got) > 400 {
		t.Errorf("%d estimated tokens, want at most 400", estimateTokens(got))
	}
	if !strings.HasPrefix(got, items[0]+"\nccc") || !strings.Contains(got, "characters left out") ||
		!strings.HasSuffix(got, items[2]+"\nd\ne\n") {
		t.Errorf("the long one is not cut, or the short ones after it are not whole:\n%s", got)
	}
}

// Items that show more than their text (a heading, a fence around text
// to distrust) go in in order when a share would not cover that and a
// little of the text: shared, none would show at all.
func TestItemsTooDressedForTheirShareGoInInOrder(t *testing.T) {
	const dress = "### an item's heading, and the fence and warning around text to distrust, which are not cut\n"
	items := []string{strings.Repeat("a", 1600), strings.Repeat("b", 1600), strings.Repeat("c", 1600)}
	got := fill(450, len(items), func(i, tokens int) (string, bool) {
		return fit(items[i], tokens-estimateTokens(strings.Repeat(dress, 4)), func(s string) string { return strings.Repeat(dress, 4) + s + "\n" })
	})
	if !strings.Contains(got, "aaa") {
		t.Errorf("the first item does not show:\n%s", got)
	}
}

func TestWithoutRoomToShareItemsGoInWholeUntilOneIsCutAndTheRestAreCounted(t *testing.T) {
	items := []string{strings.Repeat("a", 400), strings.Repeat("b", 400), strings.Repeat("c", 4000), strings.Repeat("f", 4000),
		strings.Repeat("g", 4000), strings.Repeat("h", 4000), "d", "e"}
	got := fill(400, len(items), func(i, tokens int) (string, bool) {
		return fit(items[i], tokens, func(s string) string { return s + "\n" })
	})
	if estimateTokens(got) > 400 {
		t.Errorf("%d estimated tokens, want at most 400", estimateTokens(got))
	}
	if !strings.HasPrefix(got, items[0]+"\n"+items[1]+"\nccc") || !strings.Contains(got, "characters left out") {
		t.Errorf("the first two are not whole, or the third is not cut:\n%s", got)
	}
	if !strings.HasSuffix(got, "(5 more left out for room.)\n\n") {
		t.Errorf("the note does not count the five left out:\n%s", got)
	}
}

// A log pasted in an early comment is cut to its share: the maintainers'
// later word still goes in.
func TestALongEarlyCommentLeavesTheLaterOnesIn(t *testing.T) {
	m := material(200)
	m.Comments = []Comment{
		{Author: "alice", Body: "The log:\n\n```\n" + strings.Repeat("ERROR retrying the upload after a timeout\n", 3000) + "```"},
		{Author: "bob", Body: "DECISION: no retry limit; back off exponentially in uploader.go."},
	}
	prompt := Assemble(PromptInput{Material: m, Branch: "oneshot/issue-7", Budget: 8000})
	if !strings.Contains(prompt, "@alice wrote") || !strings.Contains(prompt, "DECISION: no retry limit") {
		t.Fatalf("the comments are not both in the prompt:\n%s", prompt)
	}
}

func TestALongGuidelineSaysWhereTheRestIs(t *testing.T) {
	m := material(200)
	m.Guidelines = []Guideline{
		{Path: "CONTRIBUTING.md", Text: "Read all of this.", Truncated: true},
		{Path: "AGENTS.md", Text: "Short and whole."},
	}
	prompt := Assemble(PromptInput{Material: m, Branch: "oneshot/issue-7", Budget: 8000})
	if !strings.Contains(prompt, "the whole file is CONTRIBUTING.md in the checkout") {
		t.Fatalf("the cut guideline is not said to be cut:\n%s", prompt)
	}
	if strings.Count(prompt, "in the checkout.)") != 1 {
		t.Fatalf("a whole guideline is said to be cut:\n%s", prompt)
	}
}

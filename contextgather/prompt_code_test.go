package contextgather

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

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

func TestAFileWithHitsOnEveryFewLinesIsShownInWindows(t *testing.T) {
	// An identifier on every few lines of a large file, and a hit past
	// its end, as when the file changed after it was ranked.
	fsys, ranked := files(1, 200_000)
	ranked[0].Hits = nil
	for line := 30; line < 8000; line += 5 {
		ranked[0].Hits = append(ranked[0].Hits, line)
	}
	prompt := Assemble(PromptInput{Material: material(100), Ranked: ranked, Files: fsys, Budget: 6000})
	if !strings.Contains(prompt, "(parts; lines numbered)") || !regexp.MustCompile(`\n\d+: func f0_\d+\(\)`).MatchString(prompt) {
		t.Fatalf("the file's windows are missing:\n%s", prompt)
	}
}

// The line a traceback names in a large file is shown, though the
// function it is in is called on every hundredth line of the file.
func TestTheLineATracebackNamesIsShown(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 3000; i++ {
		switch {
		case i == 2470:
			b.WriteString("def compute_ratio(values):\n")
		case i == 2500:
			b.WriteString("    return total / len(values)\n")
		case i%100 == 50:
			fmt.Fprintf(&b, "    r_%d = compute_ratio(step_%d)\n", i, i-1)
		default:
			fmt.Fprintf(&b, "    step_%d = helper_%d(step_%d)\n", i, i, i-1)
		}
	}
	fsys := fstest.MapFS{
		"pkg/stats.py": {Data: []byte(b.String())},
		"pkg/cli.py":   {Data: []byte("from pkg.stats import compute_ratio\n\ndef main():\n    print(compute_ratio([]))\n")},
	}
	issue := "Crash on an empty list\n\n```\nTraceback (most recent call last):\n  File \"/usr/lib/python3/site-packages/pkg/cli.py\", line 4, in main\n" +
		"  File \"/usr/lib/python3/site-packages/pkg/stats.py\", line 2500, in compute_ratio\nZeroDivisionError: division by zero\n```\n"
	ranked, err := Locate(t.Context(), fsys, issue)
	if err != nil {
		t.Fatal(err)
	}
	for _, budget := range []int{6000, 1200} {
		prompt := Assemble(PromptInput{Material: Material{Repo: "a/b", Issue: Item{Number: 1, Title: "Crash on an empty list", Body: issue, Trusted: true}},
			Ranked: ranked, Files: fsys, Budget: budget})
		if !strings.Contains(prompt, "2500:     return total / len(values)") {
			t.Errorf("budget %d: the line the traceback names, pkg/stats.py:2500, is not in the prompt:\n%s", budget, prompt)
		}
	}
}

// A window narrowed to the room left keeps the line the issue names, not
// only the first line its identifiers are on.
func TestANarrowedWindowKeepsTheLineTheIssueNames(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 3000; i++ {
		fmt.Fprintf(&b, "    step_%d = helper_%d(step_%d)\n", i, i, i-1)
	}
	for _, tokens := range []int{100, 200, 400} {
		if got := windows(b.String(), []int{2480}, []int{2500}, windowContext, tokens); !strings.Contains(got, "2500:") {
			t.Errorf("%d tokens: the named line 2500 is not shown:\n%s", tokens, got)
		}
	}
}

// A file's last line ends with a line break, as most do, and what follows
// it is no line: the windows end at the last line, and a hit past it (the
// file changed since it was ranked) is dropped, where both showed a line
// 101 of a file of 100.
func TestAFilesWindowsEndAtItsLastLine(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	for _, hits := range [][]int{{100}, {101}, {50}} {
		for _, tokens := range []int{60, 10_000} {
			got := windows(b.String(), hits, nil, windowContext, tokens)
			if strings.Contains(got, "101:") || tokens == 10_000 && !strings.HasSuffix(got, "\n100: line 100\n") {
				t.Errorf("hits %v, %d tokens: the windows do not end at line 100:\n%s", hits, tokens, got)
			}
		}
	}
}

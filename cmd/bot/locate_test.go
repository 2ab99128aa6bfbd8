package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestLocatePrintsTheBestPathsOneALine(t *testing.T) {
	dir := checkout(t, map[string]string{
		"parser/parse.go":      "package parser\n\n// Parse reads a count.\nfunc Parse(s string) int { return len(s) }\n",
		"parser/parse_test.go": "package parser\n\nfunc TestParse(t *testing.T) { Parse(\"\") }\n",
		"util/strings.go":      "package util\n\nfunc Reverse(s string) string { return s }\n",
		"README.md":            "Parse Parse Parse\n",
	})
	issue := issueFile(t, "Parse fails on empty input\n\n`Parse(\"\")` should return -1.\n")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		// util/strings.go shares nothing with the issue: it is no candidate.
		{"every file the issue points at, best first", nil, []string{"parser/parse.go", "parser/parse_test.go"}},
		{"the best one", []string{"--top", "1"}, []string{"parser/parse.go"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(append([]string{"locate", "--dir", dir, "--issue", issue}, tc.args...), &out); err != nil {
				t.Fatal(err)
			}
			if got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("printed %q, want %q", got, tc.want)
			}
		})
	}
}

// Run from a directory of a repository, locate ranks the whole
// repository, as a task does, with paths from its root.
func TestLocateInADirectoryOfARepositoryRanksTheWholeRepository(t *testing.T) {
	repo := checkoutIn(t, gitRepo(t), map[string]string{
		"pkg/parse.go": "package pkg\n\n// Parse reads a count.\nfunc Parse(s string) int { return len(s) }\n",
		"cmd/main.go":  "package main\n\nfunc main() {}\n",
	})
	runGit(t, repo, "add", ".")
	runGit(t, repo, "commit", "-q", "-m", "parser")
	issue := issueFile(t, "Parse fails on empty input\n\n`pkg.Parse(\"\")` should return -1.\n")
	var out bytes.Buffer
	if err := run([]string{"locate", "--dir", filepath.Join(repo, "cmd"), "--issue", issue, "--top", "1"}, &out); err != nil || out.String() != "pkg/parse.go\n" {
		t.Errorf("printed %q, err %v; want pkg/parse.go", out.String(), err)
	}
}

// In a repository, locate ranks what a task would: HEAD's files, not
// those git ignores nor changes not committed.
func TestLocateInARepositoryRanksItsFilesAtHead(t *testing.T) {
	repo := checkoutIn(t, gitRepo(t), map[string]string{
		".gitignore":   "out/\n",
		"pkg/parse.go": "package pkg\n\n// Parse reads a count.\nfunc Parse(s string) int { return len(s) }\n",
	})
	runGit(t, repo, "add", ".")
	runGit(t, repo, "commit", "-q", "-m", "parser")
	checkoutIn(t, repo, map[string]string{
		"out/parse_copy.go":  "package out\n\n// Parse reads a count.\nfunc Parse(s string) int { return len(s) }\n",
		"pkg/draft_parse.go": "package pkg\n\n// ParseAll reads counts with Parse.\nfunc ParseAll() { Parse(\"\") }\n",
	})
	issue := issueFile(t, "Parse fails on empty input\n\n`pkg.Parse(\"\")` should return -1.\n")
	var out bytes.Buffer
	if err := run([]string{"locate", "--dir", repo, "--issue", issue}, &out); err != nil || out.String() != "pkg/parse.go\n" {
		t.Errorf("printed %q, err %v; want pkg/parse.go alone", out.String(), err)
	}
}

// A title is plain text: a tag named in it hides nothing after it, as it
// would in the body.
func TestLocateReadsTheTitleAsPlainText(t *testing.T) {
	dir := checkout(t, map[string]string{
		"config.py": "def parse_config(text):\n    return text\n",
		"other.py":  "def unrelated():\n    pass\n",
	})
	// Only the title names the file.
	for _, title := range []string{"Escape <script> tags in config.py", "<style> blocks lose their indentation in config.py"} {
		issue := issueFile(t, title+"\n\nThe output is wrong since the last release.\n")
		var out bytes.Buffer
		if err := run([]string{"locate", "--dir", dir, "--issue", issue, "--top", "1"}, &out); err != nil || out.String() != "config.py\n" {
			t.Errorf("title %q: printed %q, err %v; want config.py", title, out.String(), err)
		}
	}
}

func TestLocatePrintsANameWithALineBreakOnOneLine(t *testing.T) {
	dir := checkout(t, map[string]string{"parse\nr.go": "package parser\n\nfunc Parse(s string) int { return len(s) }\n"})
	issue := issueFile(t, "Parse fails on empty input\n\n`Parse(\"\")` should return -1.\n")
	var out bytes.Buffer
	if err := run([]string{"locate", "--dir", dir, "--issue", issue}, &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != `"parse\nr.go"`+"\n" {
		t.Errorf("printed %q, want the name quoted on one line", got)
	}
}

func TestLocateSaysSoWhenNoFileMatches(t *testing.T) {
	dir := checkout(t, map[string]string{"util/strings.go": "package util\n\nfunc Reverse(s string) string { return s }\n"})
	issue := issueFile(t, "Parse fails on empty input\n\n`Parse(\"\")` should return -1.\n")
	var out bytes.Buffer
	err := run([]string{"locate", "--dir", dir, "--issue", issue}, &out)
	if err == nil || !strings.Contains(err.Error(), "no file in "+dir+" shares a word, path or symbol with the issue") || out.Len() != 0 {
		t.Fatalf("err %v, printed %q", err, out.String())
	}
	// As grep: nothing found is 1, an error 2.
	missing := run([]string{"locate", "--dir", dir, "--issue", filepath.Join(dir, "no-such-issue.txt")}, &out)
	if got := exitStatus([]string{"locate"}, err); got != 1 || exitStatus([]string{"locate"}, missing) != 2 {
		t.Fatalf("exit status %d for nothing found, %d for a missing issue file (%v)", got, exitStatus([]string{"locate"}, missing), missing)
	}
}

// A checkout with no file bot locate reads says that, not that the issue
// matched nothing: a Perl module was no source file, and "parse crashes
// in Parser.pm" was said to share no word with it.
func TestLocateSaysSoWhenTheCheckoutHoldsNothingToRank(t *testing.T) {
	issue := issueFile(t, "parse crashes in Parser.pm\n\nOn empty input.\n")
	var out bytes.Buffer
	perl := checkout(t, map[string]string{"lib/Parser.pm": "package Parser;\n\nsub parse { return length shift }\n"})
	if err := run([]string{"locate", "--dir", perl, "--issue", issue}, &out); err != nil || out.String() != "lib/Parser.pm\n" {
		t.Errorf("printed %q, err %v; want lib/Parser.pm", out.String(), err)
	}
	out.Reset()
	docs := checkout(t, map[string]string{"README.md": "Parser.pm parses.\n", "notes.txt": "parse crashes\n"})
	err := run([]string{"locate", "--dir", docs, "--issue", issue}, &out)
	if err == nil || !strings.Contains(err.Error(), "no file in "+docs+" is source code that bot locate reads") ||
		strings.Contains(err.Error(), "nothing matched") || out.Len() != 0 {
		t.Fatalf("err %v, printed %q", err, out.String())
	}
	if got := exitStatus([]string{"locate"}, err); got != 1 {
		t.Errorf("exit status %d for nothing to rank, want 1 as for nothing found", got)
	}
}

func TestLocateRefusesATopBelowOne(t *testing.T) {
	dir := checkout(t, map[string]string{"a.go": "package a\n"})
	issue := issueFile(t, "Anything\n")
	for _, top := range []string{"0", "-1"} {
		var out bytes.Buffer
		err := run([]string{"locate", "--dir", dir, "--issue", issue, "--top", top}, &out)
		if err == nil || !strings.Contains(err.Error(), "--top is "+top+"; it must be at least 1") || out.Len() != 0 {
			t.Errorf("--top %s: err %v, printed %q", top, err, out.String())
		}
	}
}

func TestAnIssueFileThatHoldsNoIssueIsRefused(t *testing.T) {
	dir := checkout(t, map[string]string{"a.go": "package a\n"})
	big := strings.Repeat("word ", maxIssueFile/5+1)
	for _, tc := range []struct{ name, text, want string }{
		{"empty", "", "is empty"},
		{"only a template's comment", "<!-- Describe the bug -->\n\n", "is empty"},
		{"binary", "PK\x03\x04\x00\x00", "not text: it holds a NUL byte"},
		{"not UTF-8", "caf\xe9 crashes", "not UTF-8 text"},
		{"too large", big, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			issue := issueFile(t, tc.text)
			for _, cmd := range []string{"locate", "prompt"} {
				var out bytes.Buffer
				err := run([]string{cmd, "--dir", dir, "--issue", issue}, &out)
				if err == nil || !strings.Contains(err.Error(), tc.want) || out.Len() != 0 {
					t.Errorf("%s: err %v, printed %d bytes; want an error saying it %s", cmd, err, out.Len(), tc.want)
				}
			}
		})
	}
}

package contextgather

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"github.com/oneshot-dev/oneshot/tasks"
)

func TestALocalTaskTitleIsCutAsAnIssuesIs(t *testing.T) {
	m := Local(&tasks.Task{Repo: "widgets"}, strings.Repeat("long title ", 10_000), "the body", os.DirFS(t.TempDir()))
	if n := utf8.RuneCountInString(m.Issue.Title); n != maxTitle || !strings.HasPrefix(m.Issue.Title, "long title long") {
		t.Errorf("title of %d characters: %.40q", n, m.Issue.Title)
	}
}

// TestATitleIsPlainTextAsGitHubShowsIt checks that a title keeps the
// markup GitHub shows in it, losing only what shows nothing.
func TestATitleIsPlainTextAsGitHubShowsIt(t *testing.T) {
	for title, want := range map[string]string{
		"Handle <script> tags in preview":        "Handle <script> tags in preview",
		"Support <input type=\"checkbox\">":      "Support <input type=\"checkbox\">",
		"Lexer hangs on <!-- in\u200b templates": "Lexer hangs on <!-- in templates",
		"Fix \u202eeulav the":                    "Fix eulav the",
	} {
		if got := cleanTitle(title); got != want {
			t.Errorf("cleanTitle(%q) = %q, want %q", title, got, want)
		}
	}
}

// TestAGuidelineThatIsAPipeIsSkipped checks a local checkout: opening a
// named pipe would wait for a writer for ever.
func TestAGuidelineThatIsAPipeIsSkipped(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "AGENTS.md"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "CONTRIBUTING.md"), []byte("Run the tests.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := Local(&tasks.Task{Repo: "widgets"}, "Crash", "It crashes.", os.DirFS(dir))
	if len(m.Guidelines) != 1 || strings.TrimSpace(m.Guidelines[0].Text) != "Run the tests." {
		t.Errorf("guidelines %+v; want CONTRIBUTING.md's only", m.Guidelines)
	}
}

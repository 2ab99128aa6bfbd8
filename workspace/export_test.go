package workspace

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A checkout reads a file through a link to it, as an agent and its tools
// do; the export holds a copy in the link's place. Links that lead out of
// the commit, to a directory, or round in a loop are left out.
func TestExportWritesALinkToAFileOfTheCommitAsItsCopy(t *testing.T) {
	t.Parallel()
	src := workTree(t)
	writeFiles(t, src, map[string]string{"AGENTS.md": "Run make test.\n", "docs/rules.md": "Be brief.\n"})
	for link, target := range map[string]string{
		"CLAUDE.md":                       "AGENTS.md",
		".github/copilot-instructions.md": "../docs/rules.md",
		"chain.md":                        "CLAUDE.md",
		"outside.md":                      "../../etc/hostname",
		"absolute.md":                     "/etc/hostname",
		"docs-link":                       "docs",
		"loop-a":                          "loop-b",
		"loop-b":                          "loop-a",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, link)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(src, link)); err != nil {
			t.Fatal(err)
		}
	}
	commit := commitFiles(t, src, nil)
	r := fetched(t, src)
	dir := t.TempDir()
	if err := r.Export(context.Background(), commit, dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"CLAUDE.md": "Run make test.\n", "chain.md": "Run make test.\n", ".github/copilot-instructions.md": "Be brief.\n",
	} {
		info, err := os.Lstat(filepath.Join(dir, name))
		got, _ := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !info.Mode().IsRegular() || string(got) != want {
			t.Errorf("%s = %q (%v, %v); want a file holding %q", name, got, info, err, want)
		}
	}
	for _, name := range []string{"outside.md", "absolute.md", "docs-link", "loop-a", "loop-b"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s is in the export: %v", name, err)
		}
	}
}

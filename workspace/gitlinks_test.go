package workspace

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The change's .gitmodules is the agent's: an include in it, which git
// follows in a blob unless told not to, would have the host read a file
// of its own, whose declarations would decide which gitlinks ship, or
// hang on one that never ends, such as git's own output.
func TestAnIncludeInTheChangesGitmodulesIsNotFollowed(t *testing.T) {
	t.Parallel()
	hostFile := filepath.Join(t.TempDir(), "host.config")
	if err := os.WriteFile(hostFile, []byte("[submodule \"x\"]\n\tpath = from-the-host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, include := range []string{hostFile, "/proc/self/fd/1"} {
		src := workTree(t)
		change := commitFiles(t, src, map[string]string{".gitmodules": "[include]\n\tpath = " + include +
			"\n[submodule \"own\"]\n\tpath = own\n"})
		r := fetched(t, src)
		// Bounded, so that a git that hangs fails the test rather than
		// stall it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		paths, err := r.SubmodulePaths(ctx, change)
		cancel()
		if err != nil || len(paths) != 1 || paths[0] != "own" {
			t.Fatalf("including %s: paths %q, err %v; want only the file's own", include, paths, err)
		}
	}
}

package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The temporary directory may be shared: a work root someone else could
// read, or a link to one, is refused, not written into.
func TestAWorkRootOthersCouldReadIsRefused(t *testing.T) {
	// Not parallel: it sets TMPDIR.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	if err := os.Mkdir(WorkRoot("open"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(WorkRoot("open"), 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	if err := os.Symlink(elsewhere, WorkRoot("linked")); err != nil {
		t.Fatal(err)
	}
	for owner, want := range map[string]string{"open": "may be read by other users", "linked": "is not a directory"} {
		if w, err := newWorkDir(owner); err == nil || !strings.Contains(err.Error(), want) {
			if w != nil {
				w.close()
			}
			t.Errorf("work root of %s: %v, want it refused as one that %s", owner, err, want)
		}
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("the link's target was written into: %v", entries)
	}

	w, err := newWorkDir("own")
	if err != nil {
		t.Fatalf("a work root of this user's own: %v", err)
	}
	defer w.close()
	if filepath.Dir(w.path) != WorkRoot("own") {
		t.Errorf("the process's directory is %s", w.path)
	}
}

// The git cache holds every repository's history, and git runs in it with
// the tasks' tokens: one someone else could read or have made, or a link,
// is refused too, and named by its setting.
func TestAGitCacheOthersCouldReachIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	linked := filepath.Join(dir, "linked")
	if err := os.Symlink(elsewhere, linked); err != nil {
		t.Fatal(err)
	}
	for cache, want := range map[string]string{open: "may be read by other users", linked: "is not a directory"} {
		err := makeGitCacheDir(cache)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "git.cache_dir (ONESHOT_GIT_CACHE_DIR)") {
			t.Errorf("git cache %s: %v, want it refused as one that %s, naming its setting", cache, err, want)
		}
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("the link's target was written into: %v", entries)
	}

	made := filepath.Join(dir, "var", "cache")
	if err := makeGitCacheDir(made); err != nil {
		t.Fatalf("a git cache made anew: %v", err)
	}
	if info, err := os.Stat(made); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("the git cache made anew: %v, %v; want it 0700", info, err)
	}
}

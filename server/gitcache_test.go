package server_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAWorkingBotRemovesTheCachedRepositoriesNoTaskUsed starts a bot
// whose git cache holds a repository no task fetched into for a month and
// one fetched into today: the first goes, the second stays.
func TestAWorkingBotRemovesTheCachedRepositoriesNoTaskUsed(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	cache := b.env["ONESHOT_GIT_CACHE_DIR"]
	unused, used := filepath.Join(cache, "0a0a.git"), filepath.Join(cache, "0b0b.git")
	for _, dir := range []string{unused, used} {
		if err := os.MkdirAll(filepath.Join(dir, "objects"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	month := time.Now().Add(-30 * 24 * time.Hour)
	if err := os.Chtimes(unused, month, month); err != nil {
		t.Fatal(err)
	}
	b.srv = b.start(t)
	waitFor(t, 10*time.Second, "the unused repository to leave the cache", func() bool {
		_, err := os.Stat(unused)
		return os.IsNotExist(err)
	})
	if _, err := os.Stat(filepath.Join(used, "objects")); err != nil {
		t.Fatalf("the repository used today left the cache: %v", err)
	}
}

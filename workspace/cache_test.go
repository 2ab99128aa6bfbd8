package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/internal/filelock"
)

func TestTheCacheIsToppedUpAndEachTaskKeepsItsOwnObjects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := workTree(t)
	commit := func(name string) string { return commitFiles(t, src, map[string]string{name: name + "\n"}) }
	cache := &Cache{Dir: filepath.Join(t.TempDir(), "cache")}
	take := func(want string) (*Repo, error) {
		r, err := Init(ctx, filepath.Join(t.TempDir(), "repo.git"))
		if err != nil {
			return nil, err
		}
		head, err := cache.Fetch(ctx, "repository 1", src, Auth{}, "main", r, "refs/oneshot/default")
		if err != nil || head != want {
			return nil, fmt.Errorf("head %s, %v; want %s", head, err, want)
		}
		if _, err := r.git(ctx, Auth{}, "fsck", "--connectivity-only", "--no-dangling"); err != nil {
			return nil, fmt.Errorf("the task's repository lacks objects: %w", err)
		}
		return r, nil
	}
	checkout := func(want string) *Repo {
		t.Helper()
		r, err := take(want)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	checkout(commit("a.txt"))
	second := commit("b.txt")

	// Tasks at once, of one repository, each with all it needs.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := take(second); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	cached, _ := filepath.Glob(filepath.Join(cache.Dir, "*.git", "objects", "pack", "*.pack"))
	if len(cached) != 2 {
		t.Fatalf("the cache holds %d packs, want the first fetch's and the one that topped it up", len(cached))
	}

	// A git killed in the cache leaves a pack without its index and a
	// .keep: neither reaches a task, nor stops the next fetch.
	packDir := filepath.Dir(cached[0])
	for _, name := range []string{"pack-0123456789abcdef0123456789abcdef01234567.pack", filepath.Base(cached[0][:len(cached[0])-len(".pack")]) + ".keep"} {
		if err := os.WriteFile(filepath.Join(packDir, name), []byte("interrupted"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	third := checkout(commit("c.txt"))
	if linked, _ := filepath.Glob(filepath.Join(third.dir, "objects", "pack", "*")); len(linked) != 6 {
		t.Fatalf("the task linked %q, want the three complete packs and their indexes", linked)
	}
	if kept, _ := filepath.Glob(filepath.Join(packDir, "*.keep")); len(kept) != 0 {
		t.Fatalf("stale .keep files stay: %q", kept)
	}

	// The cache may go whatever tasks hold.
	last := third
	if err := os.RemoveAll(cache.Dir); err != nil {
		t.Fatal(err)
	}
	if _, err := last.git(ctx, Auth{}, "fsck", "--connectivity-only", "--no-dangling"); err != nil {
		t.Fatalf("the task's repository lost objects with the cache: %v", err)
	}
	checkout(commit("d.txt"))
}

// A git killed in the cache (a task cancelled, the bot stopped) may leave
// its lock files; the next fetch, holding the cache's lock, clears them
// rather than fail on them for good.
func TestAFetchAfterAGitKilledInTheCacheClearsWhatItLeft(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := workTree(t)
	head := commitFiles(t, src, map[string]string{"a.txt": "a\n"})
	cache := &Cache{Dir: filepath.Join(t.TempDir(), "cache")}
	fetch := func() error {
		r, err := Init(ctx, filepath.Join(t.TempDir(), "repo.git"))
		if err != nil {
			return err
		}
		got, err := cache.Fetch(ctx, "repository 1", src, Auth{}, "main", r, "refs/oneshot/default")
		if err == nil && got != head {
			err = fmt.Errorf("head %s, want %s", got, head)
		}
		return err
	}
	if err := fetch(); err != nil {
		t.Fatal(err)
	}
	dir := cache.repoDir("repository 1")
	// A repack killed before it renamed its pack leaves it under a
	// temporary name, a copy of the history that nothing else removes.
	left := []string{"config.lock", "packed-refs.lock", "refs/cache/default.lock", "objects/pack/tmp_pack_1",
		"objects/pack/.tmp-123-pack-0123456789abcdef0123456789abcdef01234567.pack",
		"objects/pack/.tmp-123-pack-0123456789abcdef0123456789abcdef01234567.idx"}
	for _, name := range left {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("left by a killed git\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := fetch(); err != nil {
		t.Fatalf("the fetch after a killed git: %v", err)
	}
	for _, name := range left {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s stays: %v", name, err)
		}
	}
}

func TestRepositoriesNoTaskFetchedIntoForTheirMaxAgeLeaveTheCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := workTree(t)
	head := commitFiles(t, src, map[string]string{"a.txt": "a\n"})
	cache := &Cache{Dir: filepath.Join(t.TempDir(), "cache")}
	fetch := func(key string) string {
		t.Helper()
		r, err := Init(ctx, filepath.Join(t.TempDir(), "repo.git"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := cache.Fetch(ctx, key, src, Auth{}, "main", r, "refs/oneshot/default"); err != nil || got != head {
			t.Fatalf("fetch %s: %s, %v", key, got, err)
		}
		return cache.repoDir(key)
	}
	used, unused, busy := fetch("used"), fetch("unused"), fetch("busy")
	month := time.Now().Add(-30 * 24 * time.Hour)
	for _, dir := range []string{used, unused, busy} {
		if err := os.Chtimes(dir, month, month); err != nil {
			t.Fatal(err)
		}
	}
	fetch("used") // by a task today
	// A fetch holds one; an earlier removal was cut short.
	lock, err := filelock.TryLock(busy + ".lock")
	if err != nil || lock == nil {
		t.Fatal(lock, err)
	}
	defer lock.Close()
	leftover := filepath.Join(cache.Dir, "0123.git"+evictedSuffix)
	if err := os.MkdirAll(filepath.Join(leftover, "objects"), 0o700); err != nil {
		t.Fatal(err)
	}

	removed, err := cache.Evict(14*24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	if want := []string{leftover, unused}; !slices.Equal(removed, want) {
		t.Fatalf("removed %q, want %q", removed, want)
	}
	for _, dir := range []string{used, busy} {
		if _, err := os.Stat(filepath.Join(dir, "objects")); err != nil {
			t.Fatalf("a repository in use or held left the cache: %v", err)
		}
	}
	if _, err := os.Stat(unused); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the unused repository is still there: %v", err)
	}
	// Its repository comes back whole at the next task's fetch.
	fetch("unused")
}

// A pack copied to another file system, where no link goes, is copied
// under the cache's lock: a task stopped meanwhile stops copying, and
// leaves no part of the pack behind.
func TestACopyOfACachedPackEndsWithItsTask(t *testing.T) {
	t.Parallel()
	other, err := os.MkdirTemp("/dev/shm", "oneshot-test-")
	if err != nil {
		t.Skip("no second file system here:", err)
	}
	t.Cleanup(func() { os.RemoveAll(other) })
	from := filepath.Join(t.TempDir(), "pack-1.pack")
	if err := os.WriteFile(from, []byte("a pack\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(from, filepath.Join(other, "link")); err == nil {
		t.Skip("/dev/shm is on the same file system as", from)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	to := filepath.Join(other, "pack-1.pack")
	if err := linkOrCopy(ctx, from, to); !errors.Is(err, context.Canceled) {
		t.Errorf("the copy when its task is stopped: %v, want it stopped", err)
	}
	if _, err := os.Stat(to); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the copy stays: %v", err)
	}
}

func TestAFailedGitIsNamedByItsCommandNotItsOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, err := Init(ctx, filepath.Join(t.TempDir(), "repo.git"))
	if err != nil {
		t.Fatal(err)
	}
	cache := &Cache{Dir: filepath.Join(t.TempDir(), "cache")}
	// The cache's fetch is git -c ... fetch.
	_, err = cache.Fetch(ctx, "repository 1", filepath.Join(t.TempDir(), "none"), Auth{}, "main", r, "refs/oneshot/default")
	if err == nil || !strings.HasPrefix(err.Error(), "git fetch: ") {
		t.Fatalf("the fetch from nowhere: %v, want it said of git fetch", err)
	}
}

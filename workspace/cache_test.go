package workspace

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
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

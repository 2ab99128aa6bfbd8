package workspace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oneshot-dev/oneshot/internal/filelock"
)

// Cache keeps one bare repository per repository on the bot's host, which
// each task's fetch tops up instead of fetching the whole history again: on
// a repository the size of sympy, most of a task's setup. A task's
// repository takes the cache's packs as hard links, its own from then on,
// so the cache may be repacked whatever tasks are running. Only what the
// remote's default branch held goes in: nothing a task makes. What a task
// hands the sandbox is packed anew from the commits it needs, so history
// the cache still holds after a force push goes no further than the host.
//
// A cached repository's directory time is when a task last fetched into
// it, which Evict reads to remove the repositories no task uses any more.
type Cache struct {
	// Dir holds the cached repositories, named by a hash of their keys.
	Dir string
}

// maxCachePacks is how many packs a cached repository gathers, one a
// fetch that brought anything, before they are packed into one.
const maxCachePacks = 30

// lockWait bounds the wait for another fetch of the same repository: past
// it, the task fetches the whole history itself.
const lockWait = 2 * time.Minute

// cacheRef is where a cached repository keeps the branch it was asked
// for, whatever its name, so that a renamed default branch replaces it.
const cacheRef = "refs/cache/default"

// Fetch fetches branch from remote into the repository cached under key
// (one that names the repository for good, as its host and ID do, not its
// address, which a rename changes and another repository may take), gives
// into the cache's objects, and points ref there at the branch's head,
// which it returns.
func (c *Cache) Fetch(ctx context.Context, key, remote string, auth Auth, branch string, into *Repo, ref string) (string, error) {
	dir := c.repoDir(key)
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return "", err
	}
	// Other tasks, of this process or another, may be fetching the same.
	lock, err := filelock.Lock(ctx, dir+".lock", lockWait)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := clearInterrupted(dir); err != nil {
		return "", err
	}
	cached, err := Init(ctx, dir) // as git init does, this keeps what is there
	if err != nil {
		return "", err
	}
	// Every fetch leaves a pack, however few its objects: a pack is what
	// a task's repository links. No gc starts by itself, which could run
	// on after the lock is let go.
	if _, err := cached.git(ctx, auth, "-c", "fetch.unpackLimit=1", "-c", "gc.auto=0", "-c", "maintenance.auto=false",
		"fetch", "--quiet", "--no-tags", remote, "+refs/heads/"+branch+":"+cacheRef); err != nil {
		return "", err
	}
	head, err := cached.Resolve(ctx, cacheRef)
	if err != nil {
		return "", err
	}
	packs, err := cached.Packs(ctx)
	if err != nil {
		return "", err
	}
	if len(packs)/2 > maxCachePacks {
		// Without a bitmap, which git writes by default in a bare
		// repository: only packs and their indexes go to a task, and the
		// bitmap would be time spent holding the lock for nothing.
		if _, err := cached.git(ctx, Auth{}, "-c", "repack.writeBitmaps=false", "repack", "-a", "-d", "-q"); err != nil {
			return "", err
		}
		if packs, err = cached.Packs(ctx); err != nil {
			return "", err
		}
	}
	// Each pack before its index: a pack without one is none to git.
	for _, p := range packs {
		if err := linkOrCopy(ctx, p, filepath.Join(into.dir, "objects", "pack", filepath.Base(p))); err != nil {
			return "", fmt.Errorf("take the cached objects: %w", err)
		}
	}
	now := time.Now()
	if err := os.Chtimes(dir, now, now); err != nil {
		return "", err
	}
	return head, into.SetRef(ctx, ref, head)
}

// evictedSuffix marks a cached repository being removed: it is renamed
// first, so that a removal cut short never leaves half a repository under
// the cache's name for the next fetch to trip on.
const evictedSuffix = ".evicted"

// Evict removes the cached repositories no task fetched into for maxAge
// before now, and what a removal cut short left, and returns the
// directories it removed. A repository a fetch holds is left alone; its
// lock file stays, as a process may be waiting on it.
func (c *Cache) Evict(maxAge time.Duration, now time.Time) ([]string, error) {
	entries, err := os.ReadDir(c.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		dir := filepath.Join(c.Dir, e.Name())
		switch {
		case !e.IsDir():
			continue
		case strings.HasSuffix(e.Name(), evictedSuffix):
			if err := os.RemoveAll(dir); err != nil {
				return removed, err
			}
		case strings.HasSuffix(e.Name(), ".git"):
			gone, err := evict(dir, maxAge, now)
			if err != nil {
				return removed, err
			}
			if !gone {
				continue
			}
		default:
			continue
		}
		removed = append(removed, dir)
	}
	return removed, nil
}

// evict removes the cached repository in dir if no task fetched into it
// for maxAge and no fetch holds it, and reports whether it did.
func evict(dir string, maxAge time.Duration, now time.Time) (bool, error) {
	if info, err := os.Stat(dir); err != nil || now.Sub(info.ModTime()) < maxAge {
		return false, err
	}
	lock, err := filelock.TryLock(dir + ".lock")
	if err != nil || lock == nil {
		return false, err
	}
	defer lock.Close()
	// A fetch may have ended between the look above and the lock.
	if info, err := os.Stat(dir); err != nil || now.Sub(info.ModTime()) < maxAge {
		return false, err
	}
	doomed := dir + evictedSuffix
	if err := os.RemoveAll(doomed); err != nil { // an earlier removal's, cut short
		return false, err
	}
	if err := os.Rename(dir, doomed); err != nil {
		return false, err
	}
	return true, os.RemoveAll(doomed)
}

// repoDir is where the repository cached under key is.
func (c *Cache) repoDir(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(c.Dir, hex.EncodeToString(sum[:12])+".git")
}

// clearInterrupted removes what a git killed in the cached repository at
// dir left, all stale while the cache's lock is held: temporary packs (a
// fetch's tmp_*, and a repack's .tmp-*, a copy of the whole history that
// would otherwise stay for good), the .keep files that hold a pack out of a repack
// while it is being fetched, and git's own lock files (config.lock from git
// init, a ref's from a fetch), any of which would fail every later fetch.
func clearInterrupted(dir string) error {
	pack := filepath.Join(dir, "objects", "pack")
	patterns := []string{filepath.Join(pack, "tmp_*"), filepath.Join(pack, ".tmp-*"), filepath.Join(pack, "*.keep"),
		filepath.Join(dir, "*.lock")}
	var stale []string
	for _, pattern := range patterns {
		found, err := filepath.Glob(pattern)
		if err != nil {
			return err
		}
		stale = append(stale, found...)
	}
	err := filepath.WalkDir(filepath.Join(dir, "refs"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".lock") {
			stale = append(stale, path)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil // a repository not made yet
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, f := range stale {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// linkOrCopy hard-links from at to, or copies it where a link cannot go
// (another file system). A copy stops when ctx ends, and leaves nothing:
// it is made under the cache's lock, which other tasks wait on.
func linkOrCopy(ctx context.Context, from, to string) error {
	if err := os.Link(from, to); err == nil || errors.Is(err, os.ErrExist) {
		return nil
	}
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, ctxReader{ctx, src})
	if closeErr := dst.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(to)
	}
	return err
}

// ctxReader reads r until ctx ends, then returns what ended it.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}

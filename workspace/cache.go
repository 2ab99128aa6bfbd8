package workspace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Cache keeps one bare repository per remote on the bot's host, which each
// task's fetch tops up instead of fetching the whole history again: on a
// repository the size of sympy, most of a task's setup. A task's
// repository takes the cache's packs as hard links, its own from then on,
// so the cache may be repacked, or deleted, whatever tasks are running.
// Only what the remote's branches hold goes in: nothing a task makes.
type Cache struct {
	// Dir holds the cached repositories, one a remote, named by a hash of
	// its address.
	Dir string
}

// maxCachePacks is how many packs a cached repository gathers, one a
// fetch that brought anything, before they are packed into one.
const maxCachePacks = 30

// Fetch fetches branch from remote into the cache, gives into the cache's
// objects, and points ref there at the branch's head, which it returns.
func (c *Cache) Fetch(ctx context.Context, remote string, auth Auth, branch string, into *Repo, ref string) (string, error) {
	sum := sha256.Sum256([]byte(remote))
	dir := filepath.Join(c.Dir, hex.EncodeToString(sum[:12])+".git")
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return "", err
	}
	// Other tasks, of this process or another, may be fetching the same.
	unlock, err := lock(ctx, dir+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	cached, err := Init(ctx, dir) // as git init does, this keeps what is there
	if err != nil {
		return "", err
	}
	// Every fetch leaves a pack, however few its objects: a pack is what
	// a task's repository links.
	if _, err := cached.git(ctx, auth, "-c", "fetch.unpackLimit=1", "fetch", "--quiet", "--no-tags", remote,
		"+refs/heads/"+branch+":refs/heads/"+branch); err != nil {
		return "", err
	}
	head, err := cached.Resolve(ctx, "refs/heads/"+branch)
	if err != nil {
		return "", err
	}
	packs, err := cached.Packs(ctx)
	if err != nil {
		return "", err
	}
	if len(packs)/2 > maxCachePacks {
		if _, err := cached.git(ctx, Auth{}, "repack", "-a", "-d", "-q"); err != nil {
			return "", err
		}
		if packs, err = cached.Packs(ctx); err != nil {
			return "", err
		}
	}
	for _, p := range packs {
		if err := linkOrCopy(p, filepath.Join(into.dir, "objects", "pack", filepath.Base(p))); err != nil {
			return "", fmt.Errorf("take the cached objects: %w", err)
		}
	}
	return head, into.SetRef(ctx, ref, head)
}

// linkOrCopy hard-links from at to, or copies it where a link cannot go
// (another file system).
func linkOrCopy(from, to string) error {
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
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		os.Remove(to)
		return err
	}
	return dst.Close()
}

// lock takes an exclusive lock on path, waiting for it until ctx ends,
// and returns what lets it go. The system lets it go too when the process
// ends, however it ends.
func lock(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for %s: %w", path, context.Cause(ctx))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

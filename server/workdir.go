package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/internal/filelock"
)

// WorkRoot is where the processes of a sandbox owner keep the tasks' host
// workspaces (a checkout's git repository, the packs it brings into the
// sandbox), each process in a directory of its own under it, which it
// holds a lock in while it lives.
func WorkRoot(owner string) string {
	safe := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, owner)
	return filepath.Join(os.TempDir(), "oneshot-work-"+safe)
}

// ownPrivateDir refuses a directory that is not this user's alone: where
// other users may write too (the temporary directory, say), one of them
// could have made it first, or made it a link, to read what the bot keeps
// there, the repositories' history. setting is what the operator sets to
// choose another directory, named in the refusal.
func ownPrivateDir(dir, setting string) error {
	info, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	switch {
	case !info.IsDir():
		return fmt.Errorf("%s is not a directory (a link, say); remove it, or set %s to a directory of this user's own", dir, setting)
	case ok && int(st.Uid) != os.Getuid():
		return fmt.Errorf("%s belongs to another user; remove it, or set %s to a directory of this user's own", dir, setting)
	case info.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("%s may be read by other users (mode %v); make it 0700, remove it, or set %s to a directory of this user's own",
			dir, info.Mode().Perm(), setting)
	}
	return nil
}

// aliveFile is the file in a process's directory that the process holds
// locked while it lives: the system lets the lock go however it ends.
const aliveFile = ".alive"

// workDir is a process's directory under its owner's WorkRoot, and the
// lock that says it lives.
type workDir struct {
	path  string
	alive *os.File
}

// newWorkDir makes this process's directory under WorkRoot(owner), and
// takes its lock.
func newWorkDir(owner string) (*workDir, error) {
	root := WorkRoot(owner)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	if err := ownPrivateDir(root, "TMPDIR"); err != nil {
		return nil, err
	}
	path, err := os.MkdirTemp(root, "process-")
	if err != nil {
		return nil, err
	}
	alive, err := filelock.TryLock(filepath.Join(path, aliveFile))
	if err == nil && alive == nil {
		err = errors.New("a new directory's lock is held") // cannot be
	}
	if err != nil {
		os.RemoveAll(path)
		return nil, err
	}
	return &workDir{path: path, alive: alive}, nil
}

// close lets the lock go and removes the directory, when its tasks have
// left nothing in it.
func (w *workDir) close() {
	w.alive.Close()
	os.Remove(filepath.Join(w.path, aliveFile))
	os.Remove(w.path)
}

// sweepWorkDirs removes what dead processes of the owner left under its
// WorkRoot: a process that died mid-task (killed, out of memory) left a
// workspace, a pack of the repository's whole history among it. A
// process's directory whose lock is held is a live one's, and stays.
func sweepWorkDirs(root, own string, log zerolog.Logger) {
	entries, err := os.ReadDir(root)
	if err != nil {
		log.Warn().Err(err).Msg("Could not look for the workspaces earlier processes left.")
		return
	}
	removed := 0
	for _, e := range entries {
		path := filepath.Join(root, e.Name())
		if path == own {
			continue
		}
		lock, err := filelock.TryLockExisting(filepath.Join(path, aliveFile))
		switch {
		case err == nil && lock == nil:
			continue // its process lives
		case err == nil:
			defer lock.Close() // held until the directory is gone
		case !errors.Is(err, fs.ErrNotExist):
			log.Warn().Err(err).Str("dir", path).Msg("Could not tell whether a workspace's process lives.")
			continue
		}
		// Dead, or never made its lock: it died making its directory.
		if err := os.RemoveAll(path); err != nil {
			log.Warn().Err(err).Str("dir", path).Msg("Could not remove a workspace an earlier process left.")
			continue
		}
		removed++
	}
	if removed > 0 {
		log.Info().Int("dirs", removed).Msg("Removed the workspaces earlier processes left behind.")
	}
}

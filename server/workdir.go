package server

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"
)

// WorkRoot is where the processes of a sandbox owner keep the tasks' host
// workspaces (a checkout's git repository, the packs it brings into the
// sandbox), each process in a directory of its own under it.
func WorkRoot(owner string) string {
	safe := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, owner)
	return filepath.Join(os.TempDir(), "oneshot-work-"+safe)
}

// newWorkDir makes this process's directory under WorkRoot(owner).
func newWorkDir(owner string) (string, error) {
	root := WorkRoot(owner)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", err
	}
	return os.MkdirTemp(root, "process-")
}

// sweepWorkDirs removes what the other processes of the owner left under
// its WorkRoot: a process that died mid-task (killed, out of memory) left
// a workspace, a pack of the repository's whole history among it. It is
// called as the queue's LeftBehind, when no other process of the owner
// works the queue, so no task of theirs is using one.
func sweepWorkDirs(root, own string, log zerolog.Logger) {
	entries, err := os.ReadDir(root)
	if err != nil {
		log.Warn().Err(err).Msg("Could not look for the workspaces earlier processes left.")
		return
	}
	removed := 0
	for _, e := range entries {
		if path := filepath.Join(root, e.Name()); path != own {
			if err := os.RemoveAll(path); err != nil {
				log.Warn().Err(err).Str("dir", path).Msg("Could not remove a workspace an earlier process left.")
				continue
			}
			removed++
		}
	}
	if removed > 0 {
		log.Info().Int("dirs", removed).Msg("Removed the workspaces earlier processes left behind.")
	}
}

package workspace

// How a task's objects move without git computing them again: borrowed
// from a repository on this machine, or handed over as packs with their
// indexes.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Borrow lets the repository read the objects of the repository at the
// local path from, as git's alternates do, so that a fetch from it copies
// nothing. The repository only reads them; what it writes is its own.
func (r *Repo) Borrow(ctx context.Context, from string) error {
	cmd := exec.CommandContext(ctx, "git", "-C", from, "rev-parse", "--path-format=absolute", "--git-common-dir")
	cmd.Env = append(HostEnv(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := run(ctx, cmd, Auth{})
	if err != nil {
		return err
	}
	objects := filepath.Join(strings.TrimSpace(string(out)), "objects")
	return os.WriteFile(filepath.Join(r.dir, "objects", "info", "alternates"), []byte(objects+"\n"), 0o644)
}

// Packs returns the repository's complete pack files, each beside its
// index, once any objects left loose (a fetch of a few leaves them so) are
// packed too. A pack whose index is missing, as a git killed while it
// wrote one leaves it, is no pack to git, and is left out.
func (r *Repo) Packs(ctx context.Context) ([]string, error) {
	out, err := r.git(ctx, Auth{}, "count-objects", "-v")
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(string(out), "count: 0\n") {
		if _, err := r.git(ctx, Auth{}, "repack", "-q", "-d"); err != nil {
			return nil, err
		}
	}
	packs, err := filepath.Glob(filepath.Join(r.dir, "objects", "pack", "pack-*.pack"))
	if err != nil {
		return nil, err
	}
	var files []string
	for _, pack := range packs {
		idx := strings.TrimSuffix(pack, ".pack") + ".idx"
		if _, err := os.Stat(idx); err == nil {
			files = append(files, pack, idx)
		}
	}
	return files, nil
}

// PackFor writes into dir one pack of the objects revs reach, and nothing
// else, with its index, and returns the two files: what another repository
// needs to hold those commits, indexed already, which receiving them as a
// bundle would have it compute again.
func (r *Repo) PackFor(ctx context.Context, dir string, revs ...string) ([]string, error) {
	cmd := r.command(ctx, Auth{}, "pack-objects", "--revs", "--delta-base-offset", "-q", filepath.Join(dir, "pack"))
	cmd.Stdin = strings.NewReader(strings.Join(revs, "\n") + "\n")
	out, err := run(ctx, cmd, Auth{})
	if err != nil {
		return nil, err
	}
	name := filepath.Join(dir, "pack-"+strings.TrimSpace(string(out)))
	return []string{name + ".pack", name + ".idx"}, nil
}

package workspace

// Gitlinks: the links to commits of other repositories that git records
// for submodules, and for repositories made inside a working tree.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ChangedGitlinks lists the gitlinks, each a link to a commit of another
// repository, that to adds or changes over from, a file it replaces
// included: the entries git records for a submodule, or for a repository
// made inside a working tree.
//
// The listing is read as git writes it, and refused with ErrTooLarge past
// MaxTreeEntries changes: a tree of a few objects can list millions of
// paths, which held whole would fill the host's memory.
func (r *Repo) ChangedGitlinks(ctx context.Context, from, to string) ([]string, error) {
	var changed []string
	err := r.gitStream(ctx, func(out io.Reader) error {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sc.Split(splitNUL)
		// Each change is ":<old mode> <new mode> <old> <new> <status>",
		// then its path.
		for entries := 1; sc.Scan(); entries++ {
			if entries > MaxTreeEntries {
				return fmt.Errorf("it changes more than %d paths: %w", MaxTreeEntries, ErrTooLarge)
			}
			meta := strings.Fields(sc.Text())
			if !sc.Scan() {
				break
			}
			if len(meta) == 5 && meta[1] == gitlinkMode {
				changed = append(changed, sc.Text())
			}
		}
		return sc.Err()
	}, "diff-tree", "-r", "-z", "--no-renames", "--diff-filter=ATM", from, to)
	return changed, err
}

const gitlinkMode = "160000"

// SubmodulePaths lists the paths rev's .gitmodules declares submodules at.
func (r *Repo) SubmodulePaths(ctx context.Context, rev string) ([]string, error) {
	if _, _, found, err := r.Entry(ctx, rev, ".gitmodules"); err != nil || !found {
		return nil, err
	}
	// The file is the change's, which the agent wrote: git would follow an
	// include in it from a blob (only a file's are off by default), and
	// read whatever file of the host's it named, or hang on one such as
	// /proc/self/fd/1.
	cmd := r.command(ctx, Auth{}, "config", "--no-includes", "-z", "--blob", rev+":.gitmodules", "--get-regexp", `^submodule\..*\.path$`)
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return nil, context.Cause(ctx)
	case errors.As(err, &exit):
		// 1: no path declared. Otherwise a file git cannot read, which
		// declares nothing either.
		return nil, nil
	case err != nil:
		return nil, err
	}
	// Each is "submodule.<name>.path", a line break, the path.
	var paths []string
	for _, entry := range strings.Split(strings.TrimSuffix(out.String(), "\x00"), "\x00") {
		if _, path, ok := strings.Cut(entry, "\n"); ok {
			paths = append(paths, path)
		}
	}
	return paths, nil
}

// TreeRestoring writes the tree of rev with paths as they are in base:
// the same entry where base has one, none where it has not. It returns the
// tree's ID.
func (r *Repo) TreeRestoring(ctx context.Context, rev, base string, paths []string) (string, error) {
	// In the task's directory, where the repository is: it goes with the
	// task, and with what the next process clears when this one is killed,
	// which the system's temporary directory would keep.
	dir, err := os.MkdirTemp(filepath.Dir(r.dir), "index-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	// An index of its own, the repository being bare; and an empty work
	// tree, which update-index wants though it reads nothing there.
	env := []string{"GIT_INDEX_FILE=" + filepath.Join(dir, "index"), "GIT_WORK_TREE=" + filepath.Join(dir, "work")}
	git := func(stdin string, args ...string) (string, error) {
		cmd := r.command(ctx, Auth{}, args...)
		cmd.Env = append(cmd.Env, env...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := run(ctx, cmd, Auth{})
		return string(out), err
	}
	// Entries in ls-tree's form, which update-index reads; mode 0 removes.
	// Each path is removed, then what base has there put back: a file, a
	// link, or every file of a directory (update-index takes no directory
	// entry, and joins its name to its files' without a slash). Base is
	// listed once: two small trees can make a million gitlinks.
	restoring := make(map[string]bool, len(paths))
	var entries strings.Builder
	for _, p := range paths {
		restoring[p] = true
		entries.WriteString("0 " + strings.Repeat("0", 40) + "\t" + p + "\x00")
	}
	listing, err := git("", "ls-tree", "-r", "-z", "--full-tree", base)
	if err != nil {
		return "", err
	}
	for entry := range strings.SplitSeq(listing, "\x00") {
		if _, path, ok := strings.Cut(entry, "\t"); ok && within(path, restoring) {
			entries.WriteString(entry + "\x00")
		}
	}
	if _, err := git("", "read-tree", rev); err != nil {
		return "", err
	}
	if _, err := git(entries.String(), "update-index", "-z", "--index-info"); err != nil {
		return "", err
	}
	tree, err := git("", "write-tree")
	return strings.TrimSpace(tree), err
}

// within says whether path is one of dirs or lies under one.
func within(path string, dirs map[string]bool) bool {
	for {
		if dirs[path] {
			return true
		}
		i := strings.LastIndexByte(path, '/')
		if i < 0 {
			return false
		}
		path = path[:i]
	}
}

package workspace

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Bounds of an export. Nothing on the host reads more than 512 KB of a
// file, so a larger one is not written; and a few hundred kilobytes of
// objects can hold one blob under thousands of names, so an export stops
// with ErrTooLarge past maxExportBytes.
const (
	maxExportFile  = 1 << 20
	maxExportBytes = 2 << 30
	// maxExportFiles bounds the files, which empty ones pass the bytes'
	// bound without: each is an inode on the host.
	maxExportFiles = MaxTreeEntries
)

// Export writes the files of a commit into dir, which must exist: the
// checkout that the settings and the context are read from on the host.
// Only regular files are written, up to maxExportFile each, and anything
// that would land outside dir is skipped. A link to a file of the commit
// is written as a copy of that file, as a checkout reads it through the
// link (CLAUDE.md is often a link to AGENTS.md); other links are skipped.
// Every file comes as stored, whatever the commit's .gitattributes say.
// The archive is read as git writes it, never held whole.
func (r *Repo) Export(ctx context.Context, rev, dir string) error {
	var limit exportLimit
	links := map[string]string{} // a link's name, to its target's
	// By default git archive takes the archived commit's .gitattributes,
	// where export-ignore leaves files out (`/.github export-ignore` would
	// hide .github/oneshot.yml) and export-subst rewrites them. With
	// --worktree-attributes it takes those of the working tree, which a
	// bare repository does not have.
	err := r.gitStream(ctx, func(out io.Reader) error {
		tr := tar.NewReader(out)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			name := filepath.Clean(filepath.FromSlash(h.Name))
			if !filepath.IsLocal(name) {
				continue
			}
			if h.Typeflag == tar.TypeSymlink {
				// Kept in memory until the files are written: bounded, as
				// a few objects can make a tree of a million links.
				target := filepath.Join(filepath.Dir(name), filepath.FromSlash(h.Linkname))
				if len(links) < maxExportLinks && filepath.IsLocal(target) && !filepath.IsAbs(h.Linkname) {
					links[name] = target
				}
				continue
			}
			if h.Typeflag != tar.TypeReg || h.Size > maxExportFile {
				continue
			}
			if err := limit.take(h.Size); err != nil {
				return err
			}
			if err := writeFile(filepath.Join(dir, name), tr); err != nil {
				return err
			}
		}
	}, "archive", "--format=tar", "--worktree-attributes", rev)
	if err == nil {
		err = copyLinked(dir, links, &limit)
	}
	if err != nil {
		return fmt.Errorf("export %s: %w", rev, err)
	}
	return nil
}

// exportLimit counts what an export wrote against its bounds.
type exportLimit struct {
	written int64
	files   int
}

func (l *exportLimit) take(size int64) error {
	if l.written += size; l.written > maxExportBytes {
		return fmt.Errorf("its files outgrow %d GB: %w", maxExportBytes>>30, ErrTooLarge)
	}
	if l.files++; l.files > maxExportFiles {
		return fmt.Errorf("it has more than %d files: %w", maxExportFiles, ErrTooLarge)
	}
	return nil
}

// copyLinked writes each link of the commit that leads, through at most
// maxLinkHops links, to a file written in dir as a copy of that file.
func copyLinked(dir string, links map[string]string, limit *exportLimit) error {
	for name, target := range links {
		for hops := 0; hops < maxLinkHops; hops++ {
			next, isLink := links[target]
			if !isLink {
				break
			}
			target = next
		}
		if _, isLink := links[target]; isLink {
			continue
		}
		src, err := os.Open(filepath.Join(dir, target))
		if err != nil {
			continue // a directory, a file not written, or none
		}
		info, err := src.Stat()
		if err == nil && info.Mode().IsRegular() {
			if err = limit.take(info.Size()); err == nil {
				err = writeFile(filepath.Join(dir, name), src)
			}
		}
		src.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// maxLinkHops bounds a chain of links, which may loop; maxExportLinks the
// links an export copies, far more than a repository's guidelines need.
const (
	maxLinkHops    = 8
	maxExportLinks = 10_000
)

func writeFile(path string, contents io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, contents); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

package workspace

import (
	"bufio"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// checkBundleSizes refuses, with ErrTooLarge, a bundle holding an object
// over MaxFileSize, or objects over maxExportBytes in all, as written whole
// or as a delta declares what it makes:
// git would make every object before any later bound applied, and a delta
// of a few bytes may declare gigabytes. A bundle from the sandbox is the
// agent's to write. The pack is read as a stream, object by object, each
// inflated to nothing.
func checkBundleSizes(path string) error {
	_, _, pack, err := openBundlePack(path)
	if err != nil {
		return err
	}
	defer pack.Close()
	// zlib reads the pack a byte at a time, which a bufio.Reader serves.
	r := bufio.NewReader(pack)
	var head struct {
		Signature [4]byte
		Version   uint32
		Count     uint32
	}
	if err := binary.Read(r, binary.BigEndian, &head); err != nil || string(head.Signature[:]) != "PACK" {
		return fmt.Errorf("%w: it holds no pack", errBadBundle)
	}
	var total uint64
	for range head.Count {
		made, err := checkPackedObject(r)
		if err != nil {
			return err
		}
		// Many objects each under the bound would cost as much.
		if total += made; total > maxExportBytes {
			return fmt.Errorf("the change's objects come to over %d GB: %w", maxExportBytes>>30, ErrTooLarge)
		}
	}
	return nil
}

var errBadBundle = errors.New("the sandbox's bundle is malformed")

// maxPrerequisites bounds the commits a bundle may take for had, each of
// which costs a git process to check: the sandbox's names one, the
// branch's start.
const maxPrerequisites = 16

// openBundlePack reads a bundle's header, and returns the refs it names
// (name to commit), the commits it takes for had (its prerequisites), and
// its pack, to be read from where it starts.
func openBundlePack(path string) (refs map[string]string, prerequisites []string, pack io.ReadCloser, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	r := bufio.NewReader(f)
	if refs, prerequisites, err = readBundleHeader(r); err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	return refs, prerequisites, struct {
		io.Reader
		io.Closer
	}{r, f}, nil
}

// readBundleHeader reads a bundle's header from r, up to its pack: a
// signature line, capabilities ("@"), prerequisites ("-"), refs, then an
// empty line. A line must name its object by its ID, as git writes it: git
// reads an ID followed by any space, a tab too, where a reader that cut
// the line at the first " " would take what follows the tab for part of
// the ID, and rev-parse would take the whole for an expression naming
// another object, such as a gitlink's commit that the sandbox never had.
func readBundleHeader(r *bufio.Reader) (refs map[string]string, prerequisites []string, err error) {
	refs = map[string]string{}
	for first := true; ; first = false {
		// ReadBytes, not ReadSlice: a prerequisite's line holds its
		// commit's subject, which may pass bufio's 4 KB.
		line, err := r.ReadBytes('\n')
		if err != nil {
			return nil, nil, fmt.Errorf("%w: its header: %w", errBadBundle, err)
		}
		text := strings.TrimSuffix(string(line), "\n")
		switch {
		case text == "":
			return refs, prerequisites, nil
		case first || text[0] == '@':
			continue
		}
		prerequisite := text[0] == '-'
		id, rest, _ := strings.Cut(strings.TrimPrefix(text, "-"), " ")
		if !isObjectID(id) {
			return nil, nil, fmt.Errorf("%w: a line of its header names no object: %.60q", errBadBundle, text)
		}
		switch {
		case !prerequisite:
			refs[rest] = id
		case slices.Contains(prerequisites, id):
		case len(prerequisites) == maxPrerequisites:
			return nil, nil, fmt.Errorf("%w: it builds on over %d commits", errBadBundle, maxPrerequisites)
		default:
			prerequisites = append(prerequisites, id)
		}
	}
}

// isObjectID says whether s is an object's ID as git writes it: 40
// lowercase hexadecimal digits: SHA-1, as GitHub's repositories are, and
// bot run takes no other.
func isObjectID(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Types of packed objects that are deltas.
const (
	ofsDelta = 6
	refDelta = 7
)

// checkPackedObject reads one object of a pack from r, checks its size,
// and returns the size of what it makes. zlib reads an io.ByteReader, as r
// is, a byte at a time, so r is left where the next object starts.
func checkPackedObject(r *bufio.Reader) (uint64, error) {
	c, err := r.ReadByte()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errBadBundle, err)
	}
	kind, size := c>>4&7, uint64(c&15)
	for shift := 4; c&0x80 != 0; shift += 7 {
		if c, err = r.ReadByte(); err != nil || shift > 57 {
			return 0, fmt.Errorf("%w: an object's header", errBadBundle)
		}
		size |= uint64(c&0x7f) << shift
	}
	switch kind {
	case ofsDelta: // the base's offset, a varint of its own kind
		for c = 0x80; c&0x80 != 0; {
			if c, err = r.ReadByte(); err != nil {
				return 0, fmt.Errorf("%w: %w", errBadBundle, err)
			}
		}
	case refDelta: // the base's object ID
		if _, err := r.Discard(20); err != nil {
			return 0, fmt.Errorf("%w: %w", errBadBundle, err)
		}
	}
	z, err := zlib.NewReader(r)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errBadBundle, err)
	}
	// No more than the header says, and one byte to tell a larger object.
	data := &countingByteReader{r: io.LimitReader(z, int64(min(size, 1<<62))+1)}
	made := size
	if kind == ofsDelta || kind == refDelta {
		// A delta starts with the sizes of its base and of what it makes.
		_, err1 := binary.ReadUvarint(data)
		made, err = binary.ReadUvarint(data)
		if err1 != nil || err != nil {
			return 0, fmt.Errorf("%w: a delta's header", errBadBundle)
		}
	}
	// git holds a delta's body whole in memory as it reads it, and then
	// what it makes: both are bounded. (A real delta is smaller than what
	// it makes.)
	if made > MaxFileSize || size > MaxFileSize {
		return 0, fmt.Errorf("the change holds an object of %d MB, over %d MB: %w", max(made, size)>>20, MaxFileSize>>20, ErrTooLarge)
	}
	if _, err := io.Copy(io.Discard, data); err != nil {
		return 0, fmt.Errorf("%w: %w", errBadBundle, err)
	}
	if data.n > size {
		return 0, fmt.Errorf("%w: an object larger than its header says", errBadBundle)
	}
	return max(made, size), z.Close()
}

// countingByteReader reads r, counting the bytes, a byte at a time too.
type countingByteReader struct {
	r   io.Reader
	n   uint64
	one [1]byte
}

func (c *countingByteReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += uint64(n)
	return n, err
}

func (c *countingByteReader) ReadByte() (byte, error) {
	if _, err := io.ReadFull(c, c.one[:]); err != nil {
		return 0, err
	}
	return c.one[0], nil
}

// FetchBundle takes refs out of a bundle into the repository, each
// refspec "src:dst" setting dst to the bundle's src. sent are the packs
// the sandbox was given (see PackFor), all it holds but what it made: the
// bundle is taken in by a repository of its own holding those alone, so
// that it can neither name nor build on history that only the host holds
// (what a force push left in the git cache, or, for bot run, the rest of
// the user's repository). It checks that the bundle's prerequisites were
// sent, refuses one holding an object over MaxFileSize (ErrTooLarge)
// before git makes it, and one holding an object git's fsck refuses.
func (r *Repo) FetchBundle(ctx context.Context, path string, sent []string, refspecs ...string) error {
	if err := checkBundleSizes(path); err != nil {
		return err
	}
	refs, prerequisites, pack, err := openBundlePack(path)
	if err != nil {
		return err
	}
	defer pack.Close()
	apart, err := r.quarantine(ctx, sent)
	if err != nil {
		return err
	}
	defer os.RemoveAll(apart.dir)
	// Each commit the bundle takes for had is one sent, and a ref of the
	// quarantine's: the bundle's check of what it builds on (git 2.40 and
	// later) walks history only as far as the refs, and with none would
	// walk all of it.
	for i, commit := range prerequisites {
		if _, err := apart.git(ctx, Auth{}, "update-ref", fmt.Sprintf("refs/sent/%d", i), commit+"^{commit}"); err != nil {
			return fmt.Errorf("%w: it builds on %s, which the sandbox was not sent", errBadBundle, commit)
		}
	}
	if _, err := apart.git(ctx, Auth{}, "bundle", "verify", "--quiet", path); err != nil {
		return fmt.Errorf("the sandbox's bundle: %w", err)
	}
	// Checked as a careful server checks a push, which git's fetch of a
	// bundle does not: a tree git refuses to check out (a .git or .GIT
	// entry, a path with "..") would go to whoever fetches the branch.
	// --strict also has every object the change links to be at hand: in
	// the quarantine, one sent or made.
	cmd := apart.command(ctx, Auth{}, "index-pack", "--stdin", "--fix-thin", "--strict")
	cmd.Stdin = pack
	out, err := run(ctx, cmd, Auth{})
	if err != nil {
		return fmt.Errorf("the sandbox's change: %w", err)
	}
	commits := map[string]string{} // dst to commit
	for _, spec := range refspecs {
		src, dst, _ := strings.Cut(spec, ":")
		commit, ok := refs[src]
		if !ok {
			return fmt.Errorf("%w: it holds no %s", errBadBundle, src)
		}
		// A commit, as a bundle made by the sandbox's git names: a header
		// written to name anything else, or a commit not sent nor made,
		// is refused.
		peeled, err := apart.git(ctx, Auth{}, "rev-parse", "--verify", "--quiet", commit+"^{commit}")
		if err != nil {
			return fmt.Errorf("%w: its %s is no commit the sandbox had or made", errBadBundle, src)
		}
		// The commit the quarantine found, by its ID: the host's
		// repository, which holds more, reads nothing else into it.
		commits[dst] = strings.TrimSpace(string(peeled))
	}
	// The pack index-pack wrote, before its index: a pack without one is
	// none to git.
	name := "pack-" + strings.TrimPrefix(strings.TrimSpace(string(out)), "pack\t")
	for _, ext := range []string{".pack", ".idx"} {
		from := filepath.Join(apart.dir, "objects", "pack", name+ext)
		if err := linkOrCopy(ctx, from, filepath.Join(r.dir, "objects", "pack", name+ext)); err != nil {
			return fmt.Errorf("take the change in: %w", err)
		}
	}
	for dst, commit := range commits {
		if _, err := r.git(ctx, Auth{}, "update-ref", dst, commit); err != nil {
			return err
		}
	}
	return nil
}

// quarantine is a new repository beside r holding the packs sent alone.
func (r *Repo) quarantine(ctx context.Context, sent []string) (*Repo, error) {
	dir, err := os.MkdirTemp(filepath.Dir(r.dir), "quarantine-*.git")
	if err != nil {
		return nil, err
	}
	apart, err := Init(ctx, dir)
	if err == nil {
		for _, p := range sent {
			if err = linkOrCopy(ctx, p, filepath.Join(dir, "objects", "pack", filepath.Base(p))); err != nil {
				break
			}
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("a repository to take the change in apart: %w", err)
	}
	return apart, nil
}

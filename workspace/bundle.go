package workspace

import (
	"bufio"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
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

// openBundlePack reads a bundle's header, and returns the refs it names
// (name to commit), the commits it takes for had (its prerequisites), and
// its pack, to be read from where it starts.
func openBundlePack(path string) (refs map[string]string, prerequisites []string, pack io.ReadCloser, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	r := bufio.NewReader(f)
	refs = map[string]string{}
	// A signature line, capabilities ("@"), prerequisites ("-"), refs,
	// then an empty line.
	for first := true; ; first = false {
		// ReadBytes, not ReadSlice: a prerequisite's line holds its
		// commit's subject, which may pass bufio's 4 KB.
		line, err := r.ReadBytes('\n')
		if err != nil {
			f.Close()
			return nil, nil, nil, fmt.Errorf("%w: its header: %w", errBadBundle, err)
		}
		text := strings.TrimSuffix(string(line), "\n")
		if text == "" {
			break
		}
		if !first && text[0] == '-' {
			commit, _, _ := strings.Cut(text[1:], " ")
			prerequisites = append(prerequisites, commit)
		}
		if first || text[0] == '@' || text[0] == '-' {
			continue
		}
		if commit, name, ok := strings.Cut(text, " "); ok {
			refs[name] = commit
		}
	}
	return refs, prerequisites, struct {
		io.Reader
		io.Closer
	}{r, f}, nil
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

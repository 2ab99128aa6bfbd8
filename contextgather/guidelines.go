package contextgather

import (
	"bytes"
	"io"
	"io/fs"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// MaxGuidelineBytes is how much of one guideline file is read; the start
// of a long file says what matters most.
const MaxGuidelineBytes = 16 << 10

// GuidelineFiles are the files, relative to the repository's root, where
// projects write down how to work on them, in the order they are
// gathered: the agents' own first, then the contributors'. A file's name
// matches whatever its case (Contributing.md); its directory's only as
// written: docs/ and .github/ are where projects keep them, and a Docs/
// or a .GitHub/ is not where anyone looks.
var GuidelineFiles = []string{
	"AGENTS.md",
	"CLAUDE.md",
	"CONTRIBUTING.md",
	"docs/CONTRIBUTING.md",
	".github/CONTRIBUTING.md",
	".github/copilot-instructions.md",
}

// guidelines reads the guideline files that checkout has. A file whose
// text repeats one already read (CLAUDE.md a link to AGENTS.md, say) is
// left out.
func guidelines(checkout fs.FS, log zerolog.Logger) []Guideline {
	var out []Guideline
	seen := map[string]bool{}
	for _, want := range GuidelineFiles {
		name, ok := findFold(checkout, want)
		if !ok {
			continue
		}
		data, truncated, err := readCapped(checkout, name, MaxGuidelineBytes)
		if err != nil {
			log.Warn().Err(err).Str("path", name).Msg("Could not read a guideline file; leaving it out.")
			continue
		}
		text := Sanitize(string(data))
		if strings.TrimSpace(text) == "" || seen[text] {
			continue
		}
		seen[text] = true
		out = append(out, Guideline{Path: name, Text: text, Truncated: truncated})
	}
	return out
}

// findFold finds want in checkout whatever the case of its last element,
// its directories as written, returning the name as the checkout spells
// it.
func findFold(checkout fs.FS, want string) (string, bool) {
	dir, base := path.Split(want)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	entries, err := fs.ReadDir(checkout, dir)
	if err != nil {
		return "", false
	}
	for _, e := range entries {
		if e.Name() == base {
			return path.Join(dir, e.Name()), true
		}
	}
	for _, e := range entries {
		if strings.EqualFold(e.Name(), base) {
			return path.Join(dir, e.Name()), true
		}
	}
	return "", false
}

// readCapped reads at most limit bytes of the regular file name, cut
// back to a line end (or failing that a character boundary), and says
// whether there was more. Anything else (a device, a pipe) is refused.
// Links are followed as checkout follows them: see the package's doc.
func readCapped(checkout fs.FS, name string, limit int) ([]byte, bool, error) {
	// Checked before opening too: opening a pipe waits for a writer.
	if info, err := fs.Stat(checkout, name); err != nil {
		return nil, false, err
	} else if !info.Mode().IsRegular() {
		return nil, false, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	f, err := checkout.Open(name)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	if !info.Mode().IsRegular() {
		return nil, false, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, false, err
	}
	if len(data) <= limit {
		return data, false, nil
	}
	data = data[:limit]
	if i := bytes.LastIndexByte(data, '\n'); i >= limit/2 {
		return data[:i+1], true, nil
	}
	for range utf8.UTFMax - 1 { // drop a character the cut split
		if r, size := utf8.DecodeLastRune(data); r != utf8.RuneError || size != 1 {
			break
		}
		data = data[:len(data)-1]
	}
	return data, true, nil
}

package guard

import (
	"strconv"
	"strings"
)

// fileAdditions are the lines a diff adds to one file, with their numbers
// in the new file.
type fileAdditions struct {
	path    string
	lines   []string
	numbers []int
}

// addedLines parses a unified diff (git diff output) into added lines per
// file. It follows each hunk's line counts, so an added line that itself
// starts with "++ " is not taken for a file header, and it has no limit on
// a line's length, so no line can hide the files after it. A file whose
// lines may be UTF-16 comes twice, the second time read as its characters
// (see withUTF16Read).
func addedLines(diff []byte) []fileAdditions {
	return withUTF16Read(parseAdded(diff))
}

func parseAdded(diff []byte) []fileAdditions {
	var out []fileAdditions
	var cur *fileAdditions
	next, oldLeft, newLeft := 0, 0, 0
	for _, raw := range strings.Split(string(diff), "\n") {
		if oldLeft > 0 || newLeft > 0 {
			switch {
			case strings.HasPrefix(raw, "+"):
				if cur != nil {
					cur.lines = append(cur.lines, raw[1:])
					cur.numbers = append(cur.numbers, next)
				}
				next++
				newLeft--
			case strings.HasPrefix(raw, "-"):
				oldLeft--
			case strings.HasPrefix(raw, `\`): // "\ No newline at end of file"
			default: // context
				next++
				oldLeft--
				newLeft--
			}
			continue
		}
		switch {
		case strings.HasPrefix(raw, "diff --git "):
			cur = nil
		case strings.HasPrefix(raw, "+++ "):
			path := strings.TrimPrefix(raw, "+++ ")
			if path == "/dev/null" {
				cur = nil
				continue
			}
			// git ends a name with a space in it with a tab, and quotes a
			// name with unusual bytes, C-style: "b/\321\201ert.p12".
			path = strings.TrimSuffix(path, "\t")
			if unquoted, err := strconv.Unquote(path); err == nil && strings.HasPrefix(path, `"`) {
				path = unquoted
			}
			out = append(out, fileAdditions{path: strings.TrimPrefix(path, "b/")})
			cur = &out[len(out)-1]
		case strings.HasPrefix(raw, "@@ "):
			oldLeft, next, newLeft = hunkRanges(raw)
		}
	}
	return out
}

// hunkRanges reads "@@ -a,b +c,d @@": the old file's line count, and the
// new file's first line and line count. A count left out is 1.
func hunkRanges(header string) (oldCount, newStart, newCount int) {
	fields := strings.Fields(header)
	if len(fields) < 3 {
		return 0, 0, 0
	}
	_, oldCount = hunkRange(strings.TrimPrefix(fields[1], "-"))
	newStart, newCount = hunkRange(strings.TrimPrefix(fields[2], "+"))
	return oldCount, newStart, newCount
}

func hunkRange(r string) (start, count int) {
	first, n, ok := strings.Cut(r, ",")
	start, _ = strconv.Atoi(first)
	count = 1
	if ok {
		count, _ = strconv.Atoi(n)
	}
	return start, count
}

// withUTF16Read adds to files, for each whose added text is an eighth or
// more NUL bytes, the same lines without them. UTF-16, which Windows tools
// and Python's utf-16 codec write, puts a NUL beside every ASCII
// character: read as bytes, a key in it matches no rule, and no form of a
// secret the bot knows. Without the NULs, its ASCII reads as written, and
// every credential is ASCII. (Binary files with many NULs are read twice
// too; a key in one is found either way.)
func withUTF16Read(files []fileAdditions) []fileAdditions {
	out := files
	for _, f := range files {
		size, nuls := 0, 0
		for _, l := range f.lines {
			size += len(l) + 1
			nuls += strings.Count(l, "\x00")
		}
		if nuls == 0 || nuls*8 < size {
			continue
		}
		read := fileAdditions{path: f.path, numbers: f.numbers, lines: make([]string, len(f.lines))}
		for i, l := range f.lines {
			read.lines[i] = strings.ReplaceAll(l, "\x00", "")
		}
		out = append(out, read)
	}
	return out
}

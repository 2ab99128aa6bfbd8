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
// a line's length, so no line can hide the files after it.
func addedLines(diff []byte) []fileAdditions {
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

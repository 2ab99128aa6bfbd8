package contextgather

import (
	"math"
	"strings"
)

// Paths: the signals of a file's path, matched against the words and the
// paths an issue mentions.

// scorePaths rewards files whose path names what the issue talks about.
func scorePaths(docs []*doc, c clues) []float64 {
	df := map[string]int{}
	for _, d := range docs {
		for t := range d.pathTerms {
			df[t]++
		}
	}
	n := float64(len(docs))
	scores := make([]float64, len(docs))
	for i, d := range docs {
		for t := range d.pathTerms {
			if w := c.weight(t); w > 0 && len(t) > 2 {
				scores[i] += math.Log(1+n/float64(df[t])) * w
			}
		}
	}
	return normalise(scores)
}

// scoreFrames rewards files a stack trace or the text names by path, the
// innermost frame most. A mentioned path matches a file when one ends with
// the other at a directory boundary (traces show absolute or installed
// paths), the mentioned one read with "/" for "\\" and without a leading
// "./". Each path is looked up by its tails, not matched against every
// file: an issue can name thousands.
func scoreFrames(docs []*doc, c clues) []float64 {
	scores := make([]float64, len(docs))
	if len(c.paths) == 0 {
		return scores
	}
	last := map[string]int{} // each path once, where it was last mentioned
	for k, mentioned := range c.paths {
		last[asMentioned(mentioned)] = k
	}
	byPath := map[string]int{}
	byTail := map[string][]int{} // a file's path after each of its slashes
	for i, d := range docs {
		byPath[d.path] = i
		for p := d.path; strings.Contains(p, "/"); {
			_, p, _ = strings.Cut(p, "/")
			byTail[p] = append(byTail[p], i)
		}
	}
	for mentioned, k := range last {
		weight := 0.5 + 0.5*float64(k+1)/float64(len(c.paths))
		mark := func(i int) { scores[i] = math.Max(scores[i], weight) }
		// The file is the mentioned path, or ends it.
		for p := mentioned; ; {
			if i, ok := byPath[p]; ok {
				mark(i)
			}
			var more bool
			if _, p, more = strings.Cut(p, "/"); !more {
				break
			}
		}
		// The mentioned path, with a directory in it, ends the file's.
		if strings.Contains(mentioned, "/") {
			for _, i := range byTail[mentioned] {
				mark(i)
			}
		}
	}
	return scores
}

// asMentioned is a path as the issue mentions it, read with "/" for "\\"
// and without a leading "./".
func asMentioned(p string) string { return strings.TrimPrefix(strings.ReplaceAll(p, "\\", "/"), "./") }

// pathsMatch says whether a mentioned path names a file, as scoreFrames
// matches them.
func pathsMatch(file, mentioned string) bool {
	mentioned = asMentioned(mentioned)
	if file == mentioned {
		return true
	}
	return strings.HasSuffix(mentioned, "/"+file) || (strings.Contains(mentioned, "/") && strings.HasSuffix(file, "/"+mentioned))
}

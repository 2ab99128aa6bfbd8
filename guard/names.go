package guard

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"
)

// Names scans the paths of a change: a file's name is published with it,
// and an empty file's name is all there is. The scanner, which every task
// shares, is held a path at a time, and the scan stops when ctx ends.
func (s *Scanner) Names(ctx context.Context, paths []string) ([]Finding, error) {
	var out []Finding
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.mu.Lock()
		found := s.inName(p)
		s.mu.Unlock()
		// The finding is shown on GitHub: where the credential is, not
		// the credential.
		shown := masked(p, found)
		seen := map[string]bool{}
		for _, f := range found {
			if !seen[f.RuleID] {
				seen[f.RuleID] = true
				out = append(out, Finding{Kind: "secret", Path: shown, Rule: f.RuleID})
			}
		}
	}
	return out, nil
}

// Mask hides the credentials the findings' paths hold, as Names finds
// them: a file's name is the agent's to choose, and the refusal of a
// change, shown on GitHub, must not publish what it refused, whatever the
// reason it gives.
func (s *Scanner) Mask(found []Finding) []Finding {
	out := slices.Clone(found)
	for i := range out {
		out[i].Path = s.MaskPath(out[i].Path)
	}
	return out
}

// MaskPath is path with the credentials its name holds hidden.
func (s *Scanner) MaskPath(path string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return masked(path, s.inName(path))
}

// nameFinding is a credential found in a part of a path.
type nameFinding struct {
	report.Finding
	part span // where in the path the scanned part is
}

// span is a range of bytes, [start, end).
type span struct{ start, end int }

// inName scans a path whole, as content and as a path (some rules look at
// the path only: a .p12 file is a key whatever it holds), and each of its
// parts as content.
func (s *Scanner) inName(p string) []nameFinding {
	var out []nameFinding
	for _, part := range nameParts(p) {
		raw := p[part.start:part.end]
		fragment := detect.Fragment{Raw: raw}
		if part == (span{0, len(p)}) {
			fragment.FilePath = p
		}
		for _, f := range s.detector.Detect(fragment) {
			out = append(out, nameFinding{f, part})
		}
	}
	return out
}

// nameParts are the parts of a path scanned apart from it: the whole, each
// of its names, and the pieces of a name between ".", "-", "_" and " ".
// An encoded credential is found by decoding a run of such characters as
// base64 takes, and a run that goes on across a "/" or into a prefix such
// as "key-" decodes to nothing. A line of a name is the most a part spans.
// A piece shorter than minNamePart holds no credential, and is not
// scanned: "a.a.a..." would be thousands of scans of a letter.
func nameParts(p string) []span {
	parts := []span{{0, len(p)}}
	seen := map[span]bool{parts[0]: true}
	add := func(start, end int) {
		if end-start >= minNamePart && !seen[span{start, end}] {
			seen[span{start, end}] = true
			parts = append(parts, span{start, end})
		}
	}
	split := func(start, end int, cut func(rune) bool, then func(int, int)) {
		from := start
		for i, r := range p[start:end] {
			if cut(r) {
				then(from, start+i)
				from = start + i + utf8.RuneLen(r)
			}
		}
		then(from, end)
	}
	split(0, len(p), func(r rune) bool { return r == '/' || r == '\n' }, func(start, end int) {
		add(start, end)
		split(start, end, func(r rune) bool { return strings.ContainsRune("._- ", r) }, add)
	})
	return parts
}

// minNamePart is the shortest part of a name scanned apart: gitleaks'
// rules find no credential shorter.
const minNamePart = 8

// masked is p with the secrets found in it replaced. A credential found
// by decoding is not in the name as it was found; the encoded run it came
// from is.
func masked(p string, found []nameFinding) string {
	var hide []span
	for _, f := range found {
		if f.Secret == "" {
			continue
		}
		if strings.Contains(p, f.Secret) {
			for i := 0; ; {
				j := strings.Index(p[i:], f.Secret)
				if j < 0 {
					break
				}
				hide = append(hide, span{i + j, i + j + len(f.Secret)})
				i += j + len(f.Secret)
			}
			continue
		}
		// The columns are of the part's one line, from 1.
		start, end := f.part.start+f.StartColumn-1, f.part.start+f.EndColumn
		if strings.Contains(p[f.part.start:f.part.end], "\n") || start < f.part.start || end > f.part.end || start >= end {
			start, end = f.part.start, f.part.end
		}
		hide = append(hide, span{start, end})
	}
	return hideSpans(p, hide)
}

// hideSpans replaces each span of p, or run of overlapping ones, by "***".
func hideSpans(p string, hide []span) string {
	if len(hide) == 0 {
		return p
	}
	slices.SortFunc(hide, func(a, b span) int { return a.start - b.start })
	var b strings.Builder
	at := 0
	for _, h := range hide {
		if h.end <= at {
			continue
		}
		if h.start >= at {
			b.WriteString(p[at:h.start])
			b.WriteString("***")
		}
		at = h.end
	}
	b.WriteString(p[at:])
	return b.String()
}

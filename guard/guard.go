// Package guard decides whether a change may ship. It reads the change as
// the bot's host computed it, never as the sandbox describes it, and refuses
// changes under protected paths and changes that add a credential.
package guard

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"
)

// Finding is one reason a change may not ship. It never holds the secret
// it found, so it can be shown anywhere.
type Finding struct {
	// Kind is "protected" or "secret".
	Kind string
	Path string
	// Line is the line in the new file, for secrets.
	Line int
	// Rule names the kind of credential, for secrets.
	Rule string
}

func (f Finding) String() string {
	switch {
	case f.Kind == "secret" && f.Line == 0:
		return fmt.Sprintf("%s: its name looks like a credential (%s)", f.Path, f.Rule)
	case f.Kind == "secret":
		return fmt.Sprintf("%s, line %d: looks like a credential (%s)", f.Path, f.Line, f.Rule)
	}
	return f.Path + ": a protected path"
}

// Protected lists the changed paths that fall under protected paths.
func Protected(paths []string, isProtected func(path string) bool) []Finding {
	var out []Finding
	for _, p := range paths {
		if isProtected(p) {
			out = append(out, Finding{Kind: "protected", Path: p})
		}
	}
	return out
}

// Scanner finds credentials in the lines a diff adds, with gitleaks'
// default rules.
type Scanner struct {
	mu       sync.Mutex // gitleaks' detector keeps state per scan
	detector *detect.Detector
}

var (
	defaultOnce sync.Once
	defaultScan *Scanner
	defaultErr  error
)

// DefaultScanner returns a scanner with gitleaks' default rules, built once:
// compiling them takes a noticeable moment. The paths and the contents of
// a change are the agent's to choose, so nothing in them may turn the
// scanner off: gitleaks' allow-lists of paths, global and per rule, are
// left out (they skip files such as go.sum, *.svg, package-lock.json,
// node_modules/ and README.md files under docs/@scope/, which hold no
// secrets in a repository people wrote), and so is its "gitleaks:allow"
// comment, which would let a line vouch for itself.
func DefaultScanner() (*Scanner, error) {
	defaultOnce.Do(func() {
		d, err := detect.NewDetectorDefaultConfig()
		if err != nil {
			defaultErr = fmt.Errorf("secret scanner: %w", err)
			return
		}
		d.IgnoreGitleaksAllow = true
		// As gitleaks' command line does: a key written in base64, hex
		// or percent-encoding is decoded and found, up to five layers.
		d.MaxDecodeDepth = 5
		if d.Config.Allowlists, err = trusted(d.Config.Allowlists); err != nil {
			defaultErr = fmt.Errorf("secret scanner: %w", err)
			return
		}
		for id, rule := range d.Config.Rules {
			if rule.Allowlists, err = trusted(rule.Allowlists); err != nil {
				defaultErr = fmt.Errorf("secret scanner, rule %s: %w", id, err)
				return
			}
			d.Config.Rules[id] = rule
		}
		defaultScan = &Scanner{detector: d}
	})
	return defaultScan, defaultErr
}

// trusted is allow-lists without what a change chooses: the paths, and
// patterns tested against a whole line, which a line could match beside
// a key to vouch for it (gitleaks allows a line holding
// "--mount=type=secret,", whatever else it holds). What else a list
// allows, such as placeholders like ${TOKEN} in the key's place, stays,
// unless the list allowed it only together with what is left out.
func trusted(lists []*config.Allowlist) ([]*config.Allowlist, error) {
	var out []*config.Allowlist
	for _, a := range lists {
		byLine := a.RegexTarget == "line" && len(a.Regexes) > 0
		if len(a.Paths) == 0 && !byLine {
			out = append(out, a)
			continue
		}
		if a.MatchCondition == config.AllowlistMatchAnd {
			continue
		}
		kept := &config.Allowlist{
			Description:    a.Description,
			MatchCondition: a.MatchCondition,
			Commits:        a.Commits,
			RegexTarget:    a.RegexTarget,
			Regexes:        a.Regexes,
			StopWords:      a.StopWords,
		}
		if byLine {
			kept.RegexTarget, kept.Regexes = "", nil
		}
		if len(kept.Commits) == 0 && len(kept.Regexes) == 0 && len(kept.StopWords) == 0 {
			continue
		}
		if err := kept.Validate(); err != nil {
			return nil, fmt.Errorf("allow-list %q: %w", a.Description, err)
		}
		out = append(out, kept)
	}
	return out, nil
}

// Names scans the paths of a change: a file's name is published with it,
// and an empty file's name is all there is.
func (s *Scanner) Names(paths []string) []Finding {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Finding
	for _, p := range paths {
		found := s.inName(p)
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
	return out
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
func nameParts(p string) []span {
	parts := []span{{0, len(p)}}
	add := func(start, end int) {
		if end > start && !slices.Contains(parts, span{start, end}) {
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

// Secrets scans the added lines of a unified diff. It stops with ctx's
// error when ctx ends, the findings so far being no answer.
func (s *Scanner) Secrets(ctx context.Context, diff []byte) ([]Finding, error) {
	var out []Finding
	seen := map[Finding]bool{}
	for _, f := range addedLines(diff) {
		text := strings.Join(f.lines, "\n")
		var breaks []int // where each line ends, to number the lines of a window
		for i := range len(text) {
			if text[i] == '\n' {
				breaks = append(breaks, i)
			}
		}
		for _, w := range scanWindows(text) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			found := s.detect(ctx, detect.Fragment{Raw: text[w.start:w.end], FilePath: f.path})
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			above, _ := slices.BinarySearch(breaks, w.start) // the lines before the window's
			for _, x := range found {
				line := 0
				if i := above + x.StartLine; i >= 0 && i < len(f.numbers) {
					line = f.numbers[i]
				}
				finding := Finding{Kind: "secret", Path: f.path, Line: line, Rule: x.RuleID}
				if !seen[finding] { // a key in the overlap of two windows is found twice
					seen[finding] = true
					out = append(out, finding)
				}
			}
		}
	}
	return out, nil
}

// detect runs gitleaks on one fragment. Scans take turns on the one
// detector per fragment, so that no task's large change holds up another's
// for long.
func (s *Scanner) detect(ctx context.Context, fragment detect.Fragment) []report.Finding {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.detector.DetectContext(ctx, fragment)
}

// gitleaks reads a file's added text scanWindow bytes at a time: its
// decoding passes cost more than linearly in the text's length, and a
// large file (a lockfile, a binary) would take minutes whole. Windows
// overlap by scanOverlap, more than a private key's block (a PGP one
// with its subkeys may pass 10 KB), so that no key is cut in two unseen.
const (
	scanWindow  = 128 << 10
	scanOverlap = 32 << 10
)

// scanWindows cuts text into windows of at most scanWindow bytes, each
// ending at a line's end and starting at a line's start where one falls
// near enough, each overlapping the one before by scanOverlap or a little
// less.
func scanWindows(text string) []span {
	var out []span
	for start := 0; ; {
		end := min(start+scanWindow, len(text))
		if end < len(text) {
			if i := strings.LastIndexByte(text[start+scanWindow/2:end], '\n'); i >= 0 {
				end = start + scanWindow/2 + i
			}
		}
		out = append(out, span{start, end})
		if end == len(text) {
			return out
		}
		next := end - scanOverlap
		if i := strings.IndexByte(text[next:end], '\n'); i >= 0 {
			next += i + 1
		}
		start = next
	}
}

// Values finds secrets the bot knows the values of (the agent's API key,
// say, which no rule may match) in the paths and the added lines of a
// change, each in any of the forms that betray it. forms maps a secret's
// name, which the finding gives, to those forms.
func Values(paths []string, diff []byte, forms map[string][]string) []Finding {
	var out []Finding
	for _, p := range paths {
		if name, _, ok := foundIn(p, forms); ok {
			// The finding is shown on GitHub: the name, not the value.
			for _, f := range forms[name] {
				p = strings.ReplaceAll(p, f, "***")
			}
			out = append(out, Finding{Kind: "secret", Path: p, Rule: "the value of " + name})
		}
	}
	for _, f := range addedLines(diff) {
		for from := 0; from < len(f.lines); {
			// A run of lines added one after another.
			to := from + 1
			for to < len(f.lines) && f.numbers[to] == f.numbers[to-1]+1 {
				to++
			}
			out = append(out, runValues(f.path, f.lines[from:to], f.numbers[from:to], forms)...)
			from = to
		}
	}
	return out
}

// runValues finds the forms in a run of added lines: on a line, or split
// over lines, as base64(1) writes a long key's forms, 76 columns a line.
// Split, the lines are joined without their breaks and the space around
// them.
func runValues(path string, lines []string, numbers []int, forms map[string][]string) []Finding {
	var out []Finding
	for i, line := range lines {
		if name, _, ok := foundIn(line, forms); ok {
			out = append(out, Finding{Kind: "secret", Path: path, Line: numbers[i], Rule: "the value of " + name})
		}
	}
	if len(out) > 0 {
		return out
	}
	joined, starts := joinLines(lines)
	if name, at, ok := foundIn(joined, forms); ok {
		line, _ := slices.BinarySearch(starts, at+1)
		out = append(out, Finding{Kind: "secret", Path: path, Line: numbers[line-1], Rule: "the value of " + name})
	}
	return out
}

// joinLines joins lines, each without the space around it, and returns
// where each starts in the result.
func joinLines(lines []string) (string, []int) {
	var b strings.Builder
	starts := make([]int, len(lines))
	for i, l := range lines {
		starts[i] = b.Len()
		b.WriteString(strings.TrimSpace(l))
	}
	return b.String(), starts
}

// foundIn finds the first of forms in text: the secret's name and where.
func foundIn(text string, forms map[string][]string) (string, int, bool) {
	for name, fs := range forms {
		for _, f := range fs {
			if i := strings.Index(text, f); f != "" && i >= 0 {
				return name, i, true
			}
		}
	}
	return "", 0, false
}

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

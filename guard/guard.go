// Package guard decides whether a change may ship. It reads the change as
// the bot's host computed it, never as the sandbox describes it, and refuses
// changes under protected paths and changes that add a credential.
package guard

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

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

// Secrets scans the added lines of a unified diff. It stops with ctx's
// error when ctx ends, the findings so far being no answer.
func (s *Scanner) Secrets(ctx context.Context, diff []byte) ([]Finding, error) {
	var out []Finding
	seen := map[Finding]bool{}
	for _, f := range addedLines(diff) {
		text := strings.Join(withoutModuleHashes(f.path, f.lines), "\n")
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

// moduleHash is a go.sum line's checksum: "h1:" and a SHA-256 in base64.
// Its 44 random characters after the module's name look to gitleaks like
// a key, whenever the name holds a word such as "auth", "token" or "api"
// (golang.org/x/oauth2, aws-sdk-go-v2/credentials): nine times in ten.
var moduleHash = regexp.MustCompile(`^([A-Za-z0-9._~/-]+ v[0-9A-Za-z.+-]+(?:/go\.mod)? h1:)[A-Za-z0-9+/]{43}=$`)

// withoutModuleHashes is the lines of a go.sum or go.work.sum file with
// the checksum left out of each line that is a module's checksum and
// nothing else, so that adding a dependency is not taken for adding a
// credential. What else such a file holds is scanned whole.
func withoutModuleHashes(file string, lines []string) []string {
	if base := path.Base(file); base != "go.sum" && base != "go.work.sum" {
		return lines
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = moduleHash.ReplaceAllString(l, "$1")
	}
	return out
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
// more: never less, or a key after a long line could fall between two. A
// cut within a line falls a whole number of base64's 4-character groups
// into the run of encoded text it cuts (see encodedRuns): gitleaks decodes
// a run only whole, and base64 an embedded file fills a line with, after a
// prefix such as "data:text/plain;base64,", would read as noise from
// anywhere else, a key in it unseen. It reads text about twice.
func scanWindows(text string) []span {
	var out []span
	ends, starts := &encodedRuns{text: text}, &encodedRuns{text: text}
	for start := 0; ; {
		end := min(start+scanWindow, len(text))
		if end < len(text) {
			if i := strings.LastIndexByte(text[start+scanWindow/2:end], '\n'); i >= 0 {
				end = start + scanWindow/2 + i
			} else {
				end = max(start+1, ends.aligned(end))
			}
		}
		out = append(out, span{start, end})
		if end == len(text) {
			return out
		}
		next := end - scanOverlap
		from := max(start+1, next-scanOverlap)
		if i := strings.LastIndexByte(text[from:next], '\n'); i >= 0 {
			next = from + i + 1
		} else {
			next = max(start+1, starts.aligned(next))
		}
		start = next
	}
}

// encodedRuns finds, for cuts at positions that only grow, where the run
// of characters base64 and hex are written in (gitleaks' [\w/+-]) that a
// cut falls in begins, looking at each byte about once.
type encodedRuns struct {
	text string
	// at is the last cut, and start where the run before it begins:
	// text[start:at] is all encoded characters, and start == at when the
	// byte before at is none.
	at, start int
}

// aligned is cut moved back, if need be, to a multiple of 4 bytes from the
// start of the run the bytes before it are in.
func (r *encodedRuns) aligned(cut int) int {
	if cut < r.at { // not asked so, but then looked for afresh
		r.at, r.start = 0, 0
	}
	i := cut
	for i > r.at && encodedByte(r.text[i-1]) {
		i--
	}
	if i == r.at && i > 0 && encodedByte(r.text[i-1]) {
		i = r.start // the run goes on back past the last cut
	}
	r.at, r.start = cut, i
	return cut - (cut-i)%4
}

func encodedByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '/' || c == '+' || c == '-'
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

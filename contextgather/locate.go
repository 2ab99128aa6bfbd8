package contextgather

import (
	"bytes"
	"context"
	"io/fs"
	"math"
	"path"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Ranked is a file and how likely the change for an issue lands in it.
type Ranked struct {
	Path  string
	Score float64
	// Hits are the lines (1-based) where the issue's identifiers appear,
	// for choosing which parts of a large file to show.
	Hits []int
	// Named are the lines of the file the issue names (a stack frame's,
	// a path:line), shown before the others.
	Named []int
}

// Limits of what the locator reads.
const (
	maxFileSize = 512 << 10
	maxFiles    = 50_000
	// maxIssueBytes is how much of an issue's text is read. Its start says
	// what it is about; a long paste past it (anyone may open an issue)
	// adds time, not clues.
	maxIssueBytes = 32 << 10
	// maxNeedles is how many fragments of quoted messages, and how many
	// literals, are searched for in the files, the first the issue has:
	// each is a scan of every file.
	maxNeedles = 100
)

// skipDirs are never searched: dependencies, build output, caches.
var skipDirs = map[string]bool{
	".git": true, "node_modules": true, "vendor": true, "third_party": true, "dist": true, "build": true,
	".tox": true, ".venv": true, "venv": true, "__pycache__": true, ".mypy_cache": true, ".pytest_cache": true,
	"site-packages": true, "target": true, "testdata": true, ".idea": true, ".vscode": true,
}

// sourceExt are the files that can hold a fix.
var sourceExt = map[string]bool{
	".py": true, ".pyi": true, ".go": true, ".js": true, ".jsx": true, ".mjs": true, ".cjs": true, ".ts": true,
	".tsx": true, ".mts": true, ".cts": true, ".rb": true, ".rs": true, ".java": true, ".kt": true, ".kts": true,
	".scala": true, ".groovy": true, ".c": true, ".h": true, ".cc": true, ".cpp": true, ".cxx": true, ".hh": true,
	".hpp": true, ".hxx": true, ".cs": true, ".fs": true, ".fsi": true, ".fsx": true, ".php": true, ".swift": true,
	".m": true, ".mm": true, ".sh": true, ".ps1": true, ".psm1": true, ".pl": true, ".pm": true, ".lua": true,
	".ex": true, ".exs": true, ".erl": true, ".hrl": true, ".hs": true, ".ml": true, ".mli": true, ".clj": true,
	".dart": true, ".vue": true, ".svelte": true, ".r": true, ".jl": true, ".zig": true, ".sql": true,
}

// Locate ranks a repository's source files by how likely the change for
// an issue lands in each, best first; files nothing in the issue points
// at are left out. It needs no model: it combines what
// a person would do first. It matches the issue's words against the files'
// (BM25), the issue's identifiers against the symbols files define, the
// words against path names, stack-trace frames and paths against files,
// and quoted error messages against file text; and it prefers code over
// tests, docs and examples, which fixes rarely change. The issue's text
// is read as Sanitize leaves it; pass raw text through Sanitize first.
// It stops with ctx's error when ctx is done: a large checkout takes a
// while, and a task's deadline holds here too.
func Locate(ctx context.Context, fsys fs.FS, issue string) ([]Ranked, error) {
	return locate(ctx, fsys, issue, signalWeights)
}

// weights are how much each signal counts in a file's score.
type weights struct {
	text, passages, defs, paths, frames, msgs, lits float64
	// imports is the share of a best match's score that each file it
	// imports gains (see addImported).
	imports float64
}

var signalWeights = weights{text: 1, passages: 0.5, defs: 1, paths: 0.8, frames: 1.5, msgs: 0.7, lits: 0.7, imports: 0.05}

func locate(ctx context.Context, fsys fs.FS, issue string, w weights) ([]Ranked, error) {
	c := readClues(issue[:validUTF8Prefix(issue, maxIssueBytes)])
	docs, err := readDocs(ctx, fsys, c)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, nil
	}

	bm25 := scoreBM25(docs, c)
	passages := scorePassages(docs, c)
	defs := scoreDefinitions(docs, c.identifiers)
	paths := scorePaths(docs, c)
	frames := scoreFrames(docs, c)
	msgs := scoreMessages(ctx, docs, c.messages)
	lits := scoreLiterals(ctx, docs, c.literals)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	scores := make([]float64, len(docs))
	for i, d := range docs {
		s := w.text*bm25[i] + w.passages*passages[i] + w.defs*defs[i] + w.paths*paths[i] + w.frames*frames[i] + w.msgs*msgs[i] + w.lits*lits[i]
		scores[i] = s * d.prior
	}
	addImported(docs, scores, w.imports)
	out := make([]Ranked, len(docs))
	for i, d := range docs {
		out[i] = Ranked{Path: d.path, Score: scores[i]}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Path < out[j].Path
	})
	// A file nothing points at is no candidate: listed, it would be an
	// alphabetical guess passed off as a ranking.
	for len(out) > 0 && out[len(out)-1].Score <= 0 {
		out = out[:len(out)-1]
	}
	byPath := make(map[string]*doc, len(docs))
	for _, d := range docs {
		byPath[d.path] = d
	}
	for i := range out {
		if i >= 20 {
			break
		}
		out[i].Hits = hits(byPath[out[i].Path].content, c.identifiers)
		for _, l := range c.lines {
			if l.line > 0 && pathsMatch(out[i].Path, l.path) {
				out[i].Named = append(out[i].Named, l.line)
			}
		}
	}
	return out, nil
}

// prior is how likely a file of this kind holds a fix: tests, docs,
// examples and scripts are usually read, not changed.
func prior(p string) float64 {
	lower := strings.ToLower(p)
	base := path.Base(lower)
	switch {
	case isTest(lower, base):
		return 0.35
	case isVendored(lower):
		return 0.3
	case hasDir(lower, "docs", "doc", "examples", "example", "samples", "benchmarks", "bench", "scripts", "tools", "contrib"):
		return 0.5
	case base == "__init__.py" || base == "index.js" || base == "index.ts" || base == "mod.rs":
		// Mostly re-exports, which a fix seldom needs to touch.
		return 0.7
	}
	return 1
}

func isTest(lower, base string) bool {
	return hasDir(lower, "test", "tests", "testing", "spec", "__tests__") ||
		strings.HasPrefix(base, "test_") || strings.HasSuffix(strings.TrimSuffix(base, path.Ext(base)), "_test") ||
		strings.Contains(base, ".test.") || strings.Contains(base, ".spec.") || base == "conftest.py"
}

// isVendored says whether a path is someone else's code copied in: fixes
// go upstream, not there. A packages/ directory counts only inside a
// package (requests/packages/urllib3), not at the root, where monorepos
// keep their own packages.
func isVendored(p string) bool {
	segs := strings.Split(path.Dir(p), "/")
	for i, seg := range segs {
		switch seg {
		case "_vendor", "vendored", "extern", "externals", "thirdparty", "third-party":
			return true
		case "packages":
			if i > 0 {
				return true
			}
		}
	}
	return false
}

func hasDir(p string, names ...string) bool {
	for _, seg := range strings.Split(path.Dir(p), "/") {
		for _, n := range names {
			if seg == n {
				return true
			}
		}
	}
	return false
}

// scoreBM25 scores the files' text against the issue's words, normalised
// so the best file scores 1.
func scoreBM25(docs []*doc, c clues) []float64 {
	var s bm25
	for _, d := range docs {
		s.count(d.tf, d.length)
	}
	s.prepare(c)
	scores := make([]float64, len(docs))
	for i, d := range docs {
		scores[i] = s.score(d.tf, d.length)
	}
	return normalise(scores)
}

// scorePassages scores each file by its passage that best matches the
// issue's words (BM25 over passages, each file taking its best), normalised
// so the best file scores 1. Over whole files, BM25 holds a large file's
// length against it even when one function in it is what the issue is
// about; a passage is judged on its own length.
func scorePassages(docs []*doc, c clues) []float64 {
	var s bm25
	for _, d := range docs {
		for _, p := range d.passages {
			s.count(p.tf, p.length)
		}
	}
	s.prepare(c)
	scores := make([]float64, len(docs))
	for i, d := range docs {
		for _, p := range d.passages {
			scores[i] = math.Max(scores[i], s.score(p.tf, p.length))
		}
	}
	return normalise(scores)
}

// bm25 scores texts, files or passages, against an issue's words. The
// texts are counted first, for their lengths and how many hold each term.
type bm25 struct {
	n, avg float64
	df     map[string]int
	c      clues
	query  map[string]bool
}

func (s *bm25) count(tf map[string]int, length int) {
	if s.df == nil {
		s.df = map[string]int{}
	}
	s.n++
	s.avg += float64(length)
	for t := range tf {
		s.df[t]++
	}
}

func (s *bm25) prepare(c clues) {
	if s.n > 0 {
		s.avg /= s.n
	}
	s.c = c
	s.query = selectTerms(c, s.df, s.n)
}

func (s *bm25) score(tf map[string]int, length int) float64 {
	const k1, b = 1.2, 0.75
	score := 0.0
	for t := range s.query {
		f := float64(tf[t])
		if f == 0 {
			continue
		}
		df := float64(s.df[t])
		idf := math.Log(1 + (s.n-df+0.5)/(df+0.5))
		score += s.c.weight(t) * idf * f * (k1 + 1) / (f + k1*(1-b+b*float64(length)/s.avg))
	}
	return score
}

// maxQueryTerms is how many of the issue's terms the text search uses: the
// strongest, by weight and rarity. A long issue's other terms are mostly
// noise that would add up in big files.
const maxQueryTerms = 40

func selectTerms(c clues, df map[string]int, n float64) map[string]bool {
	type scored struct {
		term  string
		score float64
	}
	var all []scored
	for t := range c.words {
		if df[t] > 0 {
			all = append(all, scored{t, c.weight(t) * math.Log(1+n/float64(df[t]))})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].score != all[j].score {
			return all[i].score > all[j].score
		}
		return all[i].term < all[j].term
	})
	out := map[string]bool{}
	for _, s := range all[:min(len(all), maxQueryTerms)] {
		out[s.term] = true
	}
	return out
}

// scoreDefinitions rewards files that define what the issue names: a
// symbol few files define says more than a common one.
func scoreDefinitions(docs []*doc, idents map[string]bool) []float64 {
	scores := make([]float64, len(docs))
	for id := range idents {
		var defining []int
		for i, d := range docs {
			if d.defs[id] {
				defining = append(defining, i)
			}
		}
		if len(defining) == 0 || len(defining) > 10 {
			continue
		}
		w := 1 / float64(len(defining))
		for _, i := range defining {
			scores[i] += w
		}
	}
	return normalise(scores)
}

// scoreMessages rewards files that contain a message the issue quotes.
func scoreMessages(ctx context.Context, docs []*doc, messages []string) []float64 {
	var frags []string
	for _, m := range messages {
		frags = append(frags, fragments(m)...)
	}
	return scoreRare(ctx, docs, frags, 5)
}

// scoreLiterals rewards files that contain what the issue writes as code:
// a command-line flag, a call, a dotted name.
func scoreLiterals(ctx context.Context, docs []*doc, literals []string) []float64 {
	var unique []string
	seen := map[string]bool{}
	for _, lit := range literals {
		if !seen[lit] {
			seen[lit] = true
			unique = append(unique, lit)
		}
	}
	return scoreRare(ctx, docs, unique, 8)
}

// scoreRare rewards the files that contain each needle, by how rare it is
// among the places a fix can land: code rather than tests, docs or
// vendored copies. A needle in no code file, or in more than most, says
// little and counts for nothing. Each needle is a scan of every file, so
// the needles are searched for on every processor, and the search stops
// when ctx is done. Only the first maxNeedles needles are searched for.
func scoreRare(ctx context.Context, docs []*doc, needles []string, most int) []float64 {
	needles = needles[:min(len(needles), maxNeedles)]
	found := make([][]int, len(needles)) // the files that hold each needle
	inCode := make([]int, len(needles))  // how many of them are code
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(needles)) {
		wg.Go(func() {
			for k := int(next.Add(1)) - 1; k < len(needles) && ctx.Err() == nil; k = int(next.Add(1)) - 1 {
				found[k], inCode[k] = search(docs, needles[k])
			}
		})
	}
	wg.Wait()
	// Summed in the needles' order, so a score does not depend on which
	// search ended first.
	scores := make([]float64, len(docs))
	for k := range needles {
		if inCode[k] == 0 || inCode[k] > most {
			continue
		}
		for _, i := range found[k] {
			scores[i] += 1 / float64(inCode[k])
		}
	}
	return normalise(scores)
}

// search finds the files that contain a needle, and how many of them are
// code.
func search(docs []*doc, s string) (found []int, inCode int) {
	needle := []byte(s)
	for i, d := range docs {
		if bytes.Contains(d.content, needle) {
			found = append(found, i)
			if d.prior == 1 {
				inCode++
			}
		}
	}
	return found, inCode
}

// fragments cuts a message at what is likely formatted in at run time
// (numbers, quoted values), keeping pieces long enough to be distinctive.
func fragments(msg string) []string {
	var out []string
	for _, piece := range formatted.Split(msg, -1) {
		if piece = strings.TrimSpace(piece); len(piece) >= 12 {
			out = append(out, piece)
		}
	}
	return out
}

// formatted matches what a message likely had formatted in at run time.
var formatted = regexp.MustCompile(`\d+|'[^']*'|"[^"]*"|<[^>]*>|\{[^}]*\}|%[a-z]`)

// hits are the lines where the issue's identifiers appear as identifiers:
// one pass over the file, however many the issue names (an issue can name
// thousands, and a search for each would take minutes).
func hits(content []byte, idents map[string]bool) []int {
	var out []int
	for n, line := 1, content; len(line) > 0; n++ {
		end := bytes.IndexByte(line, '\n')
		if end < 0 {
			end = len(line)
		}
		found := false
		eachIdentifier(line[:end], func(tok []byte) { found = found || idents[string(tok)] })
		if found {
			out = append(out, n)
		}
		line = line[min(end+1, len(line)):]
	}
	return out
}

func normalise(scores []float64) []float64 {
	top := 0.0
	for _, s := range scores {
		top = math.Max(top, s)
	}
	if top == 0 {
		return scores
	}
	for i := range scores {
		scores[i] /= top
	}
	return scores
}

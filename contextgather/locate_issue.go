package contextgather

import (
	"cmp"
	"math"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// javaPath is the path a JVM frame's file has under its source root:
// the package's directories, from the qualified name of the frame's class
// (com.acme.billing.Invoice$Line.), then the file's name.
func javaPath(qualified, file string) string {
	var dirs []string
	for part := range strings.SplitSeq(strings.TrimSuffix(qualified, "."), ".") {
		if part == "" || unicode.IsUpper(rune(part[0])) {
			break // the class, and what is nested in it
		}
		dirs = append(dirs, part)
	}
	return path.Join(append(dirs, file)...)
}

// pathExtensions are the extensions of the files barePath finds, for its
// pattern: those of sourceExt, and of configuration files.
func pathExtensions() string {
	exts := []string{"toml", "cfg", "ini", "yaml", "yml", "json"}
	for ext := range sourceExt {
		exts = append(exts, regexp.QuoteMeta(strings.TrimPrefix(ext, ".")))
	}
	// Longest first, so that ts does not end a match that tsx would.
	slices.SortFunc(exts, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	return strings.Join(exts, "|")
}

// clues are what an issue says that points at code: the words, the
// identifiers (in code spans, or shaped like code), the paths and stack
// frames, and quoted messages.
type clues struct {
	words       map[string]float64 // lower-case terms, weighted
	title       map[string]bool    // terms of the title
	identifiers map[string]bool    // as written: foo_bar, FooBar, a.b.c's parts
	paths       []string           // file paths: of stack frames (innermost last), then mentioned
	messages    []string           // distinctive quoted or error text
	literals    []string           // command-line flags and code spans, searched as written
	lines       []fileLine         // the lines stack frames and path:line name
}

// fileLine is a line of a file as the issue names it: a path as written,
// and a line from 1.
type fileLine struct {
	path string
	line int
}

func namedLine(path, line string) fileLine {
	n, _ := strconv.Atoi(line) // digits, at most a few
	return fileLine{path, n}
}

var (
	// Python: File "x/y.py", line 12, in name (or in <module>, or
	// nothing, as a SyntaxError has it)
	pyFrame = regexp.MustCompile(`File "([^"]+)", line (\d+)`)
	// Go, JS, Java, Rust and others: some/path.ext:12 (with a column, maybe)
	pathLine = regexp.MustCompile(`([A-Za-z0-9_./\\-]+\.[A-Za-z0-9]{1,5}):(\d+)`)
	// A trace that lists the innermost frame first: Go's panic (goroutine
	// 1 [running]:), and the "at ..." frames of Java, JavaScript and C#.
	innermostFirst = regexp.MustCompile(`(?m)^goroutine \d+ \[|^[ \t]+at \S+ ?\(|^[ \t]+at \S+:\d+:\d+`)
	// A JVM frame, at com.acme.billing.Invoice.total(Invoice.java:3):
	// the file's name alone, its directory the package's.
	javaFrame = regexp.MustCompile(`\bat ((?:[\w$]+\.)+)[\w$<>]+\(([\w$]+\.(?:java|kt|scala|groovy)):(\d+)\)`)
	// A bare path with a directory and the extension of a source file
	// (see sourceExt) or of a configuration file.
	barePath = regexp.MustCompile(`(?:^|[\s(\x60'"])((?:[A-Za-z0-9_.-]+/)+[A-Za-z0-9_.-]+\.(?i:` + pathExtensions() + `))\b`)
	// A link to a file on GitHub, as a maintainer points at code:
	// https://github.com/OWNER/REPO/blob/REF/PATH#L12. A ref with a slash
	// in it comes with the path, which matches the file by its end.
	blobURL   = regexp.MustCompile(`https?://[^\s/]+/[^\s/]+/[^\s/]+/blob/([^\s#?)\]"'<>]+)`)
	codeSpan  = regexp.MustCompile("`([^`\n]+)`")
	fence     = regexp.MustCompile("(?s)```[^\n]*\n(.*?)```")
	quoted    = regexp.MustCompile(`"([^"\n]{12,160})"|'([^'\n]{12,160})'`)
	errorLine = regexp.MustCompile(`(?m)^\s*(?:E\s+)?[A-Za-z_.]*(?:Error|Exception|Warning)[A-Za-z]*:\s*(.{8,160})$`)
	// A diagnostic as compilers, linters and documentation builders print
	// it: path:line[:column]: [WARNING: or a code such as F0010:] message.
	diagnostic = regexp.MustCompile(`(?m)^\s*\S+?:\d+(?::\d+)?:\s*(?:(?:WARNING|ERROR|CRITICAL|warning|error|[A-Z]\d{3,5}):\s*)?(.{8,160})$`)
	cliFlag    = regexp.MustCompile(`(?:^|[\s\x60(])(--[a-z][a-z0-9]+(?:-[a-z0-9]+)+|--[a-z][a-z0-9]{3,})\b`)
)

// Weights of where a word appears. Counts add up with diminishing returns
// (a long issue is mostly logs, which repeat words), and the title, which
// summarises the issue, adds on top.
const (
	textWeight = 1
	codeWeight = 1
	// maxRepeatWeight caps what repetition alone can give a term.
	maxRepeatWeight = 2.5
	titleBoost      = 3
)

// weight is a term's weight in the query.
func (c clues) weight(term string) float64 {
	n := c.words[term]
	if n == 0 {
		return 0
	}
	w := math.Min(1+math.Log(n), maxRepeatWeight)
	if c.title[term] {
		w += titleBoost
	}
	return w
}

// envDump matches lines of pasted environments: "package  1.2.3", "pkg==1.2.3",
// "platform linux -- Python 3.9.1, pytest-6.2.5". They name the reporter's
// machine, not the code.
var envDump = regexp.MustCompile(`(?m)^\s*(?:[A-Za-z0-9_.\-\[\]]+\s*(?:==|\s)\s*v?\d[\w.+\-]*(?:\s+\S+)?|platform \S+ -- Python .*)\s*$`)

// versionLine matches a line that only gives a version, or says a
// component is missing: "numpy: 1.18.5", "libnetcdf: None", "pytest 5.4.3",
// "python: 3.8.3 (default, Jul 2 2020)". The whole line must be that: a
// linter's "a.py:5:0: message", a log's timestamp, or a table of timings
// is output worth reading.
var versionLine = regexp.MustCompile(`^\s*[A-Za-z_][\w.\-\[\]]*\s*(?:==|:|\s)\s*(?:v?\d[\w.+\-]*|None)(?:\s+(?:\(.*\)|\S+))?\s*$`)

// dropEnvironment drops a code block that is mostly versions: the output
// of a project's show_versions, pip freeze or conda list. Its other lines
// (OS, locale, processor) name the reporter's machine too, and match the
// one file that prints them.
func dropEnvironment(block string) string {
	lines, versions := 0, 0
	for _, line := range strings.Split(block, "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "```") {
			continue
		}
		lines++
		if versionLine.MatchString(line) {
			versions++
		}
	}
	if lines >= 5 && versions*5 >= lines*3 {
		return ""
	}
	return block
}

// Said is what people said about the task, for Locate: the title on the
// first line, which Locate weighs most, then the requester's instructions,
// the maintainers' comments and the issue's body. Locate reads only
// maxIssueBytes, and joined whole a long text would push those after it
// out of the ranking, as a log pasted into the body did the maintainer's
// "it's in app/billing.py". So the texts share the bytes evenly, each whole
// or cut to its share, keeping its start, and what a short one leaves goes
// to the longer. Those by people who may write to the repository come
// first, since Locate searches for only the first maxNeedles messages and
// literals.
func (m Material) Said() string {
	texts := []string{m.Instructions}
	for _, c := range m.Comments {
		texts = append(texts, c.Body)
	}
	texts = append(texts, m.Issue.Body)
	room := maxIssueBytes - len(m.Issue.Title) - len(texts) // a newline before each
	order := make([]int, len(texts))
	for i := range order {
		order[i] = i
	}
	// The shortest first, so each longer one gets what they left.
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(len(texts[a]), len(texts[b])) })
	for k, i := range order {
		share := max(room, 0) / (len(order) - k)
		texts[i] = texts[i][:validUTF8Prefix(texts[i], share)]
		room -= len(texts[i])
	}
	return m.Issue.Title + "\n" + strings.Join(texts, "\n")
}

// IssueText is what Locate ranks for an issue given as a title and a body,
// as bot locate reads one from a file: the title as plain text and the
// body as GitHub shows it, as Said gives a task's.
func IssueText(title, body string) string {
	return Material{Issue: Item{Title: cleanTitle(title), Body: Sanitize(body)}}.Said()
}

// readClues reads an issue's text, which has passed Sanitize: what
// GitHub hides, such as template comments, is gone, and what looks like
// a comment inside code is code.
func readClues(text string) clues {
	// The title is no pasted environment, though "Colorbar 3d projection"
	// has the shape of one; below it, those go.
	title, body, _ := strings.Cut(strings.TrimSpace(text), "\n")
	// Asked before the environments go: "goroutine 1 [running]:" has the
	// shape of one.
	tracedInnermostFirst := innermostFirst.MatchString(body)
	body = fence.ReplaceAllStringFunc(body, dropEnvironment)
	text = title + "\n" + envDump.ReplaceAllString(body, "")
	c := clues{words: map[string]float64{}, title: map[string]bool{}, identifiers: map[string]bool{}}

	code := strings.Builder{}
	for _, m := range fence.FindAllStringSubmatch(text, -1) {
		code.WriteString(m[1] + "\n")
	}
	spans := codeSpan.FindAllStringSubmatch(text, -1)
	for _, m := range spans {
		code.WriteString(m[1] + "\n")
	}

	for _, m := range pyFrame.FindAllStringSubmatch(text, -1) {
		c.paths = append(c.paths, m[1])
		c.lines = append(c.lines, namedLine(m[1], m[2]))
	}
	// Python's tracebacks and pytest's list the innermost frame last, as
	// c.paths wants; Go's, Java's, JavaScript's and Rust's list it first.
	var frames []string
	for _, m := range pathLine.FindAllStringSubmatch(text, -1) {
		frames = append(frames, m[1])
		c.lines = append(c.lines, namedLine(m[1], m[2]))
	}
	for _, m := range javaFrame.FindAllStringSubmatch(text, -1) {
		frames = append(frames, javaPath(m[1], m[2]))
		c.lines = append(c.lines, namedLine(javaPath(m[1], m[2]), m[3]))
	}
	if tracedInnermostFirst {
		slices.Reverse(frames)
	}
	c.paths = append(c.paths, frames...)
	for _, m := range barePath.FindAllStringSubmatch(text, -1) {
		c.paths = append(c.paths, m[1])
	}
	for _, m := range blobURL.FindAllStringSubmatch(text, -1) {
		// Past the ref: the path, or, for a ref with slashes, its end.
		if _, p, ok := strings.Cut(m[1], "/"); ok {
			if unescaped, err := url.PathUnescape(p); err == nil {
				p = unescaped
			}
			c.paths = append(c.paths, p)
		}
	}
	for _, m := range quoted.FindAllStringSubmatch(text, -1) {
		c.messages = append(c.messages, m[1]+m[2])
	}
	for _, m := range errorLine.FindAllStringSubmatch(text, -1) {
		c.messages = append(c.messages, strings.TrimSpace(m[1]))
	}
	for _, m := range diagnostic.FindAllStringSubmatch(text, -1) {
		// A lone word there names an exception (pytest's "x.py:14:
		// AssertionError"): common, and no message.
		if msg := strings.TrimSpace(m[1]); strings.Contains(msg, " ") {
			c.messages = append(c.messages, msg)
		}
	}

	for _, m := range cliFlag.FindAllStringSubmatch(text, -1) {
		c.literals = append(c.literals, m[1])
	}
	for _, m := range spans {
		if span := strings.TrimSpace(m[1]); len(span) >= 6 && strings.ContainsAny(span, "_.-(=") {
			c.literals = append(c.literals, span)
		}
	}

	// Words anywhere count once and title words more; identifiers shaped
	// like code (snake_case, camelCase, dotted) are kept for the symbol
	// and usage signals.
	for _, tok := range identifiers(title) {
		for _, t := range terms(tok) {
			c.title[t] = true
		}
	}
	for _, tok := range identifiers(text) {
		addTerms(c.words, tok, textWeight)
		if looksLikeCode(tok) {
			c.remember(tok)
		}
	}
	// Code blocks are often logs: their words count as words, but only
	// code-shaped ones, or those in inline code, are identifiers.
	for _, tok := range identifiers(code.String()) {
		addTerms(c.words, tok, codeWeight)
	}
	for _, m := range spans {
		for _, tok := range identifiers(m[1]) {
			if len(tok) > 2 && !stopWords[strings.ToLower(tok)] {
				c.remember(tok)
			}
		}
	}
	return c
}

// remember keeps an identifier and its dotted parts.
func (c *clues) remember(tok string) {
	for _, part := range strings.Split(tok, ".") {
		if len(part) > 2 && !stopWords[strings.ToLower(part)] {
			c.identifiers[part] = true
		}
	}
}

// looksLikeCode says whether a word is shaped like an identifier rather
// than English: it has an underscore, an inner capital, or a dot.
func looksLikeCode(tok string) bool {
	if strings.ContainsAny(tok, "_.") {
		return len(tok) > 3
	}
	for i, r := range tok {
		if i > 0 && unicode.IsUpper(r) {
			return true
		}
	}
	return false
}

// addTerms adds a token's terms: the whole token lower-cased, and its
// parts split at underscores, dots and case changes.
func addTerms(into map[string]float64, tok string, weight float64) {
	for _, t := range terms(tok) {
		into[t] += weight
	}
}

// terms splits an identifier into lower-case search terms.
func terms(tok string) []string {
	var out []string
	whole := strings.ToLower(tok)
	if len(whole) > 1 && !stopWords[whole] && !strings.Contains(whole, ".") {
		out = append(out, whole)
	}
	for _, part := range splitIdentifier(tok) {
		if p := strings.ToLower(part); len(p) > 1 && p != whole && !stopWords[p] {
			out = append(out, p)
		}
	}
	return out
}

// splitIdentifier splits at underscores, dots and lower-to-upper changes.
func splitIdentifier(tok string) []string {
	var parts []string
	start := 0
	runes := []rune(tok)
	for i := 1; i <= len(runes); i++ {
		boundary := i == len(runes) || runes[i] == '_' || runes[i] == '.' ||
			(unicode.IsUpper(runes[i]) && unicode.IsLower(runes[i-1])) ||
			(unicode.IsUpper(runes[i]) && i+1 < len(runes) && unicode.IsLower(runes[i+1]) && unicode.IsUpper(runes[i-1]))
		if boundary {
			if part := strings.Trim(string(runes[start:i]), "_."); part != "" {
				parts = append(parts, part)
			}
			start = i
		}
	}
	return parts
}

// stopWords are English and keywords of common languages: words that say
// nothing about where code lives.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an and are as at be been but by can could did do does doing done for from
		get got had has have having he her here him his how i if in into is it its just like make may me might more
		most my no not now of on one only or other our out over same see should so some such than that the their them
		then there these they this those through to too under up us use used using very was we were what when where
		which while who why will with would you your also any all each even ever get gets seems seem want wants need
		needs expected actual instead still work works working behavior behaviour issue bug error problem example
		following follows however thanks thank please currently version versions run running returns return true false none
		null nil self this def class func function var let const import from pass raise try except finally lambda
		yield async await new public private static void int str string bool list dict tuple object type types
		package main go fmt err ok else elif for while break continue case switch default`) {
		m[w] = true
	}
	return m
}()

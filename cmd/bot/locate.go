package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/oneshot-dev/oneshot/contextgather"
	"github.com/oneshot-dev/oneshot/tasks"
)

// defaultLocateTop is how many files bot locate prints unless told.
const defaultLocateTop = 10

// locate ranks a checkout's files for an issue, as the pipeline does when
// it gathers context, and prints the best, one a line. It fails when no
// file matches at all.
func locate(args []string, out io.Writer) error {
	fs := newFlagSet("locate")
	dir := fs.String("dir", ".", "the repository's checkout")
	issueFile := fs.String("issue", "", "a file holding the issue's text, its title on the first line (required; - reads stdin)")
	top := fs.Int("top", defaultLocateTop, "how many files to print")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *issueFile == "" {
		return errors.New("locate needs --issue")
	}
	if *top < 1 {
		return fmt.Errorf("--top is %d; it must be at least 1", *top)
	}
	text, err := readIssue(*issueFile)
	if err != nil {
		return err
	}
	// A directory inside a repository means the repository, as a task
	// ranks the whole of it: its files at HEAD, not what it ignores.
	repoTop, committed := checkoutTop(*dir)
	ctx := context.Background()
	files, done, err := checkoutTree(ctx, repoTop, committed, &tasks.Task{ID: "locate"}, nil)
	if err != nil {
		return fmt.Errorf("--dir %s: %w", *dir, err)
	}
	defer done()
	// Ranked as a task's issue is: a title is plain text, where
	// "Escape <script> tags" is words, not the start of a script that
	// hides what follows.
	ranked, err := contextgather.Locate(ctx, files, contextgather.IssueText(splitTask(text)))
	if err != nil {
		return err
	}
	if len(ranked) == 0 {
		// As grep does when nothing matches: an empty answer alone would
		// look like success, or like a wrong --dir. A checkout with no
		// file to rank says so: no issue would have matched.
		if some, err := contextgather.HasSourceFiles(ctx, files); err == nil && !some {
			return fmt.Errorf("%w: no file in %s is source code that bot locate reads (it goes by the name's extension, as .py, .go or .java, and skips vendor, node_modules and the like)", errNothingToRank, *dir)
		}
		return fmt.Errorf("%w: no file in %s shares a word, path or symbol with the issue", errNoMatch, *dir)
	}
	for _, r := range ranked[:min(*top, len(ranked))] {
		fmt.Fprintln(out, shownPath(r.Path))
	}
	return nil
}

// shownPath is a path as one line that moves no terminal: one holding a
// line break or another control character, which git allows in a name, is
// quoted as Go writes strings, as git quotes such names.
func shownPath(p string) string {
	if strings.ContainsFunc(p, unicode.IsControl) || !utf8.ValidString(p) {
		return strconv.Quote(p)
	}
	return p
}

// errNoMatch is bot locate finding no file, and errNothingToRank finding
// none to rank: exit status 1, as grep's, where its other errors exit 2.
var (
	errNoMatch       = errors.New("nothing matched")
	errNothingToRank = errors.New("nothing to rank")
)

// splitTask reads a task's text as an issue: its first line the title, the
// rest the body, each cleaned as GitHub shows it by contextgather.Local (a
// title as plain text, so "Lexer hangs on <!-- in templates" is a title,
// not the start of a comment that hides the body). What comes before it
// and shows nothing on GitHub is skipped: a byte order mark, whole HTML
// comments (as an issue template leaves), and lines that cleaning leaves
// empty, such as a [//]: # (...) comment, an image or a zero-width space.
// A task of one line is its own body, so the prompt's description is
// never empty.
func splitTask(text string) (title, body string) {
	text = strings.TrimSpace(strings.TrimPrefix(text, "\uFEFF"))
	for {
		if strings.HasPrefix(text, "<!--") {
			end := strings.Index(text, "-->")
			if end < 0 {
				break
			}
			text = strings.TrimSpace(text[end+len("-->"):])
			continue
		}
		line, rest, more := strings.Cut(text, "\n")
		if !more || !showsNothing(line) {
			break
		}
		text = strings.TrimSpace(rest)
	}
	title, body, _ = strings.Cut(text, "\n")
	// The body keeps its first line's indent, which may make it code.
	return strings.TrimSpace(title), cmp.Or(contextgather.TrimBlankLines(body), title)
}

// showsNothing says whether a line shows nothing on GitHub and hides
// nothing after it: "<style> blocks lose their indentation" shows nothing
// in a body, but only as it hides the rest, and is a title.
func showsNothing(line string) bool {
	return contextgather.Sanitize(line) == "" && strings.HasSuffix(contextgather.Sanitize(line+"\n\nx"), "x")
}

// maxIssueFile bounds an issue file: GitHub holds an issue's body to
// 65,536 characters, so a file much larger is not an issue.
const maxIssueFile = 1 << 20

// readIssue reads an issue's text from a file, or stdin for "-". It
// refuses what is no issue: nothing, binary data, a file past maxIssueFile.
func readIssue(name string) (string, error) {
	f, where := os.Stdin, "on stdin"
	if name != "-" {
		where = "in " + name
		var err error
		if f, err = os.Open(name); err != nil {
			return "", fmt.Errorf("read the issue: %w", err)
		}
		defer f.Close()
	}
	data, err := io.ReadAll(io.LimitReader(f, maxIssueFile+1))
	if err != nil {
		return "", fmt.Errorf("read the issue: %w", err)
	}
	if err := checkIssue(data, where); err != nil {
		return "", err
	}
	return string(data), nil
}

// checkIssue refuses an issue's text that no task can work from: too
// large, not text, or nothing once cleaned as the prompt cleans it (an
// HTML comment, invisible characters). where says where it was, as in
// "in issue.md".
func checkIssue(data []byte, where string) error {
	if len(data) > maxIssueFile {
		return fmt.Errorf("the issue %s is larger than %d bytes", where, maxIssueFile)
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return fmt.Errorf("the issue %s is not text: it holds a NUL byte, as a binary file does", where)
	}
	if !utf8.Valid(data) {
		return fmt.Errorf("the issue %s is not UTF-8 text", where)
	}
	if strings.TrimSpace(contextgather.IssueText(splitTask(string(data)))) == "" {
		return fmt.Errorf("the issue %s is empty once hidden text is taken out", where)
	}
	return nil
}

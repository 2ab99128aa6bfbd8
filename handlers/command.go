package handlers

import (
	"strings"
	"unicode"

	"github.com/oneshot-dev/oneshot/tasks"
)

// ParsedCommand is what a command comment asks for.
type ParsedCommand struct {
	Command tasks.Command
	// Instructions are the rest of the comment after the command word, for
	// a start or a follow-up; for cancel, retry or help, the rest after
	// that word, which no task takes, but a reply may answer.
	Instructions string
}

// ParseCommand reads a comment whose first line starts with the command
// word, as in "/oneshot fix the flaky test". "cancel", "retry" or "help" as
// the next word, on that line or the next, is that command, whatever
// follows: people give reasons, as in "/oneshot cancel, this was wrong",
// and a cancel must never start work. Anything else is instructions, the
// lines after the first included. ok is false for any other comment, and
// for a command in an indented code block, which GitHub shows as code.
func ParseCommand(body, word string) (cmd ParsedCommand, ok bool) {
	// A NUL says nothing, and Postgres stores none in text or JSON: the
	// trigger that held one could never be queued.
	body = strings.ReplaceAll(body, "\x00", "")
	body = trimBlankLines(strings.ReplaceAll(body, "\r\n", "\n"))
	if isIndentedCode(body) {
		return ParsedCommand{}, false
	}
	first, rest, _ := strings.Cut(strings.TrimLeftFunc(body, unicode.IsSpace), "\n")
	fields := strings.Fields(first)
	if len(fields) == 0 || !strings.EqualFold(fields[0], word) {
		return ParsedCommand{}, false
	}
	instructions := trimBlankLines(strings.TrimSpace(first[len(fields[0]):]) + "\n" + rest)
	if next := strings.Fields(instructions); len(next) > 0 {
		// However it is dressed: "cancel?", "`cancel`", "**cancel**", and
		// after dashes, arrows or a colon of their own on the command's
		// line: "/oneshot — cancel", "/oneshot -> cancel". (A list's
		// marker, "*" or "- [ ]", or a dash on a line of its own, starts
		// instructions.)
		rest := strings.TrimLeftFunc(instructions, unicode.IsSpace)
		for lead := fields[1:max(len(fields)-1, 1)]; len(lead) > 0 && strings.TrimFunc(lead[0], isLead) == ""; lead = lead[1:] {
			rest = strings.TrimLeftFunc(strings.TrimPrefix(rest, next[0]), unicode.IsSpace)
			next = next[1:]
		}
		rest = strings.TrimSpace(strings.TrimPrefix(rest, next[0]))
		switch strings.ToLower(strings.TrimFunc(next[0], isMark)) {
		case "cancel":
			return ParsedCommand{Command: tasks.CommandCancel, Instructions: rest}, true
		case "retry":
			return ParsedCommand{Command: tasks.CommandRetry, Instructions: rest}, true
		case "help":
			return ParsedCommand{Command: tasks.CommandHelp, Instructions: rest}, true
		}
	}
	return ParsedCommand{Command: tasks.CommandStart, Instructions: instructions}, true
}

// isLead says whether r may make up a word that leads to the command on
// its line: a dash, a colon, an arrow, drawn ("->", "=>", "|") or one
// character ("→", "⇒", "➜", "⟶").
func isLead(r rune) bool {
	switch {
	case strings.ContainsRune("-–—―:：>=|.…", r):
		return true
	case r >= 0x2190 && r <= 0x21FF, // Arrows
		r >= 0x27F0 && r <= 0x27FF, // Supplemental Arrows-A
		r >= 0x2900 && r <= 0x297F, // Supplemental Arrows-B
		r >= 0x2794 && r <= 0x27BF, // the dingbats' arrows
		r >= 0x2B00 && r <= 0x2B11: // the first arrows of Miscellaneous Symbols and Arrows
		return true
	}
	return false
}

// isIndentedCode says whether the first line of s is indented four
// columns or more, which makes it a code block in Markdown: a command
// quoted as an example, not given. Only spaces and tabs indent.
func isIndentedCode(s string) bool {
	columns := 0
	for _, c := range s {
		switch c {
		case ' ':
			columns++
		case '\t':
			columns += 4 - columns%4
		default:
			return columns >= 4
		}
		if columns >= 4 {
			return true
		}
	}
	return false
}

// trimBlankLines drops the blank lines around s and the space ending it,
// but not the indent of its first line, which may make it code: a block of
// "    <?php" unindented would be taken for HTML, and dropped.
func trimBlankLines(s string) string {
	s = strings.TrimRightFunc(s, unicode.IsSpace)
	for {
		line, rest, more := strings.Cut(s, "\n")
		if !more || strings.TrimSpace(line) != "" {
			return s
		}
		s = rest
	}
}

// isMark says whether r dresses a word rather than spells it: punctuation,
// a symbol, or an invisible format character such as a zero-width space.
func isMark(r rune) bool { return unicode.In(r, unicode.P, unicode.S, unicode.Cf) }

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
	// a start or a follow-up.
	Instructions string
}

// ParseCommand reads a comment whose first line starts with the command
// word, as in "/oneshot fix the flaky test". "cancel", "retry" or "help" as
// the next word is that command, whatever follows: people give reasons, as
// in "/oneshot cancel, this was wrong", and a cancel must never start work.
// Anything else is instructions, the lines after the first included. ok is
// false for any other comment.
func ParseCommand(body, word string) (cmd ParsedCommand, ok bool) {
	// A NUL says nothing, and Postgres stores none in text or JSON: the
	// trigger that held one could never be queued.
	body = strings.ReplaceAll(body, "\x00", "")
	body = strings.TrimLeftFunc(strings.ReplaceAll(body, "\r\n", "\n"), unicode.IsSpace)
	first, rest, _ := strings.Cut(body, "\n")
	fields := strings.Fields(first)
	if len(fields) == 0 || !strings.EqualFold(fields[0], word) {
		return ParsedCommand{}, false
	}
	args := strings.TrimSpace(first[len(fields[0]):])
	if len(fields) > 1 {
		// However it is dressed: "cancel?", "`cancel`", "**cancel**".
		switch strings.ToLower(strings.TrimFunc(fields[1], isMark)) {
		case "cancel":
			return ParsedCommand{Command: tasks.CommandCancel}, true
		case "retry":
			return ParsedCommand{Command: tasks.CommandRetry}, true
		case "help":
			return ParsedCommand{Command: tasks.CommandHelp}, true
		}
	}
	return ParsedCommand{Command: tasks.CommandStart, Instructions: trimBlankLines(args + "\n" + rest)}, true
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

func isMark(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) }

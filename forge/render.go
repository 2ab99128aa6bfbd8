package forge

// What the reports say: the Markdown of the check run, the status comment
// and the final comment.

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/tasks"
)

// statusComment is the status comment's body showing a report: its
// title line, then its steps.
func statusComment(attempt int, rep pipeline.Report) string {
	return limit(statusHead(attempt)+rep.Title()+"\n\n"+stepTable(rep), maxOutput)
}

// statusHead starts the status comment's title line, before the report's
// title: the attempt it shows.
func statusHead(attempt int) string { return fmt.Sprintf("**oneshot**, attempt %d: ", attempt) }

// runningStep names the report's running step, or is "".
func runningStep(rep pipeline.Report) string {
	for _, s := range rep.Steps {
		if s.State == pipeline.StepRunning {
			return s.Name
		}
	}
	return ""
}

// stepTable is the report's steps without the parts that change every
// second, so the status comment is edited only when a step changes.
func stepTable(rep pipeline.Report) string {
	var b strings.Builder
	for _, s := range rep.Steps {
		fmt.Fprintf(&b, "- %s: %s", s.Name, s.State)
		if s.State != pipeline.StepRunning && s.Duration > 0 {
			fmt.Fprintf(&b, " (%s)", s.Duration.Round(100*time.Millisecond))
		}
		if s.Note != "" {
			fmt.Fprintf(&b, ", %s", s.Note)
		}
		b.WriteString("\n")
	}
	if rep.Published.URL != "" {
		fmt.Fprintf(&b, "\nPull request: %s\n", rep.Published.URL)
	}
	if rep.LogsURL != "" {
		fmt.Fprintf(&b, "\nLogs: %s\n", rep.LogsURL)
	}
	return b.String()
}

// finalComment tells the people on the issue how the attempt ended and
// what they can do, with command; a handed-back attempt gets none, since
// it runs again.
func finalComment(rep pipeline.Report, command string) string {
	f := rep.Final
	if f == nil || f.State == tasks.Queued {
		return ""
	}
	marker := finalMarker(rep.Task)
	retry := "\n\nTo try again, comment `" + command + " retry` or press Retry on the oneshot check run."
	if f.ByCommentOnly {
		retry = "\n\nTo try again, comment `" + command + " retry`."
	}
	var b strings.Builder
	switch f.State {
	case tasks.Succeeded:
		if rep.Published.URL != "" {
			fmt.Fprintf(&b, "oneshot made a change for this issue: %s\n\n", rep.Published.URL)
		} else {
			// Shown late, from the end the queue recorded, as in "Opened
			// pull request #12", which GitHub links.
			fmt.Fprintf(&b, "oneshot made a change for this issue. %s.\n\n", f.Reason)
		}
		if len(rep.Checks) > 0 {
			b.WriteString("It passed these checks:\n\n" + rep.ChecksTable())
		}
		if rep.FixRounds > 0 {
			fmt.Fprintf(&b, "\nIt took %d fix rounds.\n", rep.FixRounds)
		}
		for _, w := range rep.Published.Warnings {
			fmt.Fprintf(&b, "\nBut it %s\n", w)
		}
		return limit(b.String(), maxOutput-len(marker)) + marker
	case tasks.Cancelled, tasks.TimedOut:
		fmt.Fprintf(&b, "oneshot stopped: %s.", f.Reason)
	default:
		fmt.Fprintf(&b, "oneshot stopped: %s.", f.Reason)
		if f.Details != "" {
			b.WriteString("\n\n" + f.Details)
		}
	}
	// What people can do comes last and is never cut. Details too long
	// to leave room for it are left to the check run, rather than cut:
	// a cut could leave a fence of theirs open over the advice.
	end := retry
	if rep.LogsURL != "" {
		end += "\n\nLogs: " + rep.LogsURL
	}
	end += marker
	text := strings.ToValidUTF8(b.String(), "\uFFFD")
	if len(text)+len(end) > maxOutput && f.Details != "" {
		text = fmt.Sprintf("oneshot stopped: %s.\n\nThe details are too long for a comment; the check run shows them.", f.Reason)
	}
	return limit(text, maxOutput-len(end)) + end
}

// finalMarker ends an attempt's final comment, unseen on GitHub, so that
// a later look can tell whether the comment was posted: an end shown
// again, by the confirm job, must not say it twice.
func finalMarker(t *tasks.Task) string {
	if t == nil {
		return ""
	}
	return fmt.Sprintf("\n\n<!-- oneshot:final %s#%d -->", t.ID, t.Attempt)
}

// lastText is the end of a step's output within n bytes once made valid
// UTF-8, from a character's start: each byte that is not becomes three,
// and measured before, binary output could take the text past GitHub's
// limit, which would cut its newest lines.
func lastText(out []byte, n int) string {
	s := strings.ToValidUTF8(string(out), "\uFFFD")
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	for len(s) > 0 && !utf8.RuneStart(s[0]) {
		s = s[1:]
	}
	return s
}

// limit cuts text to n bytes, on a character boundary. GitHub limits a
// check run's output by characters and by bytes alike, so the bytes, never
// fewer than the characters, are what must fit.
//
// Bytes that are not UTF-8, as a program's binary output or a tail cut
// inside a character has, are replaced first: JSON would send each as the
// three bytes of U+FFFD, past the limit.
func limit(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	const cut = "\n[... cut ...]"
	end := n - len(cut)
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + cut
}

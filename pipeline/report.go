package pipeline

import (
	"fmt"
	"strings"
	"time"

	"github.com/oneshot-dev/oneshot/contextgather"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/tasks"
)

// StepState is where a step stands.
type StepState string

// The states of a step.
const (
	StepPending StepState = "pending"
	StepRunning StepState = "running"
	StepPassed  StepState = "passed"
	StepFailed  StepState = "failed"
	StepSkipped StepState = "skipped"
)

// Step is one step as people see it.
type Step struct {
	Name     string
	State    StepState
	Started  time.Time
	Duration time.Duration
	// Note says something about the step in a few words, as "2 files
	// changed" or "exit 1".
	Note string
}

// CheckResult is one verify command's outcome.
type CheckResult struct {
	Name     string
	Command  string
	Passed   bool
	ExitCode int
	Duration time.Duration
	// Tail is the end of its output, masked.
	Tail string
}

// Report is everything a task's attempt has to show.
type Report struct {
	Task  *tasks.Task
	Steps []Step
	// Notes say where the configuration came from, or what was detected.
	Notes []string
	// Checks are the latest verify results.
	Checks    []CheckResult
	FixRounds int
	Blocked   []sandbox.Refusal
	// Unlisted counts the refused requests to hosts Blocked does not list.
	Unlisted int
	// LeftOut are the git repositories the agent made inside the checkout,
	// left out of the change: the first maxLeftOut named, the rest
	// counted in LeftOutMore.
	LeftOut     []string
	LeftOutMore int
	Published   Published
	// Final is set when the attempt is over.
	Final *Outcome
	// TaskURL links to the task's page, its history, when there is one.
	TaskURL string
	// LogsURL links to where the attempt's output is shown, when it is.
	LogsURL string
}

// Outcome is how an attempt ended.
type Outcome struct {
	State tasks.State
	// Reason is one line; Details may add a block, such as a failing
	// command's output.
	Reason  string
	Details string
	// ByCommentOnly is set when only a retry comment can go on from here:
	// the comment approves the issue as it stands, where the Retry
	// button, which shows no issue, runs from the one approved before.
	ByCommentOnly bool
}

// clone copies the report, slices included, for a reporter to keep while
// the pipeline goes on changing its own.
func (r Report) clone() Report {
	r.Steps = append([]Step(nil), r.Steps...)
	r.Notes = append([]string(nil), r.Notes...)
	r.Checks = append([]CheckResult(nil), r.Checks...)
	r.Blocked = append(r.Blocked[:0:0], r.Blocked...)
	r.LeftOut = append([]string(nil), r.LeftOut...)
	if r.Final != nil {
		final := *r.Final
		r.Final = &final
	}
	return r
}

// masked is the report with mask applied to all the pipeline wrote in it
// from what the agent left: outcome, notes, the repositories left out.
// What came from the sandbox (output tails, refusals) is masked already.
func (r Report) masked(mask func(string) string) Report {
	r = r.clone()
	for i := range r.Steps {
		r.Steps[i].Note = mask(r.Steps[i].Note)
	}
	for i := range r.Notes {
		r.Notes[i] = mask(r.Notes[i])
	}
	for i := range r.LeftOut {
		r.LeftOut[i] = mask(r.LeftOut[i])
	}
	if r.Final != nil {
		r.Final.Reason, r.Final.Details = mask(r.Final.Reason), mask(r.Final.Details)
	}
	return r
}

// Title is one line on the attempt's state, for a check run's title.
func (r Report) Title() string {
	if r.Final != nil {
		switch r.Final.State {
		case tasks.Succeeded:
			if r.Published.URL != "" {
				return "Pull request ready"
			}
			return "Done"
		case tasks.Cancelled:
			return "Cancelled"
		case tasks.TimedOut:
			return "Timed out"
		case tasks.Queued:
			return "Back in the queue: " + r.Final.Reason
		default:
			return "Stopped: " + r.Final.Reason
		}
	}
	// Between two steps, name the one about to run.
	for _, s := range r.Steps {
		if s.State == StepRunning || s.State == StepPending {
			return "Running: " + s.Name
		}
	}
	return "Finishing"
}

// Summary renders the report in Markdown: the outcome, the steps, the
// checks and what was blocked.
func (r Report) Summary() string {
	var b strings.Builder
	if r.Final != nil {
		fmt.Fprintf(&b, "**%s**\n\n", r.Final.Reason)
		if r.Published.URL != "" {
			fmt.Fprintf(&b, "Pull request: %s\n\n", r.Published.URL)
		}
	}
	b.WriteString("| step | state | time | |\n|---|---|---|---|\n")
	for _, s := range r.Steps {
		fmt.Fprintf(&b, "| %s | %s %s | %s | %s |\n", s.Name, stateIcon[s.State], s.State, duration(s), escapeCell(s.Note))
	}
	if len(r.Checks) > 0 {
		b.WriteString("\n" + r.ChecksTable())
	}
	if r.FixRounds > 0 {
		fmt.Fprintf(&b, "\nFix rounds used: %d\n", r.FixRounds)
	}
	if len(r.Blocked) > 0 {
		b.WriteString("\n" + r.BlockedList())
	}
	if len(r.LeftOut) > 0 {
		b.WriteString("\n" + r.LeftOutList())
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	if r.TaskURL != "" {
		fmt.Fprintf(&b, "\nHistory: %s\n", r.TaskURL)
	}
	return b.String()
}

// ChecksTable renders the verify results.
func (r Report) ChecksTable() string {
	var b strings.Builder
	b.WriteString("| check | command | result | time |\n|---|---|---|---|\n")
	for _, c := range r.Checks {
		result := "✅ passed"
		if !c.Passed {
			result = fmt.Sprintf("❌ failed (exit %d)", c.ExitCode)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", escapeCell(c.Name), escapeCell(commandSpan(c.Command)), result, c.Duration.Round(100*time.Millisecond))
	}
	return b.String()
}

// BlockedList renders the hosts the network filter refused.
func (r Report) BlockedList() string {
	var b strings.Builder
	b.WriteString("Blocked by the network filter:\n")
	for _, x := range r.Blocked {
		fmt.Fprintf(&b, "- %s: %s\n", contextgather.CodeSpan(x.Host), x.Reason)
	}
	if r.Unlisted > 0 {
		fmt.Fprintf(&b, "- and %d more refused requests to other hosts, not listed\n", r.Unlisted)
	}
	return b.String()
}

// maxLeftOut is how many of the repositories left out of the change are
// named: the agent may make any number, and each name is masked, kept, and
// copied with every report.
const maxLeftOut = 20

// LeftOutList renders the repositories left out of the change: the first
// maxLeftOut, each name cut to maxLeftOutName bytes, as the agent chose
// them and a pull request's description must stay within GitHub's limit.
func (r Report) LeftOutList() string {
	const maxLeftOutName = 200
	var b strings.Builder
	b.WriteString("Left out of the change, as git repositories made inside the checkout (git would record each as a link to a commit nobody can fetch):\n")
	for _, p := range r.LeftOut[:min(len(r.LeftOut), maxLeftOut)] {
		if len(p) > maxLeftOutName {
			// A byte that is no character is shown as one, not dropped:
			// dropped, it could join the two halves of a secret it split,
			// which the masking saw apart.
			p = strings.ToValidUTF8(p[:maxLeftOutName], "\uFFFD") + "…"
		}
		// A path may hold any character but NUL; a line break would end
		// the list.
		fmt.Fprintf(&b, "- %s\n", contextgather.CodeSpan(strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(p)))
	}
	if more := len(r.LeftOut) - maxLeftOut + r.LeftOutMore; more > 0 {
		fmt.Fprintf(&b, "- and %d more\n", more)
	}
	return b.String()
}

var stateIcon = map[StepState]string{
	StepPending: "⏳", StepRunning: "🔄", StepPassed: "✅", StepFailed: "❌", StepSkipped: "⏭️",
}

func duration(s Step) string {
	switch {
	case s.State == StepRunning:
		return now().Sub(s.Started).Round(time.Second).String()
	case s.Duration > 0:
		return s.Duration.Round(100 * time.Millisecond).String()
	}
	return ""
}

// commandSpan shows a check's command as code, cut to its first
// maxShownCommand characters: a check may be a long script, and the table
// that lists every check goes in the pull request's description and the
// check run's summary, each bounded by GitHub. The repository's settings
// hold it whole.
func commandSpan(command string) string {
	command = strings.TrimSpace(command)
	first, _, more := strings.Cut(command, "\n")
	if runes := []rune(first); len(runes) > maxShownCommand {
		first, more = string(runes[:maxShownCommand]), true
	}
	if more {
		first += " …"
	}
	return contextgather.CodeSpan(first)
}

// maxShownCommand bounds a command as the reports show it.
const maxShownCommand = 200

func escapeCell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

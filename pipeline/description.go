package pipeline

// What the change is called on GitHub: its commit message, and its pull
// request's title and description, of which oneshot owns only its part.

import (
	"cmp"
	"fmt"
	"regexp"
	"strings"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/tasks"
)

// commitMessage says what the commit is for and credits who asked.
func commitMessage(t *tasks.Task, title, coAuthor string) string {
	title = shorten(inertTitle(title), 64)
	var b strings.Builder
	if t.Issue == 0 {
		fmt.Fprintf(&b, "%s\n\nWritten by oneshot.\n", title)
	} else {
		fmt.Fprintf(&b, "%s (#%d)\n\nWritten by oneshot for #%d, at the request of @%s.\n", title, t.Issue, t.Issue, t.Requester)
	}
	if coAuthor != "" {
		fmt.Fprintf(&b, "\nCo-authored-by: %s\n", coAuthor)
	}
	return b.String()
}

// An issue's title, which anyone may write, names the commit and the pull
// request (whose title a squash merge makes the commit's). There "closes
// #42" would close another issue once merged, and "GH-42" would link to it,
// so its references are made inert: "#42" is written with a fullwidth
// number sign, "GH-42" with a fullwidth hyphen, and links, which can name
// issues too, are left out.
var (
	issueReference = regexp.MustCompile(`#(\d)`)
	ghReference    = regexp.MustCompile(`(?i)\b(GH)-(\d)`)
	webLink        = regexp.MustCompile(`(?i)\bhttps?://\S+`)
)

func inertTitle(title string) string {
	title = webLink.ReplaceAllString(title, "(link)")
	title = ghReference.ReplaceAllString(title, "$1\uFF0D$2")
	return issueReference.ReplaceAllString(title, "\uFF03$1")
}

// pullRequestBody is the pull request's description: what it fixes, how
// it was checked, and where the logs are.
func (r *run) pullRequestBody() string {
	var b strings.Builder
	if issue := r.fixes(); issue != 0 {
		fmt.Fprintf(&b, "Fixes #%d\n\n", issue)
	}
	// The rest is oneshot's part, which an update replaces, leaving what
	// people wrote around it and the line above, which they may change
	// ("Refs #42", for a merge that must not close the issue).
	b.WriteString(DescriptionStart + "\n" + PublishedMark(r.task) + "\n")
	// Not the issue's title, which anyone may write: in a pull request's
	// description "closes #42" closes #42 on merge, and "@team" pings it.
	// The reference above shows the title.
	fmt.Fprintf(&b, "oneshot's change, at the request of @%s.\n\n", r.task.Requester)
	if r.agentEnd != "" {
		// Its change passed what checks there are, but it stopped short:
		// a round cut by its timeout may have left the work half done.
		fmt.Fprintf(&b, "**Note:** %s in its last round; its change may be incomplete.\n\n", r.agentEnd)
	}
	b.WriteString("### Checks\n\n")
	if len(r.report.Checks) == 0 {
		b.WriteString("No verify commands ran: nothing checked this change.\n")
	} else {
		b.WriteString(r.report.ChecksTable())
	}
	fmt.Fprintf(&b, "\nFix rounds used: %d of %d\n", r.report.FixRounds, r.cfg.FixRounds)
	if len(r.report.Blocked) > 0 {
		b.WriteString("\n" + r.report.BlockedList())
	}
	if len(r.report.LeftOut) > 0 {
		b.WriteString("\n" + r.report.LeftOutList())
	}
	if r.report.LogsURL != "" {
		fmt.Fprintf(&b, "\nLogs: %s\n", r.report.LogsURL)
	}
	fmt.Fprintf(&b, "\n---\nReview it as you would any contribution. To change it, comment `%s <what to change>` here.\n",
		cmp.Or(r.p.Defaults.Command, config.DefaultCommand))
	b.WriteString(DescriptionEnd + "\n")
	return b.String()
}

// DescriptionStart and DescriptionEnd enclose oneshot's part of a pull
// request's description, unseen on GitHub.
const (
	DescriptionStart = "<!-- oneshot: its part of the description, which each update replaces -->"
	DescriptionEnd   = "<!-- oneshot: end of its part -->"
)

// PublishedMark, in the description, says which attempt of which task
// published it last, unseen on GitHub (see PublishedBy).
func PublishedMark(t *tasks.Task) string {
	return fmt.Sprintf("<!-- oneshot: published by %s#%d -->", t.ID, t.Attempt)
}

// PublishedBy says whether description was published last by an attempt
// of t: a retry, or an attempt run again after a restart, tells the pull
// request its task opened from one another task did.
func PublishedBy(description string, t *tasks.Task) bool {
	return strings.Contains(description, "<!-- oneshot: published by "+t.ID+"#")
}

// UpdatedDescription is the description current with its oneshot part
// replaced by next's; false when either has none whole (a person took it
// out): what they left is theirs.
func UpdatedDescription(current, next string) (string, bool) {
	part := func(s string) (start, end int, ok bool) {
		start = strings.Index(s, DescriptionStart)
		end = strings.LastIndex(s, DescriptionEnd)
		return start, end, start >= 0 && end > start
	}
	cs, ce, ok := part(current)
	if !ok {
		return "", false
	}
	ns, ne, ok := part(next)
	if !ok {
		return "", false
	}
	return current[:cs] + next[ns:ne] + current[ce:], true
}

// fixes is the issue the change is for, or 0 when there is none (bot
// run). A follow-up's task is on its pull request, whose branch was named
// for the issue.
func (r *run) fixes() int {
	if r.task.Kind != tasks.KindFollowUp {
		return r.task.Issue
	}
	return tasks.IssueOfBranch(r.branch)
}

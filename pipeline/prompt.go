package pipeline

import (
	"fmt"
	"strings"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/tasks"
)

// buildPrompt writes the one message the agent gets. The agent cannot ask
// questions, so it says everything: the issue, what maintainers added, how
// the work is checked, and the rules.
func buildPrompt(t *tasks.Task, issue Issue, cfg config.Repo, branch string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Task\n\nYou are working on the repository %s, checked out in the current directory on the branch `%s`. "+
		"Change the code so that the issue below is resolved.\n\n", t.Repo, branch)
	fmt.Fprintf(&b, "## Issue #%d: %s\n\n%s\n\n", issue.Number, issue.Title, strings.TrimSpace(issue.Body))
	if len(issue.Comments) > 0 {
		b.WriteString("## Comments from the maintainers\n\n")
		for _, c := range issue.Comments {
			fmt.Fprintf(&b, "@%s wrote:\n\n%s\n\n", c.Author, strings.TrimSpace(c.Body))
		}
	}
	if issue.Instructions != "" {
		fmt.Fprintf(&b, "## Instructions from @%s, who asked for this\n\n%s\n\n", t.Requester, issue.Instructions)
	}
	if len(cfg.Verify) > 0 {
		b.WriteString("## How your work is checked\n\nThese commands must pass, run from the repository root:\n\n")
		for _, c := range cfg.Verify {
			fmt.Fprintf(&b, "- `%s`\n", c.Run)
		}
		b.WriteString("\n")
	}
	b.WriteString("## Rules\n\n")
	b.WriteString("- Do not commit, push or switch branches: oneshot commits your change and opens the pull request.\n")
	b.WriteString("- Keep the change focused on this issue. Do not reformat or rewrite code the issue does not need.\n")
	if len(cfg.ProtectedPaths) > 0 {
		fmt.Fprintf(&b, "- Do not change %s: a change there is refused.\n", strings.Join(quoted(cfg.ProtectedPaths), ", "))
	}
	b.WriteString("- Never write a credential, token or password into a file.\n")
	if len(cfg.Verify) > 0 {
		b.WriteString("- Run the checks above before you finish, and make them pass.\n")
	}
	return b.String()
}

// fixPrompt is the prompt of a fix round: the task again, and what failed.
func fixPrompt(prompt string, checks []CheckResult) string {
	var b strings.Builder
	b.WriteString(prompt)
	b.WriteString("\n# The checks failed\n\nAfter your last change these checks failed. Fix the code so that they pass; keep what already works.\n\n")
	for _, c := range checks {
		if c.Passed {
			continue
		}
		fmt.Fprintf(&b, "## %s: `%s` (exit %d)\n\n```\n%s\n```\n\n", c.Name, c.Command, c.ExitCode, c.Tail)
	}
	return b.String()
}

func quoted(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = "`" + p + "`"
	}
	return out
}

package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/guard"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/tasks"
)

// unchangedExit is how the commit script says the branch did not move.
const unchangedExit = 3

// ship commits the change in the sandbox, takes it out as a bundle, checks
// it on the host, and publishes it. The sandbox never holds a credential:
// the push happens here.
func (r *run) ship(ctx context.Context) error {
	_, coAuthor, err := r.p.Forge.Identity(ctx, r.task)
	if err != nil {
		return err
	}
	msg := commitMessage(r.task, r.title, coAuthor)
	if err := r.session.WriteFile(ctx, commitMsg, strings.NewReader(msg), 0o644); err != nil {
		return err
	}
	// The commit and the bundle are made inside, where the files are; what
	// they contain is judged outside.
	script := fmt.Sprintf(`git add -A
if ! git diff --cached --quiet; then git commit -q --no-verify -F %[1]s; fi
if [ "$(git rev-parse HEAD)" = %[2]s ]; then exit %[5]d; fi
git bundle create -q %[3]s HEAD %[4]s ^%[2]s`, commitMsg, r.start, outBundle, sandbox.Quote("refs/heads/"+r.branch), unchangedExit)
	res, err := r.session.Exec(ctx, sandbox.Command{Script: script, Dir: repoDir, Phase: "ship", OnEvent: r.onEvent, Timeout: 5 * time.Minute})
	switch {
	case err != nil:
		return fmt.Errorf("commit: %w", err)
	case res.ExitCode == unchangedExit:
		return fail("the agent changed nothing, so there is nothing to propose", "")
	case res.ExitCode != 0:
		return fail(fmt.Sprintf("commit failed (exit %d)", res.ExitCode), r.logTail(failureTail))
	}
	head, err := r.receive(ctx)
	if err != nil {
		return err
	}
	if err := r.check(ctx, head); err != nil {
		return err
	}
	published, err := r.p.Forge.Publish(ctx, r.task, r.co, PullRequest{
		Branch:    r.branch,
		Head:      head,
		Base:      r.co.DefaultBranch,
		Title:     r.title,
		Body:      r.pullRequestBody(),
		Draft:     r.cfg.PullRequest.Draft,
		Labels:    r.cfg.PullRequest.Labels,
		Reviewers: r.cfg.PullRequest.Reviewers,
	})
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	r.report.Published = published
	r.note("%s", published.URL)
	return nil
}

// receive brings the sandbox's bundle to the host workspace and returns
// the commit it holds.
func (r *run) receive(ctx context.Context) (string, error) {
	data, err := r.session.ReadFile(ctx, outBundle)
	if err != nil {
		return "", fmt.Errorf("take the change out of the sandbox: %w", err)
	}
	path := filepath.Join(r.co.Dir, "out.bundle")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", err
	}
	if err := r.co.Repo.FetchBundle(ctx, path, "HEAD:refs/oneshot/new"); err != nil {
		return "", err
	}
	return r.co.Repo.Resolve(ctx, "refs/oneshot/new")
}

// check refuses a change that is empty, touches a protected path or adds
// a credential, judging from the diff the host computes.
func (r *run) check(ctx context.Context, head string) error {
	paths, err := r.co.Repo.Changes(ctx, r.start, head)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fail("the agent's commits change nothing, so there is nothing to propose", "")
	}
	if found := guard.Protected(paths, r.cfg.Protected); len(found) > 0 {
		return fail("refused: the change touches protected paths", findingList(found)+
			"\nProtected paths are set by `protected_paths` in "+config.RepoPath+".")
	}
	diff, err := r.co.Repo.Diff(ctx, r.start, head)
	if err != nil {
		return err
	}
	scanner, err := guard.DefaultScanner()
	if err != nil {
		return err
	}
	if found := scanner.Secrets(diff); len(found) > 0 {
		return fail("refused: the change adds what looks like a credential", findingList(found)+
			"\nNothing was pushed. If this is a false alarm, make the change by hand.")
	}
	stat, _ := r.co.Repo.DiffStat(ctx, r.start, head)
	r.note("%s", stat)
	return nil
}

func findingList(found []guard.Finding) string {
	var b strings.Builder
	for _, f := range found {
		fmt.Fprintf(&b, "- %s\n", f)
	}
	return b.String()
}

// commitMessage says what the commit is for and credits who asked.
func commitMessage(t *tasks.Task, title, coAuthor string) string {
	if len(title) > 64 {
		title = title[:61] + "..."
	}
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

// pullRequestBody is the pull request's description: what it fixes, how
// it was checked, and where the logs are.
func (r *run) pullRequestBody() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Fixes #%d\n\noneshot's change for **%s**, at the request of @%s.\n\n", r.task.Issue, r.title, r.task.Requester)
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
	if r.report.TaskURL != "" {
		fmt.Fprintf(&b, "\nLogs: %s\n", r.report.TaskURL)
	}
	b.WriteString("\n---\nReview it as you would any contribution. To change it, comment `/oneshot <what to change>` here.\n")
	return b.String()
}

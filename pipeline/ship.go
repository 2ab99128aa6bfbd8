package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/contextgather"
	"github.com/oneshot-dev/oneshot/guard"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/workspace"
)

// unchangedExit is how the ship script says the files did not change;
// tooLargeExit, that the change's bundle is larger than the bot reads
// (sandbox.MaxReadFile).
const (
	unchangedExit = 3
	tooLargeExit  = 4
)

// ship takes the agent's files out of the sandbox, makes the change's one
// commit of them on the host, checks that commit there, and publishes it.
// The sandbox never holds a credential: the push happens here.
func (r *run) ship(ctx context.Context) error {
	committer, coAuthor, err := r.p.Forge.Identity(ctx, r.task)
	if err != nil {
		return err
	}
	// Only the files come out. Whatever the agent committed, under
	// whatever name, with whatever hooks, and whatever it added and took
	// away again on the way, stays behind: the bundle's commit is a
	// carrier for the final tree, and the commit that ships is the
	// host's.
	// A repository made inside the checkout with no commit cannot be
	// staged: it stays out, and is named. (One with commits is staged as a
	// link, which the host undoes: see withoutEmbeddedRepositories.)
	// The files are staged in an index of the pipeline's own, a copy of
	// the checkout's: a lock an agent killed mid-command left on that one
	// must not stop the change from shipping.
	script := ownIndex(leftOutFile+".index") + fmt.Sprintf(`
export GIT_INDEX_FILE=%[4]s.index
git ls-files -z --others --exclude-standard | while IFS= read -r -d '' p; do
	case "$p" in */) git -C "$p" rev-parse -q --verify HEAD >/dev/null || printf '%%s\0' "${p%%/}" ;; esac
done > %[4]s
{ printf '.\0'; while IFS= read -r -d '' p; do printf ':(exclude,literal)%%s\0' "$p"; done < %[4]s; } > %[4]s.pathspec
git add -A --pathspec-from-file=%[4]s.pathspec --pathspec-file-nul
if [ -f %[5]s ]; then
  # What the setup commands changed and the agent did not touch since goes
  # back to the start's: it is not the agent's change. Renames are read as
  # the two paths they change, or the path a rename leaves would be missed.
  setup=$(cat %[5]s)
  export LC_ALL=C
  git diff --cached --no-renames --name-only -z "$setup" | sort -z > %[4]s.agent
  git diff --no-renames --name-only -z %[1]s "$setup" | sort -z > %[4]s.setup
  comm -z -23 %[4]s.setup %[4]s.agent | while IFS= read -r -d '' p; do printf ':(literal)%%s\0' "$p"; done > %[4]s.restore
  if [ -s %[4]s.restore ]; then
    git restore --staged --source=%[1]s --pathspec-from-file=%[4]s.restore --pathspec-file-nul
  fi
fi
tree=$(git write-tree --ignore-cache-tree)
if [ "$tree" = "$(git rev-parse %[1]s^{tree})" ]; then exit %[3]d; fi
commit=$(echo carrier | git -c user.name=oneshot -c user.email=oneshot@localhost commit-tree "$tree" -p %[1]s)
git update-ref refs/oneshot/out "$commit"
git bundle create -q %[2]s refs/oneshot/out ^%[1]s
if [ "$(stat -c %%s %[2]s)" -gt %[6]d ]; then exit %[7]d; fi`, r.start, outBundle, unchangedExit, leftOutFile, setupTreeFile,
		sandbox.MaxReadFile, tooLargeExit)
	res, err := r.session.Exec(ctx, sandbox.Command{Script: script, Dir: repoDir, Phase: "ship", OnEvent: r.onEvent, Timeout: takeTimeout, KillBackground: true})
	switch {
	case err != nil:
		return fmt.Errorf("take the change: %w", err)
	case res.ExitCode == unchangedExit:
		return r.nothingNew(ctx)
	case res.ExitCode == tooLargeExit:
		return tooLargeToReview(fmt.Errorf("its objects come to over %d MB, compressed", sandbox.MaxReadFile>>20))
	case res.TimedOut:
		return fail(fmt.Sprintf("taking the change took longer than %v", takeTimeout), r.logTail(failureTail))
	case res.ExitCode != 0:
		return fail(fmt.Sprintf("taking the change failed (exit %d)", res.ExitCode), r.logTail(failureTail))
	}
	received, err := r.receive(ctx)
	if err != nil {
		return err
	}
	if err := r.readLeftOut(ctx); err != nil {
		return err
	}
	if err := r.reviewable(ctx, received); err != nil {
		return err
	}
	tree, err := r.withoutEmbeddedRepositories(ctx, received)
	if err != nil {
		return err
	}
	// The repositories the agent made inside the checkout may have been
	// all it changed.
	if startTree, err := r.co.Repo.TreeOf(ctx, r.start); err != nil {
		return err
	} else if tree == startTree {
		return r.nothingNew(ctx)
	}
	name, email := splitIdentity(committer)
	head, err := r.co.Repo.Commit(ctx, workspace.NewCommit{
		Tree: tree, Parent: r.start, Name: name, Email: email,
		Message: commitMessage(r.task, r.title, coAuthor),
	})
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if err := r.check(ctx, r.start, head); err != nil {
		return err
	}
	return r.publish(ctx, head)
}

// publish pushes head to the task's branch and opens or updates its pull
// request.
func (r *run) publish(ctx context.Context, head string) error {
	published, err := r.p.Forge.Publish(ctx, r.task, r.co, PullRequest{
		Branch:    r.branch,
		Head:      head,
		Continues: r.continues,
		Base:      r.co.DefaultBranch,
		Title:     inertTitle(r.title),
		Body:      r.mask(r.pullRequestBody()),
		Draft:     r.cfg.PullRequest.Draft,
		Labels:    r.cfg.PullRequest.Labels,
		Reviewers: r.cfg.PullRequest.Reviewers,
		Workflows: r.workflows,
	})
	if errors.Is(err, workspace.ErrBranchMoved) {
		// Another task or a person pushed to it, or deleted it, while
		// this one ran: its change is made on what the branch held.
		return fail(fmt.Sprintf("branch %s moved or was deleted while this attempt ran, so nothing was pushed", r.branch),
			"Something else pushed to it, or deleted it, meanwhile. To build on what is there now, retry.")
	}
	if errors.Is(err, ErrPullRequestClosed) {
		return fail(fmt.Sprintf("the pull request from %s was closed while this attempt ran, so nothing was pushed", r.branch),
			"The change builds on that pull request's branch. To continue it, reopen the pull request and retry.")
	}
	if errors.Is(err, ErrPullRequestReopened) {
		return fail(fmt.Sprintf("a pull request from %s was opened or reopened while this attempt ran, so nothing was pushed", r.branch),
			"This attempt started afresh, to replace the branch a closed pull request had left. To build on the open pull request instead, retry.")
	}
	var noPullRequest *NoPullRequestError
	if errors.As(err, &noPullRequest) {
		r.pushed = true
		return fail(fmt.Sprintf("branch %s was pushed, but GitHub did not open its pull request", r.branch),
			contextgather.CodeBlock(noPullRequest.Err.Error())+"The change is on the branch: a retry continues it, and opens its pull request.")
	}
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	r.report.Published = published
	r.report.Notes = append(r.report.Notes, published.Warnings...)
	r.note("%s", published.URL)
	return nil
}

// receive brings the sandbox's bundle to the host workspace and returns
// the commit it carries.
func (r *run) receive(ctx context.Context) (string, error) {
	data, err := r.session.ReadFile(ctx, outBundle)
	if err != nil {
		return "", fmt.Errorf("take the change out of the sandbox: %w", err)
	}
	path := filepath.Join(r.co.Dir, "out.bundle")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", err
	}
	if err := r.co.Repo.FetchBundle(ctx, path, r.sent, "refs/oneshot/out:refs/oneshot/new"); errors.Is(err, workspace.ErrTooLarge) {
		return "", tooLargeToReview(err)
	} else if err != nil {
		return "", err
	}
	return r.co.Repo.Resolve(ctx, "refs/oneshot/new")
}

// withoutEmbeddedRepositories is the tree of the received change less the
// git repositories the agent made inside the checkout (a clone to read,
// say), each path as it was on the branch's start: git records such a
// repository as a link to a commit that nobody else can fetch, and a pull
// request holding one cannot be checked out with its submodules. A
// submodule .gitmodules declares stays as the change sets it.
func (r *run) withoutEmbeddedRepositories(ctx context.Context, received string) (string, error) {
	// The tree's ID, not a revision naming it: the caller compares it
	// with the start's.
	tree, err := r.co.Repo.TreeOf(ctx, received)
	if err != nil {
		return "", err
	}
	changed, err := r.co.Repo.ChangedGitlinks(ctx, r.start, received)
	if err != nil || len(changed) == 0 {
		return tree, err
	}
	declared, err := r.co.Repo.SubmodulePaths(ctx, received)
	if err != nil {
		return "", err
	}
	undeclared := slices.DeleteFunc(changed, func(p string) bool { return slices.Contains(declared, p) })
	if len(undeclared) == 0 {
		return tree, nil
	}
	if err := r.leaveOut(undeclared...); err != nil {
		return "", err
	}
	return r.co.Repo.TreeRestoring(ctx, received, r.start, undeclared)
}

// nothingNew ends an attempt whose agent changed nothing that ships. On a
// branch an earlier attempt pushed, that attempt may have stopped before
// its pull request was opened (a failure or the deadline between the two):
// the branch as it stands is the change, checked whole and published
// again. Its change is what it added since it left the default branch,
// which may have moved on since.
func (r *run) nothingNew(ctx context.Context) error {
	if r.nothingNewFails() {
		return r.changedNothing()
	}
	r.note("nothing new; the branch as it stands is the change")
	from, err := r.co.Repo.MergeBase(ctx, r.co.Base, r.start)
	if err != nil {
		return err
	}
	if err := r.check(ctx, from, r.start); err != nil {
		return err
	}
	return r.publish(ctx, r.start)
}

// leaveOut records repositories left out of the change, to be shown on
// GitHub: their names are the agent's, and may hold a credential.
func (r *run) leaveOut(paths ...string) error {
	scanner, err := guard.DefaultScanner()
	if err != nil {
		return err
	}
	for _, p := range paths {
		if len(r.report.LeftOut) == maxLeftOut {
			r.report.LeftOutMore++
			continue
		}
		r.report.LeftOut = append(r.report.LeftOut, scanner.MaskPath(p))
	}
	return nil
}

// readLeftOut reads the repositories with no commit that the sandbox left
// out of what it staged. The names are the agent's, only ever shown.
func (r *run) readLeftOut(ctx context.Context) error {
	data, err := r.session.ReadFile(ctx, leftOutFile)
	if err != nil {
		return fmt.Errorf("read what the sandbox left out: %w", err)
	}
	for p := range strings.SplitSeq(string(data), "\x00") {
		if p == "" {
			continue
		}
		if err := r.leaveOut(p); err != nil {
			return err
		}
	}
	return nil
}

// reviewable refuses a commit too large to review. It comes before git
// lists or diffs what a commit from the sandbox holds: a few objects can
// make a tree that no host could.
func (r *run) reviewable(ctx context.Context, commit string) error {
	err := r.co.Repo.CheckSize(ctx, commit)
	if errors.Is(err, workspace.ErrTooLarge) {
		return tooLargeToReview(err)
	}
	return err
}

// tooLargeToReview is the refusal of a change CheckSize found too large.
// Its reason may name a file, whose name is the agent's and may hold a
// credential.
func tooLargeToReview(why error) error {
	scanner, err := guard.DefaultScanner()
	if err != nil {
		return err
	}
	return fail("refused: the change is too large to review", contextgather.CodeBlock(scanner.MaskPath(why.Error())))
}

// check refuses a change from from to head that is empty, touches a
// protected path or adds a credential, judging from the diff the host
// computes.
func (r *run) check(ctx context.Context, from, head string) error {
	if err := r.reviewable(ctx, head); err != nil {
		return err
	}
	paths, err := r.co.Repo.Changes(ctx, from, head)
	if errors.Is(err, workspace.ErrTooLarge) {
		return tooLargeToReview(fmt.Errorf("its list of changed files is %w", err))
	}
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return r.changedNothing()
	}
	scanner, err := guard.DefaultScanner()
	if err != nil {
		return err
	}
	if found := guard.Protected(paths, r.cfg.Protected); len(found) > 0 {
		return fail("refused: the change touches protected paths", findingList(scanner.Mask(found))+
			"\nProtected paths are set by `protected_paths` in "+r.settingsFile()+".")
	}
	// The paths that protecting the directory covers are those GitHub's
	// push checks take for workflows: a file in its place too.
	r.workflows = slices.ContainsFunc(paths, config.Repo{ProtectedPaths: []string{config.DefaultProtectedWorkflows}}.Protected)
	diff, err := r.co.Repo.TextDiff(ctx, from, head)
	if errors.Is(err, workspace.ErrTooLarge) {
		return fail(fmt.Sprintf("refused: the change is too large to review (its diff is over %d MB)", workspace.MaxDiff>>20), "")
	}
	if err != nil {
		return err
	}
	// The names of files deleted were published before; a change that
	// deletes a key file is a good one.
	written, err := r.co.Repo.Written(ctx, from, head)
	if err != nil {
		return err
	}
	secrets, err := scanner.Secrets(ctx, diff)
	if err != nil {
		return err
	}
	names, err := scanner.Names(ctx, written)
	if err != nil {
		return err
	}
	found := append(names, secrets...)
	found = append(found, guard.Values(written, diff, r.secretForms())...)
	if found := unique(scanner.Mask(found)); len(found) > 0 {
		return fail("refused: the change adds what looks like a credential", findingList(found)+
			"\nNothing was pushed. If this is a false alarm, make the change by hand.")
	}
	// Its size is only shown: a git that fails to give it stops nothing.
	if stat, err := r.co.Repo.DiffStat(ctx, from, head); err == nil && stat != "" {
		r.note("%s", stat)
	}
	return nil
}

// secretForms are the forms of the secrets the agent was given, by name:
// no rule may know an operator's gateway token, but the bot knows its
// value, and it must not ship.
func (r *run) secretForms() map[string][]string {
	forms := map[string][]string{}
	for name, value := range r.p.Defaults.AgentSecrets {
		forms[name] = sandbox.SecretForms(value)
	}
	return forms
}

// unique keeps the first finding of each rule in each file: a key file
// known by its name is found by its name and by its added lines.
func unique(found []guard.Finding) []guard.Finding {
	type key struct{ path, rule string }
	seen := map[key]bool{}
	var out []guard.Finding
	for _, f := range found {
		if k := (key{f.Path, f.Rule}); !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	return out
}

// findingList lists what the guard found, fenced: the paths are the
// agent's to choose, and could be Markdown.
func findingList(found []guard.Finding) string {
	var b strings.Builder
	for _, f := range found {
		fmt.Fprintf(&b, "%s\n", f)
	}
	return contextgather.CodeBlock(b.String())
}

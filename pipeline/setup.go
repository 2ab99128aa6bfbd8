package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/contextgather"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/tasks"
)

// setup fetches the code, reads the repository's configuration, starts the
// sandbox, checks out the task's branch and runs the setup commands.
func (r *run) setup(ctx context.Context) error {
	var err error
	if r.co, err = r.p.Forge.Checkout(ctx, r.task); err != nil {
		return fmt.Errorf("fetch the repository: %w", err)
	}
	if r.files, err = ExportTree(ctx, r.co, r.co.Base); err != nil {
		return fmt.Errorf("read the code: %w", err)
	}
	if err := r.loadConfig(ctx); err != nil {
		return err
	}
	if r.cfg.Timeout > 0 { // a repository may ask for less time than the operator gives
		limit := &tasks.TimeLimit{Limit: r.cfg.Timeout, Setting: "timeout in " + r.settingsFile()}
		r.timer = time.AfterFunc(time.Until(r.started.Add(r.cfg.Timeout)), func() { r.expire(limit) })
	}
	if r.agent, err = r.p.Agent(r.cfg.Agent); err != nil {
		return fail("no agent to run: "+contextgather.CodeSpan(firstLine(err.Error())), contextgather.CodeBlock(err.Error()))
	}
	r.branch = Branch(r.cfg, r.task)
	if r.co.Branch != "" { // a follow-up continues its pull request's branch
		if !strings.HasPrefix(r.co.Branch, r.cfg.BranchPrefix) {
			return fail(fmt.Sprintf("refused: branch %s is not one of oneshot's (%s...)", r.co.Branch, r.cfg.BranchPrefix), "")
		}
		r.branch = r.co.Branch
	}
	// The sandbox needs only the configuration: it starts while the
	// task's branch is fetched and looked up.
	spec := r.spec(ctx)
	r.starting = begin(ctx, "starting the sandbox", func(ctx context.Context) (*sandbox.Session, error) {
		return r.p.Sandbox.Start(ctx, spec)
	})
	if r.start, err = r.p.Forge.FetchBranch(ctx, r.task, r.co, r.branch); err != nil {
		return fmt.Errorf("fetch branch %s: %w", r.branch, err)
	}
	if r.start == "" && r.co.Branch != "" {
		// The pull request was merged or closed, and its branch deleted,
		// since the follow-up was asked for, or since Checkout found it
		// open: made anew from the default branch, the branch would open a
		// second pull request, holding the follow-up's change alone.
		return fail(fmt.Sprintf("branch %s of pull request #%d is gone (the pull request was merged or closed), so nothing was changed", r.branch, r.co.OpenPullRequest),
			"A follow-up changes an open pull request's branch. To ask for more, comment on the issue.")
	}
	r.continues = r.start
	note := "new branch " + r.branch
	r.code = r.files
	if r.start == "" {
		r.start = r.co.Base
		if closed := r.co.Replaces; closed != nil {
			note = fmt.Sprintf("new branch %s, in place of the one pull request #%d left when it was closed", r.branch, closed.PullRequest)
		}
	} else {
		note = "continuing branch " + r.branch
		// The prompt shows the code as the agent will find it; a branch
		// where the default branch is (merged into it, say) has it read.
		if r.start != r.co.Base {
			if r.code, err = ExportTree(ctx, r.co, r.start); err != nil {
				return fmt.Errorf("read the code of branch %s: %w", r.branch, err)
			}
		}
	}
	r.startGathering(ctx)
	// What the base and the branch reach, and nothing else the host's
	// repository may hold.
	packs, err := r.co.Repo.PackFor(ctx, r.co.Dir, r.co.Base, r.start)
	if err != nil {
		return fmt.Errorf("pack the code: %w", err)
	}
	r.sent = packs
	if r.session, err = r.starting.take(ctx); err != nil {
		return fmt.Errorf("start the sandbox: %w", err)
	}
	for _, pack := range packs {
		if err := r.copyIn(ctx, pack, repoDir+"/.git/objects/pack/"+filepath.Base(pack)); err != nil {
			return fmt.Errorf("copy the code into the sandbox: %w", err)
		}
	}
	committer, _, err := r.p.Forge.Identity(ctx, r.task)
	if err != nil {
		return err
	}
	name, email := splitIdentity(committer)
	refs := "git update-ref refs/oneshot/base " + r.co.Base
	if r.start != r.co.Base {
		refs += "\ngit update-ref refs/oneshot/branch " + r.start
	}
	checkout := fmt.Sprintf(`git init -q %[1]s && cd %[1]s
%[2]s
git checkout -q -B %[3]s %[4]s
git config user.name %[5]s
git config user.email %[6]s`, repoDir, refs, sandbox.Quote(r.branch), r.start, sandbox.Quote(name), sandbox.Quote(email))
	if err := r.exec(ctx, "checkout", checkout, sandbox.WorkDir, checkoutTimeout); err != nil {
		return err
	}
	for _, cmd := range r.cfg.Setup {
		if err := r.exec(ctx, "setup", cmd, repoDir, 0); err != nil {
			return err
		}
	}
	if len(r.cfg.Setup) > 0 {
		// What the setup commands changed (a lockfile npm install wrote, a
		// build's leftovers) is not the agent's change, and does not ship.
		record := fmt.Sprintf(`test -z "$(git status --porcelain --untracked-files=all)" && exit 0
mkdir -p %s && git add -A && git write-tree > %s; git reset -q`, stateDir, setupTreeFile)
		if err := r.exec(ctx, "record what setup changed", record, repoDir, takeTimeout); err != nil {
			return err
		}
	}
	if err := r.checksCanRun(ctx); err != nil {
		return err
	}
	r.note("%s; %d setup commands", note, len(r.cfg.Setup))
	return nil
}

// copyIn copies a file of the bot's host into the sandbox.
func (r *run) copyIn(ctx context.Context, from, to string) error {
	f, err := os.Open(from)
	if err != nil {
		return err
	}
	defer f.Close()
	return r.session.WriteFile(ctx, to, f, 0o444)
}

// settingsFile names where the attempt's settings came from, for the
// messages that say where to change them: bot run --config FILE takes
// FILE's.
func (r *run) settingsFile() string {
	if r.co != nil && r.co.Config != nil {
		return cmp.Or(r.co.ConfigName, "the configuration given")
	}
	return config.RepoPath
}

// otherImage says where to name an image that has what this one lacks.
func (r *run) otherImage() string {
	return "`image` in " + r.settingsFile() + " names one that has it"
}

// loadConfig reads the repository's configuration from the base commit
// on the default branch, never from the task's branch, so that a task
// cannot change its own rules.
func (r *run) loadConfig(ctx context.Context) error {
	if r.co.Config != nil {
		cfg, err := config.ParseRepoFile(cmp.Or(r.co.ConfigName, "the configuration given"), r.co.Config)
		if err != nil {
			return fail("the configuration given has problems, so nothing ran", contextgather.CodeBlock(err.Error()))
		}
		r.cfg = cfg
		r.report.Notes = []string{"Settings from the configuration given instead of " + config.RepoPath + "."}
		return nil
	}
	if err := SettingsFileInTree(ctx, r.co); err != nil {
		return err
	}
	cfg, notes, err := RepoConfig(r.files, r.co.DefaultBranch)
	if err != nil {
		return err
	}
	if allowed := r.p.Defaults.Allowed; allowed != nil {
		if refused := allowed.Refusals(cfg); len(refused) > 0 {
			return fail(config.RepoPath+" asks for more than this bot allows, so nothing ran", contextgather.CodeBlock(strings.Join(refused, "\n")))
		}
	}
	r.cfg, r.report.Notes = cfg, notes
	return nil
}

// SettingsFileInTree refuses a checkout whose base holds its settings
// other than as a plain file of a sane size in a plain directory. The
// export holds only regular files of a sane size: one that is not there
// may still be in the tree, and must not pass for absent, which would put
// detected settings, and default protections, in its place.
func SettingsFileInTree(ctx context.Context, co *Checkout) error {
	dirMode, _, dirFound, err := co.Repo.Entry(ctx, co.Base, path.Dir(config.RepoPath))
	if err != nil {
		return err
	}
	mode, size, found, err := co.Repo.Entry(ctx, co.Base, config.RepoPath)
	switch {
	case err != nil:
		return err
	case dirFound && dirMode != "040000":
		return fail(path.Dir(config.RepoPath)+" is not a plain directory (a link, say), so nothing ran", onlyInTheTree)
	case found && mode != "100644" && mode != "100755":
		return fail(config.RepoPath+" is not a plain file (a link, say), so nothing ran", onlyInTheTree)
	case found && size > config.MaxRepoFileSize:
		return fail(config.RepoPath+" has problems, so nothing ran", contextgather.CodeBlock(config.TooLarge(config.RepoPath, size).Error()))
	}
	return nil
}

// onlyInTheTree is why a settings file reached through a link is refused.
const onlyInTheTree = "oneshot reads its settings only from a file in the default branch's tree."

// RepoConfig reads a checkout of branch for its .github/oneshot.yml or,
// without one, detects settings from its files. The notes say which, and
// what detection found.
func RepoConfig(files fs.FS, branch string) (config.Repo, []string, error) {
	data, err := fs.ReadFile(files, config.RepoPath)
	switch {
	case errors.Is(err, fs.ErrNotExist) && exists(files, misnamedRepoPath):
		// Settings someone meant, which detection would silently replace.
		return config.Repo{}, nil, fail(misnamedRepoPath+" is not read, so nothing ran",
			fmt.Sprintf("oneshot reads its settings from %s only: rename the file.", config.RepoPath))
	case errors.Is(err, fs.ErrNotExist):
		cfg, detected, err := config.DetectRepo(files)
		if err != nil {
			return config.Repo{}, nil, fmt.Errorf("detect the repository's commands: %w", err)
		}
		return cfg, append([]string{"No " + config.RepoPath + " on " + branch + ": settings were detected."}, detected...), nil
	case err != nil:
		return config.Repo{}, nil, fmt.Errorf("read %s: %w", config.RepoPath, err)
	}
	cfg, err := config.ParseRepo(data)
	if err != nil {
		return config.Repo{}, nil, fail(config.RepoPath+" has problems, so nothing ran", contextgather.CodeBlock(err.Error()))
	}
	return cfg, []string{"Settings from " + config.RepoPath + " on " + branch + "."}, nil
}

// misnamedRepoPath is config.RepoPath as YAML's other extension spells it.
var misnamedRepoPath = strings.TrimSuffix(config.RepoPath, ".yml") + ".yaml"

func exists(files fs.FS, name string) bool {
	_, err := fs.Stat(files, name)
	return err == nil
}

// Branch is the branch a task's change goes to; tasks.IssueOfBranch reads
// the issue back from it.
func Branch(cfg config.Repo, t *tasks.Task) string {
	if t.Issue == 0 { // bot run: there is no issue
		return cfg.BranchPrefix + "task-" + t.ID
	}
	return fmt.Sprintf("%sissue-%d", cfg.BranchPrefix, t.Issue)
}

// ExportTree writes a commit of a checkout into its directory as plain
// files, which the configuration and the context are read from on the
// host.
func ExportTree(ctx context.Context, co *Checkout, commit string) (fs.FS, error) {
	tree := filepath.Join(co.Dir, "tree-"+commit)
	if err := os.Mkdir(tree, 0o755); err != nil {
		return nil, err
	}
	if err := co.Repo.Export(ctx, commit, tree); err != nil {
		return nil, err
	}
	return os.DirFS(tree), nil
}

// sandboxEnv is set in every sandbox: CI=true, which test runners and
// package managers take, as on any CI machine, to mean that no one is
// watching: no watch mode (a detected "react-scripts test" would wait for
// changes for ever), no prompts, no spinners.
var sandboxEnv = map[string]string{"CI": "true"}

// spec turns the configuration into the sandbox's.
func (r *run) spec(ctx context.Context) sandbox.Spec {
	spec := sandbox.Spec{
		Image:   cmp.Or(r.cfg.Image, r.p.Defaults.Image),
		TaskID:  r.task.ID,
		Memory:  r.cfg.Limits.Memory,
		Disk:    r.cfg.Limits.Disk,
		CPUs:    r.cfg.Limits.CPUs,
		Pids:    r.cfg.Limits.Pids,
		Env:     maps.Clone(sandboxEnv),
		Secrets: r.p.Defaults.AgentSecrets,
		Network: sandbox.Network{
			Mode:  sandbox.NetworkMode(r.cfg.Network.Mode),
			Allow: r.cfg.Network.Allow,
			Deny:  r.cfg.Network.Deny,
		},
	}
	if bounds := r.p.Defaults.Network; spec.Network.Mode == sandbox.NetworkFiltered {
		spec.Network.Deny = append(slices.Clone(spec.Network.Deny), bounds.DenyList()...)
		spec.Network.Within = bounds.AllowList()
	}
	spec.Deadline = r.timeLeft(ctx)
	return spec
}

// timeLeft is the time the attempt has left, to the operator's deadline on
// ctx or the repository's own (timeout), whichever comes first; 0 when it
// has neither.
func (r *run) timeLeft(ctx context.Context) time.Duration {
	var left time.Duration
	if deadline, ok := ctx.Deadline(); ok {
		left = time.Until(deadline)
	}
	if r.cfg.Timeout > 0 {
		// At least a moment, as a deadline that has passed already is
		// the context's to report.
		own := max(time.Until(r.started.Add(r.cfg.Timeout)), time.Millisecond)
		if left == 0 || own < left {
			left = own
		}
	}
	return left
}

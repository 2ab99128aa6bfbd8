package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/workspace"
)

// setup fetches the code, reads the repository's configuration, starts the
// sandbox, checks out the task's branch and runs the setup commands.
func (r *run) setup(ctx context.Context) error {
	var err error
	if r.co, err = r.p.Forge.Checkout(ctx, r.task); err != nil {
		return fmt.Errorf("fetch the repository: %w", err)
	}
	if err := r.loadConfig(ctx); err != nil {
		return err
	}
	if r.agent, err = r.p.Agent(r.cfg.Agent); err != nil {
		return fail("no agent to run", err.Error())
	}
	switch {
	case r.co.Branch != "": // a follow-up continues its pull request's branch
		if !strings.HasPrefix(r.co.Branch, r.cfg.BranchPrefix) {
			return fail(fmt.Sprintf("refused: branch %s is not one of oneshot's (%s...)", r.co.Branch, r.cfg.BranchPrefix), "")
		}
		r.branch = r.co.Branch
	case r.task.Issue == 0: // bot run: there is no issue
		r.branch = r.cfg.BranchPrefix + "task-" + r.task.ID
	default:
		r.branch = fmt.Sprintf("%sissue-%d", r.cfg.BranchPrefix, r.task.Issue)
	}
	if r.start, err = r.p.Forge.FetchBranch(ctx, r.task, r.co, r.branch); err != nil {
		return fmt.Errorf("fetch branch %s: %w", r.branch, err)
	}
	note := "new branch " + r.branch
	if r.start == "" {
		r.start = r.co.Base
	} else {
		note = "continuing branch " + r.branch
	}
	refs := []string{"refs/oneshot/base"}
	if r.start != r.co.Base {
		refs = append(refs, "refs/oneshot/branch")
	}
	bundle := filepath.Join(r.co.Dir, "in.bundle")
	if err := r.co.Repo.Bundle(ctx, bundle, refs...); err != nil {
		return fmt.Errorf("bundle the code: %w", err)
	}
	if r.session, err = r.p.Sandbox.Start(ctx, r.spec(ctx)); err != nil {
		return fmt.Errorf("start the sandbox: %w", err)
	}
	f, err := os.Open(bundle)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := r.session.WriteFile(ctx, inBundle, f, 0o600); err != nil {
		return fmt.Errorf("copy the code into the sandbox: %w", err)
	}
	committer, _, err := r.p.Forge.Identity(ctx, r.task)
	if err != nil {
		return err
	}
	name, email := splitIdentity(committer)
	checkout := fmt.Sprintf(`git init -q %[1]s && cd %[1]s
git fetch -q %[2]s 'refs/oneshot/*:refs/oneshot/*'
git checkout -q -B %[3]s %[4]s
git config user.name %[5]s
git config user.email %[6]s`, repoDir, inBundle, shellQuote(r.branch), r.start, shellQuote(name), shellQuote(email))
	if err := r.exec(ctx, "checkout", checkout, sandbox.WorkDir, time.Minute); err != nil {
		return err
	}
	for _, cmd := range r.cfg.Setup {
		if err := r.exec(ctx, "setup", cmd, repoDir, 0); err != nil {
			return err
		}
	}
	r.note("%s; %d setup commands", note, len(r.cfg.Setup))
	return nil
}

// loadConfig reads .github/oneshot.yml from the base commit on the
// default branch, never from the task's branch, so that a task cannot
// change its own rules; without the file, it detects what it can.
func (r *run) loadConfig(ctx context.Context) error {
	data, err := r.co.Repo.Show(ctx, r.co.Base, configPath)
	if r.co.Config != nil {
		data, err = r.co.Config, nil
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		cfg, notes, err := config.DetectRepo(repoFiles{ctx: ctx, co: r.co})
		if err != nil {
			return fmt.Errorf("detect settings: %w", err)
		}
		r.cfg = cfg
		r.report.Notes = append([]string{"No " + configPath + " on " + r.co.DefaultBranch + ": settings were detected."}, notes...)
	case err != nil:
		return fmt.Errorf("read %s: %w", configPath, err)
	default:
		if r.cfg, err = config.ParseRepo(data); err != nil {
			return fail(configPath+" has problems, so nothing ran", err.Error())
		}
		r.report.Notes = []string{"Settings from " + configPath + " on " + r.co.DefaultBranch + "."}
		if r.co.Config != nil {
			r.report.Notes = []string{"Settings from the configuration given instead of " + configPath + "."}
		}
	}
	return nil
}

// spec turns the configuration into the sandbox's.
func (r *run) spec(ctx context.Context) sandbox.Spec {
	spec := sandbox.Spec{
		Image:   cmp.Or(r.cfg.Image, r.p.Defaults.Image),
		TaskID:  r.task.ID,
		Memory:  r.cfg.Limits.Memory,
		Disk:    r.cfg.Limits.Disk,
		CPUs:    r.cfg.Limits.CPUs,
		Pids:    r.cfg.Limits.Pids,
		Env:     r.p.Defaults.SandboxEnv,
		Secrets: r.p.Defaults.AgentSecrets,
		Network: sandbox.Network{
			Mode:  sandbox.NetworkMode(r.cfg.Network.Mode),
			Allow: r.cfg.Network.Allow,
			Deny:  r.cfg.Network.Deny,
		},
	}
	if deadline, ok := ctx.Deadline(); ok {
		spec.Deadline = time.Until(deadline)
	}
	return spec
}

// repoFiles reads the base commit for detection, as an fs.ReadFileFS and
// fs.ReadDirFS.
type repoFiles struct {
	ctx context.Context
	co  *Checkout
}

func (f repoFiles) ReadFile(path string) ([]byte, error) {
	return f.co.Repo.Show(f.ctx, f.co.Base, path)
}

func (f repoFiles) ReadDir(dir string) ([]fs.DirEntry, error) {
	entries, err := f.co.Repo.ReadDir(f.ctx, f.co.Base, dir)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, len(entries))
	for i, e := range entries {
		out[i] = dirEntry{e}
	}
	return out, nil
}

type dirEntry struct{ e workspace.Entry }

func (d dirEntry) Name() string { return d.e.Name }
func (d dirEntry) IsDir() bool  { return d.e.Dir }
func (d dirEntry) Type() fs.FileMode {
	if d.e.Dir {
		return fs.ModeDir
	}
	return 0
}
func (e dirEntry) Info() (fs.FileInfo, error) { return nil, errors.ErrUnsupported }

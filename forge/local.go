package forge

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/oneshot-dev/oneshot/contextgather"
	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/tasks"
	"github.com/oneshot-dev/oneshot/workspace"
)

// Local is the forge of bot run: a repository on this machine. The task
// starts from its current HEAD; publishing makes the task's branch in it
// and writes the change as a patch file, touching nothing else.
type Local struct {
	// Dir is the repository's working directory.
	Dir string
	// Title and Body stand for the issue.
	Title, Body string
	// PatchFile is where Publish writes the change.
	PatchFile string
	// Committer is who commits, as "Name <email>".
	Committer string
	// Config, when set, replaces the repository's .github/oneshot.yml;
	// ConfigName is the file it came from.
	Config     []byte
	ConfigName string
}

var _ pipeline.Forge = (*Local)(nil)

// Checkout fetches the repository's HEAD into a host workspace.
func (l *Local) Checkout(ctx context.Context, t *tasks.Task) (*pipeline.Checkout, error) {
	src, err := filepath.Abs(l.Dir)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "oneshot-"+t.ID+"-")
	if err != nil {
		return nil, err
	}
	co := &pipeline.Checkout{Dir: dir, Remote: src, DefaultBranch: "HEAD", Config: l.Config, ConfigName: l.ConfigName}
	if co.Repo, err = workspace.Init(ctx, filepath.Join(dir, "repo.git")); err == nil {
		// The history is on this machine already: read in place, not
		// fetched again.
		err = co.Repo.Borrow(ctx, src)
	}
	if err == nil {
		err = co.Repo.Fetch(ctx, src, workspace.Auth{}, "+HEAD:refs/oneshot/base")
	}
	if err == nil {
		co.Base, err = co.Repo.Resolve(ctx, "refs/oneshot/base")
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("read %s: %w", l.Dir, err)
	}
	return co, nil
}

// FetchBranch continues the task's branch when the repository has it.
func (l *Local) FetchBranch(ctx context.Context, _ *tasks.Task, co *pipeline.Checkout, branch string) (string, error) {
	head, err := co.Repo.RemoteHead(ctx, co.Remote, workspace.Auth{}, branch)
	if err != nil || head == "" {
		return "", err
	}
	return fetchBranch(ctx, co, workspace.Auth{}, branch)
}

// Gather is the task text given on the command line, and the checkout's
// guidelines and layout.
func (l *Local) Gather(_ context.Context, t *tasks.Task, checkout fs.FS) (contextgather.Material, error) {
	return contextgather.Local(t, l.Title, l.Body, checkout), nil
}

// Identity commits as oneshot; there is nobody to credit.
func (l *Local) Identity(context.Context, *tasks.Task) (string, string, error) {
	return l.Committer, "", nil
}

// Publish writes the change as a new patch file and makes the task's
// branch in the repository; it never changes the checked-out branch or the
// files, and overwrites no file. The patch comes first: a branch the
// repository refuses (a name that clashes with one of its branches, a
// repository mounted read-only) must not cost the change, which lives only
// in a workspace that goes when the task ends.
func (l *Local) Publish(ctx context.Context, _ *tasks.Task, co *pipeline.Checkout, pr pipeline.PullRequest) (pipeline.Published, error) {
	diff, err := co.Repo.Diff(ctx, co.Base, pr.Head)
	if err != nil {
		return pipeline.Published{}, err
	}
	// A new file only: a name that is taken is someone's file.
	f, err := os.OpenFile(l.PatchFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return pipeline.Published{}, fmt.Errorf("write the patch: %w", err)
	}
	if _, err := f.Write(diff); err != nil {
		f.Close()
		return pipeline.Published{}, fmt.Errorf("write the patch: %w", err)
	}
	if err := f.Close(); err != nil {
		return pipeline.Published{}, fmt.Errorf("write the patch: %w", err)
	}
	if err := co.Repo.Push(ctx, co.Remote, workspace.Auth{}, pr.Head, pr.Branch, ""); err != nil {
		return pipeline.Published{}, fmt.Errorf("make branch %s (the change is in the patch %s): %w", pr.Branch, l.PatchFile, err)
	}
	return pipeline.Published{URL: "branch " + pr.Branch + ", patch " + l.PatchFile}, nil
}

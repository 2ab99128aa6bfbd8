package pipeline

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/tasks"
	"github.com/oneshot-dev/oneshot/workspace"
)

func TestABranchGivesBackTheIssueItWasNamedFor(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"oneshot/", "bots/oneshot/", "", "issue-", "x-issue-9-"} {
		cfg := config.DefaultRepo()
		cfg.BranchPrefix = prefix
		if got := tasks.IssueOfBranch(Branch(cfg, &tasks.Task{Issue: 42})); got != 42 {
			t.Errorf("issue 42's branch under prefix %q gives %d", prefix, got)
		}
		if got := tasks.IssueOfBranch(Branch(cfg, &tasks.Task{ID: "t1"})); got != 0 {
			t.Errorf("a branch named for no issue, under prefix %q, gives issue %d", prefix, got)
		}
	}
	for _, branch := range []string{"oneshot/issue-", "oneshot/issue-x", "oneshot/issue-07", "oneshot/issue-+7", "oneshot/issue-7/x", "main"} {
		if got := tasks.IssueOfBranch(branch); got != 0 {
			t.Errorf("%s gives issue %d", branch, got)
		}
	}
}

func TestTheOperatorsNetworkBoundsReachAFilteredSandbox(t *testing.T) {
	t.Parallel()
	bounds := config.NetworkBounds{Allow: "proxy.golang.org, sum.golang.org", Deny: "*.internal.example"}
	r := &run{p: &Pipeline{Defaults: Defaults{Network: bounds}}, task: &tasks.Task{ID: "t1"}, cfg: config.DefaultRepo()}
	r.cfg.Network.Mode = "filtered"
	r.cfg.Network.Allow = []string{"*"}
	r.cfg.Network.Deny = []string{"evil.example"}
	n := r.spec(t.Context()).Network
	if !slices.Equal(n.Allow, []string{"*"}) || !slices.Equal(n.Within, []string{"proxy.golang.org", "sum.golang.org"}) ||
		!slices.Equal(n.Deny, []string{"evil.example", "*.internal.example"}) {
		t.Fatalf("network %+v", n)
	}
	// No network, nothing to bound: bounds there would make the spec invalid.
	r.cfg.Network = config.DefaultRepo().Network
	if n := r.spec(t.Context()).Network; n.Mode != "none" || len(n.Within)+len(n.Deny) > 0 {
		t.Fatalf("network %+v", n)
	}
}

// branchAtBase is a forge whose task branch stands where the default
// branch does; it can only check out and fetch.
type branchAtBase struct {
	Forge
	t *testing.T
}

func (f branchAtBase) Checkout(ctx context.Context, _ *tasks.Task) (*Checkout, error) {
	src := f.t.TempDir()
	for _, args := range [][]string{
		{"init", "--quiet", "--initial-branch=main"},
		{"-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "--quiet", "--allow-empty", "-m", "start"},
	} {
		if out, err := exec.Command("git", append([]string{"-C", src}, args...)...).CombinedOutput(); err != nil {
			f.t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	dir := f.t.TempDir()
	repo, err := workspace.Init(ctx, filepath.Join(dir, "repo.git"))
	if err != nil {
		return nil, err
	}
	if err := repo.Fetch(ctx, src, workspace.Auth{}, "+refs/heads/main:refs/oneshot/base"); err != nil {
		return nil, err
	}
	base, err := repo.Resolve(ctx, "refs/oneshot/base")
	return &Checkout{Repo: repo, Remote: src, Base: base, DefaultBranch: "main", Dir: dir}, err
}

func (branchAtBase) FetchBranch(_ context.Context, _ *tasks.Task, c *Checkout, _ string) (string, error) {
	return c.Base, nil
}

// noSandbox refuses every session, to stop a run where setup would start one.
type noSandbox struct{}

var errNoSandbox = errors.New("no sandbox here")

func (noSandbox) Start(context.Context, sandbox.Spec) (*sandbox.Session, error) {
	return nil, errNoSandbox
}

func TestABranchWhereTheDefaultBranchStandsIsContinued(t *testing.T) {
	t.Parallel()
	p := &Pipeline{Forge: branchAtBase{t: t}, Sandbox: noSandbox{},
		Agent: func(config.AgentOptions) (Agent, error) { return nil, nil }}
	r := &run{p: p, task: &tasks.Task{ID: "t1", Issue: 7}, started: time.Now(),
		report: Report{Steps: []Step{{Name: "setup"}}}}
	t.Cleanup(func() {
		r.cleanup()
		if r.timer != nil {
			r.timer.Stop()
		}
	})
	if err := r.setup(t.Context()); !errors.Is(err, errNoSandbox) {
		t.Fatalf("setup stopped before the sandbox: %v", err)
	}
}

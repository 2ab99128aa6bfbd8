package pipeline

import (
	"slices"
	"testing"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/tasks"
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
	allowed := config.Sandbox{Network: config.NetworkBounds{Allow: "proxy.golang.org, sum.golang.org", Deny: "*.internal.example"}}
	r := &run{p: &Pipeline{Defaults: Defaults{Allowed: &allowed}}, task: &tasks.Task{ID: "t1"}, cfg: config.DefaultRepo()}
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

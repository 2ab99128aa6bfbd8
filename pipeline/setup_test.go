package pipeline

import (
	"testing"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/tasks"
)

func TestABranchGivesBackTheIssueItWasNamedFor(t *testing.T) {
	t.Parallel()
	cfg := config.DefaultRepo()
	cfg.BranchPrefix = "bots/oneshot/"
	if got := branchIssue(cfg, Branch(cfg, &tasks.Task{Issue: 42})); got != 42 {
		t.Errorf("issue 42's branch gives %d", got)
	}
	for _, branch := range []string{Branch(cfg, &tasks.Task{ID: "t1"}), "bots/oneshot/issue-", "bots/oneshot/issue-x", "oneshot/issue-7"} {
		if got := branchIssue(cfg, branch); got != 0 {
			t.Errorf("%s gives issue %d", branch, got)
		}
	}
}

package forge

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/tasks"
	"github.com/oneshot-dev/oneshot/workspace"
)

// A branch the repository refuses (here its name clashes with a branch
// "oneshot") comes at the very end of a task: the change must be in the
// patch file all the same, since the workspace goes with the task.
func TestAChangeWhoseBranchTheRepositoryRefusesIsInThePatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"init", "--quiet", "--initial-branch=main"},
		{"commit", "--quiet", "--allow-empty", "-m", "first"},
		{"branch", "oneshot"},
	} {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com",
			"GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	patch := filepath.Join(t.TempDir(), "change.patch")
	l := &Local{Dir: dir, PatchFile: patch}
	task := &tasks.Task{ID: "t1"}
	co, err := l.Checkout(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(co.Dir)
	head, err := co.Repo.Commit(ctx, workspace.NewCommit{Tree: co.Base + "^{tree}", Parent: co.Base,
		Name: "oneshot", Email: "oneshot@example.com", Message: "the change"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Publish(ctx, task, co, pipeline.PullRequest{Branch: "oneshot/task-t1", Head: head})
	if err == nil || !strings.Contains(err.Error(), patch) {
		t.Fatalf("publish: %v, want an error naming the patch", err)
	}
	if _, err := os.Stat(patch); err != nil {
		t.Fatalf("the patch was not written: %v", err)
	}
}

package handlers

import (
	"context"
	"errors"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/tasks"
)

// branchIssue is the issue whose branch a trigger concerns: its own, or
// for a pull request oneshot opened, the one the pull request's branch was
// named for. The issue's task and a follow-up on its pull request change
// that one branch, so they must not run at once.
func (in *Intake) branchIssue(ctx context.Context, repo *githubapi.Repo, t tasks.Trigger) (int, error) {
	// A follow-up is always on a pull request, flagged or not: a trigger
	// queued before triggers said so lacks the flag.
	if !t.PullRequest && t.Command != tasks.CommandFollowUp {
		return t.Issue, nil
	}
	return pullBranchIssue(ctx, repo, t.Issue)
}

// taskBranchIssue is the issue whose branch a task changes. A follow-up
// recorded before tasks kept their branch holds its pull request's number
// instead, and its pull request's branch is read again.
func taskBranchIssue(ctx context.Context, repo *githubapi.Repo, task *tasks.Task) (int, error) {
	if task.Kind == tasks.KindFollowUp && task.BranchIssue == task.PullRequest {
		return pullBranchIssue(ctx, repo, task.PullRequest)
	}
	return task.BranchIssue, nil
}

// pullBranchIssue is the issue the branch of a pull request oneshot opened
// was named for; the pull request's own number for a branch named for none.
func pullBranchIssue(ctx context.Context, repo *githubapi.Repo, pull int) (int, error) {
	branch, err := repo.PullRequestBranch(ctx, pull)
	if err != nil {
		return 0, err
	}
	if n := tasks.IssueOfBranch(branch); n > 0 {
		return n, nil
	}
	return pull, nil
}

// live returns the live task on the branch of issue branch, which trigger
// t concerns. A follow-up recorded before tasks kept their branch is found
// by its pull request's number.
func (in *Intake) live(ctx context.Context, t tasks.Trigger, branch int) (*tasks.Task, error) {
	task, err := in.Queue.Live(ctx, t.Repo, branch)
	if errors.Is(err, tasks.ErrNotFound) && branch != t.Issue {
		return in.Queue.Live(ctx, t.Repo, t.Issue)
	}
	return task, err
}

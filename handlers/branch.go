package handlers

import (
	"context"
	"errors"
	"fmt"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/tasks"
)

// pull is what the intake reads of a pull request oneshot opened.
type pull struct {
	// branchIssue is the issue its branch was named for, or its own
	// number for a branch named for none.
	branchIssue int
	// ended is "merged" or "closed" once it is no longer open.
	ended string
}

func readPull(ctx context.Context, repo *githubapi.Repo, n int) (pull, error) {
	pr, err := repo.PullRequest(ctx, n)
	if err != nil {
		return pull{}, err
	}
	p := pull{branchIssue: n}
	if issue := tasks.IssueOfBranch(pr.GetHead().GetRef()); issue > 0 {
		p.branchIssue = issue
	}
	switch {
	case pr.GetMerged():
		p.ended = "merged"
	case pr.GetState() != "open":
		p.ended = "closed"
	}
	return p, nil
}

// onPull reads the pull request a trigger is on, or returns nil for a
// trigger on an issue.
func onPull(ctx context.Context, repo *githubapi.Repo, t tasks.Trigger) (*pull, error) {
	// A follow-up is always on a pull request, flagged or not: a trigger
	// queued before triggers said so lacks the flag.
	if !t.PullRequest && t.Command != tasks.CommandFollowUp {
		return nil, nil
	}
	p, err := readPull(ctx, repo, t.Issue)
	return &p, err
}

// branchIssue is the issue whose branch a trigger concerns: its own, or
// for a pull request oneshot opened, the one the pull request's branch was
// named for. The issue's task and a follow-up on its pull request change
// that one branch, so they must not run at once.
func branchIssue(t tasks.Trigger, p *pull) int {
	if p == nil {
		return t.Issue
	}
	return p.branchIssue
}

// taskBranch is the issue whose branch a task changes, and for a
// follow-up, the pull request it changes, read again. A follow-up recorded
// before tasks kept their branch holds its pull request's number instead,
// and its branch is the pull request's.
func taskBranch(ctx context.Context, repo *githubapi.Repo, task *tasks.Task) (branch int, p *pull, err error) {
	if task.Kind != tasks.KindFollowUp {
		return task.BranchIssue, nil, nil
	}
	read, err := readPull(ctx, repo, task.PullRequest)
	if err != nil {
		return 0, nil, err
	}
	if task.BranchIssue == task.PullRequest {
		return read.branchIssue, &read, nil
	}
	return task.BranchIssue, &read, nil
}

// live returns the live task on the branch of issue branch, which trigger
// t concerns. A follow-up recorded before tasks kept their branch is found
// by its pull request's number.
func (in *Intake) live(ctx context.Context, t tasks.Trigger, branch int) (*tasks.Task, error) {
	task, err := in.Queue.Live(ctx, t.RepoID, branch)
	if errors.Is(err, tasks.ErrNotFound) && branch != t.Issue {
		return in.Queue.Live(ctx, t.RepoID, t.Issue)
	}
	return task, err
}

// pullEnded is the reply to t, which would change pull request n, merged
// or closed (p), whose branch is issue branch's.
func (in *Intake) pullEnded(t tasks.Trigger, n int, p *pull, branch int) string {
	which := fmt.Sprintf("pull request #%d", n)
	if t.PullRequest && t.Issue == n {
		which = "this pull request"
	}
	reply := fmt.Sprintf("@%s, %s was %s, so oneshot will not change it.", t.Actor, which, p.ended)
	if branch != n {
		reply += fmt.Sprintf(" To work on #%d again, comment `%s <instructions>` there.", branch, in.Command)
	}
	return reply
}

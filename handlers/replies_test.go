package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/handlers"
	"github.com/oneshot-dev/oneshot/tasks"
)

// endedTaskQueue is a queue whose issue has one task, ended, to retry.
type endedTaskQueue struct {
	handlers.Work
	retried bool
}

var endedTask = &tasks.Task{ID: "tended", Repo: "acme/widgets", Issue: 1, BranchIssue: 1, Attempt: 1, State: tasks.Failed}

func (*endedTaskQueue) ByDelivery(context.Context, string) (*tasks.Task, int, error) {
	return nil, 0, tasks.ErrNotFound
}
func (*endedTaskQueue) Latest(context.Context, int64, int) (*tasks.Task, error) {
	return endedTask, nil
}
func (*endedTaskQueue) EarlierStartWaiting(context.Context, tasks.Trigger) (bool, error) {
	return false, nil
}
func (*endedTaskQueue) Live(context.Context, int64, int) (*tasks.Task, error) {
	return nil, tasks.ErrNotFound
}
func (*endedTaskQueue) OverLimit(context.Context, int64, string, tasks.Limits) (*tasks.Limited, error) {
	return nil, nil
}
func (q *endedTaskQueue) Retry(_ context.Context, id string, _ tasks.Start) (*tasks.Task, error) {
	q.retried = true
	next := *endedTask
	next.Attempt, next.State = 2, tasks.Queued
	return &next, nil
}
func (*endedTaskQueue) ClaimReply(context.Context, string, int, string, string, string, time.Time) (bool, error) {
	return true, nil
}

func TestWordsAfterRetryOrHelpAreSaidNotToCount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		command      tasks.Command
		instructions string
		want         string // in the one reply; "" for none
	}{
		{tasks.CommandRetry, "", ""},
		{tasks.CommandRetry, "and use the v2 API this time", "the words after `retry` do not change it"},
		{tasks.CommandHelp, "", "oneshot turns issues into pull requests"},
		{tasks.CommandHelp, "me fix the login crash", "`/oneshot help` is a command whatever follows it"},
	} {
		in, gh, repo := newIntake(t)
		q := &endedTaskQueue{}
		in.Queue = q
		tr := trigger
		tr.Event, tr.CommentID, tr.Command, tr.Instructions = "issue_comment", 0, tc.command, tc.instructions
		if err := in.Intake(context.Background(), tr); err != nil {
			t.Fatal(err)
		}
		if tc.command == tasks.CommandRetry && !q.retried {
			t.Errorf("%s %q: not retried", tc.command, tc.instructions)
		}
		comments := gh.Comments(repo, 1)
		switch {
		case tc.want == "" && len(comments) != 0:
			t.Errorf("%s %q: comments %+v, want none", tc.command, tc.instructions, comments)
		case tc.want != "" && (len(comments) != 1 || !strings.Contains(comments[0].Body, tc.want)):
			t.Errorf("%s %q: comments %+v, want one saying %q", tc.command, tc.instructions, comments, tc.want)
		}
	}
}

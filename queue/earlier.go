package queue

// Whether a trigger received earlier is still to be taken in: the intake
// of a later one waits for it, so that triggers on one issue or task act
// in the order they came.

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/oneshot-dev/oneshot/tasks"
)

// EarlierStartWaiting reports whether a trigger that may start an attempt
// on t's issue, or of the task t names (a start, a follow-up, a retry),
// was received before t and has not had its intake yet, or is having it:
// a cancel that overtook it would find nothing to cancel, and the Cancel
// button of a check run made before its task was recorded would name a
// task not known yet. Triggers accepted before triggers kept the time they
// came do not count.
func (q *Queue) EarlierStartWaiting(ctx context.Context, t tasks.Trigger) (bool, error) {
	var tags []string
	if t.Issue != 0 {
		tags = append(tags, issueTag(t.RepoID, t.Issue))
	}
	if t.TaskID != "" {
		tags = append(tags, taskTag(t.TaskID))
	}
	return q.earlierWaiting(ctx, t, tags, tasks.Command.Starts)
}

// EarlierCancelWaiting reports whether a cancel received before t, on t's
// issue or on live, the task live on its branch, has not had its intake
// yet, or is having it: t, a start or retry that found live, would be
// told the branch is busy with a task the cancel is about to stop, as in
// "/oneshot cancel" and then "/oneshot <better instructions>" while
// GitHub was slow to answer the first.
func (q *Queue) EarlierCancelWaiting(ctx context.Context, t tasks.Trigger, live *tasks.Task) (bool, error) {
	tags := []string{issueTag(live.RepoID, live.Issue), taskTag(live.ID)}
	if t.Issue != 0 && t.Issue != live.Issue {
		tags = append(tags, issueTag(t.RepoID, t.Issue))
	}
	return q.earlierWaiting(ctx, t, tags, func(c tasks.Command) bool { return c == tasks.CommandCancel })
}

// earlierWaiting reports whether the intake of a trigger tagged with any
// of tags, whose command counts, received before t, is still to have its
// intake, or having it.
func (q *Queue) earlierWaiting(ctx context.Context, t tasks.Trigger, tags []string, counts func(tasks.Command) bool) (bool, error) {
	if len(tags) == 0 || t.ReceivedAt.IsZero() {
		return false, nil
	}
	const page = 100
	params := river.NewJobListParams().
		Queues(QueueIntake).
		Kinds(intakeArgs{}.Kind()).
		States(rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
			rivertype.JobStateRunning, rivertype.JobStateScheduled).
		TagsAny(tags...).
		First(page)
	for {
		res, err := q.river.JobList(ctx, params)
		if err != nil {
			return false, fmt.Errorf("look up the intakes waiting on %s#%d: %w", t.Repo, t.Issue, err)
		}
		for _, job := range res.Jobs {
			var args intakeArgs
			if err := json.Unmarshal(job.EncodedArgs, &args); err != nil {
				continue // not a trigger this bot can take in either
			}
			if counts(args.Command) && !args.ReceivedAt.IsZero() && args.ReceivedAt.Before(t.ReceivedAt) {
				return true, nil
			}
		}
		if len(res.Jobs) < page {
			return false, nil
		}
		params = params.After(res.LastCursor)
	}
}

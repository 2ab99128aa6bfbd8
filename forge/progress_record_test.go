package forge

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/tasks"
)

// A status comment the database did not take is recorded at a later
// write: not recorded, the next attempt would make a second one, and a
// later process could not end it.
func TestAStatusCommentTheDatabaseFailedToRecordIsRecordedLater(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	db := &downDB{statusComments: n.comments}
	db.down.Store(true)
	n.progress.Comments = db
	r := n.progress.For(n.task)
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "setup", State: pipeline.StepRunning}, {Name: "verify", State: pipeline.StepPending}}})
	waitUntil(t, "a try to record the status comment", func() bool { return db.failed.Load() >= 1 })

	// The next step edits the comment, and tries again.
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "setup", State: pipeline.StepPassed}, {Name: "verify", State: pipeline.StepRunning}}})
	waitUntil(t, "a second try to record the status comment", func() bool { return db.failed.Load() >= 2 })

	// The database is back by the final report.
	db.down.Store(false)
	r.Finish(t.Context(), checksFailed(n.task))
	comments := n.botComments()
	if len(comments) != 2 || finalComments(n) != 1 {
		t.Fatalf("bot comments %+v, want the status comment and the final one", comments)
	}
	if id, ok := n.comments.Load(n.task.ID); !ok || id.(int64) != comments[0].ID {
		t.Fatalf("recorded status comment %v, want %d", id, comments[0].ID)
	}
}

// A database that stalls while the status comment is recorded holds the
// reporter's loop, which the final report waits for, only a short while.
func TestAStalledDatabaseDoesNotHoldTheFinalReport(t *testing.T) {
	t.Parallel()
	n := newNotifiedIssue(t)
	db := &downDB{statusComments: n.comments, end: t.Context().Done()}
	db.stall.Store(true)
	n.progress.Comments = db
	n.progress.recordWithin = 100 * time.Millisecond
	r := n.progress.For(n.task)
	r.Update(pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "setup", State: pipeline.StepRunning}}})
	waitUntil(t, "a try to record the status comment", func() bool { return db.stalled.Load() >= 1 })

	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	r.Finish(ctx, pipeline.Report{Task: n.task, Steps: []pipeline.Step{{Name: "setup", State: pipeline.StepFailed}},
		Final: &pipeline.Outcome{State: tasks.Failed, Reason: "setup failed: no network"}})
	if title := n.gh.CheckRuns(n.repo)[0].Output.Title; !strings.Contains(title, "no network") {
		t.Errorf("the check run is titled %q", title)
	}
	if finals := finalComments(n); finals != 1 {
		t.Errorf("%d final comments: %+v", finals, n.botComments())
	}
}

// downDB records status comments as statusComments does, except while
// down, when it fails, or stall, when it waits for the call's context or
// end, the test's.
type downDB struct {
	*statusComments
	down, stall     atomic.Bool
	failed, stalled atomic.Int32
	end             <-chan struct{}
}

func (d *downDB) SetStatusComment(ctx context.Context, taskID string, id int64) error {
	switch {
	case d.stall.Load():
		d.stalled.Add(1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.end:
			return errors.New("the test ended")
		}
	case d.down.Load():
		d.failed.Add(1)
		return errors.New("connection refused")
	}
	return d.statusComments.SetStatusComment(ctx, taskID, id)
}

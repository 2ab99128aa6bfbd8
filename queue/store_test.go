package queue

import (
	"context"
	"errors"
	"testing"

	"github.com/oneshot-dev/oneshot/internal/pgtest"
	"github.com/oneshot-dev/oneshot/tasks"
)

func TestTwoRetriesThatReadTheEndedTaskTogetherQueueOneAttempt(t *testing.T) {
	// Postgres only: there a retry's read does not lock the row, so a
	// second retry can read the ended task before the first queues its
	// attempt. (SQLite's one connection runs them one after the other.)
	q := unstartedQueue(t, pgtest.URL(t))
	ctx := context.Background()
	task := &tasks.Task{ID: tasks.NewID(), Repo: "o/r", RepoID: 1, Issue: 1, Kind: tasks.KindIssue,
		Requester: "octocat", DeliveryID: "d-1", Attempt: 1, State: tasks.Queued}
	if err := q.Create(ctx, task); err != nil {
		t.Fatal(err)
	}
	for _, step := range [][2]tasks.State{{tasks.Queued, tasks.Running}, {tasks.Running, tasks.Failed}} {
		if err := q.DB.transition(ctx, task.ID, 1, step[0], step[1], ""); err != nil {
			t.Fatal(err)
		}
	}

	late, err := q.DB.sql.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Rollback()
	ended, err := get(ctx, late, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Retry(ctx, task.ID, tasks.Start{Actor: "octocat", DeliveryID: "d-first"}); err != nil {
		t.Fatal(err)
	}
	if _, err := queueNext(ctx, late, ended, tasks.Start{Actor: "hubot", DeliveryID: "d-second"}); !errors.Is(err, tasks.ErrLive) {
		t.Fatalf("the second retry: %v, want ErrLive", err)
	}
}

package queue

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/oneshot-dev/oneshot/internal/pgtest"
	"github.com/oneshot-dev/oneshot/tasks"
)

// endedTask records a task whose first attempt failed.
func endedTask(t *testing.T, q *Queue) *tasks.Task {
	t.Helper()
	ctx := context.Background()
	task := &tasks.Task{ID: tasks.NewID(), Repo: "o/r", RepoID: 1, Issue: 1, Kind: tasks.KindIssue,
		Requester: "octocat", DeliveryID: "d-1", Attempt: 1, State: tasks.Queued}
	if err := q.Create(ctx, task, tasks.Limits{}); err != nil {
		t.Fatal(err)
	}
	for _, step := range [][2]tasks.State{{tasks.Queued, tasks.Running}, {tasks.Running, tasks.Failed}} {
		if err := q.DB.transition(ctx, task, step[0], step[1], "", nil); err != nil {
			t.Fatal(err)
		}
	}
	return task
}

func TestACancelOfAnAttemptDoesNotReachTheNext(t *testing.T) {
	// A cancel that read attempt 1 running, and then a retry that queued
	// attempt 2 before the cancel was recorded.
	q := unstartedQueue(t, "sqlite:"+filepath.Join(t.TempDir(), "oneshot.db"))
	ctx := context.Background()
	task := endedTask(t, q)
	if _, err := q.Retry(ctx, task.ID, tasks.Start{Actor: "octocat", DeliveryID: "d-2"}); err != nil {
		t.Fatal(err)
	}
	if live, err := q.DB.RequestCancel(ctx, task.ID, 1); live || err != nil {
		t.Fatalf("cancel of attempt 1: %v %v, want not live", live, err)
	}
	if requested, err := q.DB.cancelRequested(ctx, task.ID); requested || err != nil {
		t.Fatalf("attempt 2 is to be cancelled: %v %v", requested, err)
	}
}

func TestTwoRetriesThatReadTheEndedTaskTogetherQueueOneAttempt(t *testing.T) {
	// Postgres only: there a retry's read does not lock the row, so a
	// second retry can read the ended task before the first queues its
	// attempt. (SQLite's one connection runs them one after the other.)
	q := unstartedQueue(t, pgtest.URL(t))
	ctx := context.Background()
	task := endedTask(t, q)

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

func TestABurstOfQueriesWaitsForABoundedPoolOfPostgresConnections(t *testing.T) {
	// The health check and the task pages answer anyone: a burst of them
	// must not take every connection the Postgres server allows.
	q := unstartedQueue(t, pgtest.URL(t))
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 5 * maxPostgresConns {
		wg.Go(func() {
			if _, err := q.DB.sql.ExecContext(ctx, "SELECT pg_sleep(0.05)"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var open int
	if err := q.DB.sql.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()`).Scan(&open); err != nil {
		t.Fatal(err)
	}
	if stats := q.DB.sql.Stats(); stats.WaitCount == 0 || open > maxPostgresConns {
		t.Fatalf("%d queries waited for a connection, %d connections open; want waits and at most %d", stats.WaitCount, open, maxPostgresConns)
	}
}

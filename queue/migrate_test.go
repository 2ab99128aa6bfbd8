package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"github.com/oneshot-dev/oneshot/internal/pgtest"
	"github.com/oneshot-dev/oneshot/tasks"
)

func TestATaskRecordedBeforeBranchesWereKeptStillHoldsItsIssuesBranch(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db, err := open(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		// The schema before migration 4, and a task running on it.
		if err := migrateSchema(ctx, db.sql, "oneshot_migrations", migrations[:3]); err != nil {
			t.Fatal(err)
		}
		if _, err := db.sql.ExecContext(ctx, `INSERT INTO oneshot_tasks
			(id, repo, repo_id, installation_id, issue, kind, requester, delivery_id, attempt, state, created_at, updated_at)
			VALUES ('t-old', 'o/r', 1, 2, 7, 'issue', 'octocat', 'd-old', 1, 'running', 0, 0)`); err != nil {
			t.Fatal(err)
		}

		if err := db.migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if live, err := db.Live(ctx, "o/r", 7); err != nil || live.ID != "t-old" || live.BranchIssue != 7 {
			t.Fatalf("the live task on issue 7's branch: %+v, %v; want t-old", live, err)
		}
		followUp := &tasks.Task{Repo: "o/r", RepoID: 1, InstallationID: 2, Issue: 9, PullRequest: 9, BranchIssue: 7,
			Kind: tasks.KindFollowUp, Requester: "octocat", DeliveryID: "d-new"}
		if err := db.tx(ctx, func(tx *sql.Tx) error { return db.insertTask(ctx, tx, followUp) }); !errors.Is(err, tasks.ErrLive) {
			t.Fatalf("a follow-up on the old task's branch: %v, want ErrLive", err)
		}
	})
}

func TestTasksABotOfTheEarlierVersionRecordsHoldTheirIssuesBranch(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db, err := Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		// In a rolling update the earlier version runs beside this one,
		// and records tasks knowing nothing of branch_issue.
		for _, issue := range []int{11, 12} {
			if _, err := db.sql.ExecContext(ctx, `INSERT INTO oneshot_tasks
				(id, repo, repo_id, installation_id, issue, kind, requester, delivery_id, attempt, state, created_at, updated_at)
				VALUES ($1, 'o/r', 1, 2, $2, 'issue', 'octocat', $1, 1, 'queued', 0, 0)`, fmt.Sprintf("t-old-%d", issue), issue); err != nil {
				t.Fatalf("the earlier version's task on issue %d: %v", issue, err)
			}
		}
		if live, err := db.Live(ctx, "o/r", 12); err != nil || live.ID != "t-old-12" || live.BranchIssue != 12 {
			t.Fatalf("the live task on issue 12's branch: %+v, %v; want t-old-12", live, err)
		}
		followUp := &tasks.Task{Repo: "o/r", RepoID: 1, InstallationID: 2, Issue: 20, PullRequest: 20, BranchIssue: 11,
			Kind: tasks.KindFollowUp, Requester: "octocat", DeliveryID: "d-new"}
		if err := db.tx(ctx, func(tx *sql.Tx) error { return db.insertTask(ctx, tx, followUp) }); !errors.Is(err, tasks.ErrLive) {
			t.Fatalf("a follow-up on issue 11's branch: %v, want ErrLive", err)
		}
	})
}

func TestReplicasStartingTogetherOnAFreshPostgresAllStart(t *testing.T) {
	url := pgtest.URL(t)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			db, err := Open(context.Background(), url)
			if err == nil {
				db.Close()
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("a replica did not start: %v", err)
		}
	}
}

package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
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
		insertOldTask(t, db, "t-old", 7, tasks.Running)

		if err := db.migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if live, err := db.Live(ctx, 1, 7); err != nil || live.ID != "t-old" || live.BranchIssue != 7 {
			t.Fatalf("the live task on issue 7's branch: %+v, %v; want t-old", live, err)
		}
		if err := insertFollowUp(db, 9, 7); !errors.Is(err, tasks.ErrLive) {
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
			insertOldTask(t, db, fmt.Sprintf("t-old-%d", issue), issue, tasks.Queued)
		}
		if live, err := db.Live(ctx, 1, 12); err != nil || live.ID != "t-old-12" || live.BranchIssue != 12 {
			t.Fatalf("the live task on issue 12's branch: %+v, %v; want t-old-12", live, err)
		}
		if err := insertFollowUp(db, 20, 11); !errors.Is(err, tasks.ErrLive) {
			t.Fatalf("a follow-up on issue 11's branch: %v, want ErrLive", err)
		}
	})
}

func TestReplicasStartingTogetherOnAFreshPostgresAllStart(t *testing.T) {
	for _, err := range openTogether(pgtest.URL(t), 3) {
		if err != nil {
			t.Errorf("a replica did not start: %v", err)
		}
	}
}

func TestProcessesStartingTogetherOnAFreshSQLiteFileAllStart(t *testing.T) {
	t.Parallel()
	for round := range 5 {
		for _, err := range openTogether("sqlite:"+filepath.Join(t.TempDir(), "oneshot.db"), 2) {
			if err != nil {
				t.Errorf("round %d: a process did not start: %v", round, err)
			}
		}
	}
}

// openTogether opens the database at url n times at once, as processes
// starting together do, closes what opened, and returns each one's error.
func openTogether(url string, n int) []error {
	errs := make(chan error, n)
	for range n {
		go func() {
			db, err := Open(context.Background(), url)
			if err == nil {
				db.Close()
			}
			errs <- err
		}()
	}
	var out []error
	for range n {
		out = append(out, <-errs)
	}
	return out
}

// insertOldTask records a task in o/r as a bot before migration 4 did,
// knowing nothing of branch_issue.
func insertOldTask(t *testing.T, db *DB, id string, issue int, state tasks.State) {
	t.Helper()
	if _, err := db.sql.ExecContext(context.Background(), `INSERT INTO oneshot_tasks
		(id, repo, repo_id, installation_id, issue, kind, requester, delivery_id, attempt, state, created_at, updated_at)
		VALUES ($1, 'o/r', 1, 2, $2, 'issue', 'octocat', $1, 1, $3, 0, 0)`, id, issue, state); err != nil {
		t.Fatalf("an older bot's task on issue %d: %v", issue, err)
	}
}

// insertFollowUp records a follow-up on pull request pull in o/r, opened
// from the branch of issue branch.
func insertFollowUp(db *DB, pull, branch int) error {
	ctx := context.Background()
	followUp := &tasks.Task{Repo: "o/r", RepoID: 1, InstallationID: 2, Issue: pull, PullRequest: pull, BranchIssue: branch,
		Kind: tasks.KindFollowUp, Requester: "octocat", DeliveryID: fmt.Sprintf("d-follow-up-%d", pull)}
	return db.tx(ctx, func(tx *sql.Tx) error { return db.insertTask(ctx, tx, followUp) })
}

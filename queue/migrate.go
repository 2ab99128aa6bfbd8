package queue

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order, each once, and never edited after they
// ship: a change is a new migration. The SQL is the subset SQLite and
// Postgres share: times are Unix milliseconds, booleans are integers. One
// statement per string, because Postgres prepares each one.
var migrations = [][]string{
	// 1: deliveries, tasks and their history.
	{`CREATE TABLE oneshot_deliveries (
		delivery_id TEXT PRIMARY KEY,
		event       TEXT NOT NULL,
		received_at BIGINT NOT NULL
	)`,
		`CREATE TABLE oneshot_tasks (
		id               TEXT PRIMARY KEY,
		repo             TEXT NOT NULL,
		repo_id          BIGINT NOT NULL,
		installation_id  BIGINT NOT NULL,
		issue            INTEGER NOT NULL,
		pull_request     INTEGER NOT NULL DEFAULT 0,
		kind             TEXT NOT NULL,
		requester        TEXT NOT NULL,
		instructions     TEXT NOT NULL DEFAULT '',
		delivery_id      TEXT NOT NULL,
		attempt          INTEGER NOT NULL,
		state            TEXT NOT NULL,
		check_run_id     BIGINT NOT NULL DEFAULT 0,
		head_sha         TEXT NOT NULL DEFAULT '',
		cancel_requested INTEGER NOT NULL DEFAULT 0,
		created_at       BIGINT NOT NULL,
		updated_at       BIGINT NOT NULL
	)`,
		`CREATE INDEX oneshot_tasks_issue ON oneshot_tasks (repo, issue)`,
		`CREATE INDEX oneshot_tasks_check_run ON oneshot_tasks (check_run_id)`,
		// At most one live task per issue, whatever races the intake loses.
		`CREATE UNIQUE INDEX oneshot_tasks_one_live ON oneshot_tasks (repo, issue)
		WHERE state IN ('queued', 'running')`,
		`CREATE TABLE oneshot_task_events (
		task_id TEXT NOT NULL REFERENCES oneshot_tasks (id),
		seq     INTEGER NOT NULL,
		attempt INTEGER NOT NULL,
		state   TEXT NOT NULL,
		actor   TEXT NOT NULL DEFAULT '',
		-- The delivery that queued an attempt: a retried intake finds the
		-- attempt it already made instead of making another.
		delivery_id TEXT NOT NULL DEFAULT '',
		detail  TEXT NOT NULL DEFAULT '',
		at      BIGINT NOT NULL,
		PRIMARY KEY (task_id, seq)
	)`,
		`CREATE INDEX oneshot_task_events_at ON oneshot_task_events (at)`,
		`CREATE INDEX oneshot_task_events_delivery ON oneshot_task_events (delivery_id)`,
	},
	// 2: the status comment a task edits in place, across attempts.
	{`ALTER TABLE oneshot_tasks ADD COLUMN status_comment_id BIGINT NOT NULL DEFAULT 0`},
	// 3: the last reply of each kind to each person on each issue, for
	// replies anyone can ask for.
	{`CREATE TABLE oneshot_replies (
		repo        TEXT NOT NULL,
		issue       INTEGER NOT NULL,
		actor       TEXT NOT NULL,
		kind        TEXT NOT NULL,
		delivery_id TEXT NOT NULL,
		at          BIGINT NOT NULL,
		PRIMARY KEY (repo, issue, actor, kind)
	)`},
	// 4: at most one live task per branch: an issue's task and a follow-up
	// on its pull request change the same branch. A task with
	// branch_issue 0 changes its issue's, as taskBranch says: one recorded
	// before, or by a bot of an earlier version still running beside this
	// one in a rolling update. (A follow-up recorded before knew only its
	// pull request; the intake reads its branch again.)
	{`ALTER TABLE oneshot_tasks ADD COLUMN branch_issue INTEGER NOT NULL DEFAULT 0`,
		`DROP INDEX oneshot_tasks_one_live`,
		`CREATE UNIQUE INDEX oneshot_tasks_one_live_branch
		ON oneshot_tasks (repo, (CASE WHEN branch_issue = 0 THEN issue ELSE branch_issue END))
		WHERE state IN ('queued', 'running')`},
	// 5: a repository is known by its ID, which stays when it is renamed
	// or moved to another owner, while its name changes under live tasks.
	{`DROP INDEX oneshot_tasks_one_live_branch`,
		`CREATE UNIQUE INDEX oneshot_tasks_one_live_branch_by_id
		ON oneshot_tasks (repo_id, (CASE WHEN branch_issue = 0 THEN issue ELSE branch_issue END))
		WHERE state IN ('queued', 'running')`,
		`CREATE INDEX oneshot_tasks_repo_id_issue ON oneshot_tasks (repo_id, issue)`},
	// 6: the review a follow-up took whole, which its other comments'
	// deliveries find it by.
	{`ALTER TABLE oneshot_tasks ADD COLUMN review_id BIGINT NOT NULL DEFAULT 0`},
	// 7: the issue as the person who asked for the attempt saw it.
	{`ALTER TABLE oneshot_tasks ADD COLUMN issue_digest TEXT NOT NULL DEFAULT ''`},
	// 8: the run that set the attempt running, whose end alone it records.
	{`ALTER TABLE oneshot_tasks ADD COLUMN run_id TEXT NOT NULL DEFAULT ''`},
}

// migrateSchema applies the steps a database lacks, recording each in
// versions.
func migrateSchema(ctx context.Context, db *sql.DB, versions string, steps [][]string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+versions+` (version INTEGER PRIMARY KEY)`); err != nil {
		return fmt.Errorf("create %s: %w", versions, err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+versions).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	for v := current + 1; v <= len(steps); v++ {
		for _, stmt := range steps[v-1] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("%s %d: %w", versions, v, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+versions+` (version) VALUES ($1)`, v); err != nil {
			return fmt.Errorf("record %s %d: %w", versions, v, err)
		}
	}
	return tx.Commit()
}

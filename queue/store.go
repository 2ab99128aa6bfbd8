package queue

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/oneshot-dev/oneshot/tasks"
)

// insertTask records a new task in its first attempt, queued, with its first
// history entry. It fails with tasks.ErrLive when the task's branch already
// has a live task. A task that names no branch issue changes its issue's
// (see taskBranch).
func (db *DB) insertTask(ctx context.Context, tx *sql.Tx, t *tasks.Task) error {
	now := time.Now()
	if t.ID == "" {
		t.ID = tasks.NewID()
	}
	t.Attempt, t.State, t.CreatedAt, t.UpdatedAt = 1, tasks.Queued, now, now
	_, err := tx.ExecContext(ctx, `INSERT INTO oneshot_tasks
		(id, repo, repo_id, installation_id, issue, pull_request, review_id, branch_issue, kind, requester, instructions,
		 delivery_id, attempt, state, check_run_id, head_sha, created_at, updated_at, issue_digest)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		t.ID, t.Repo, t.RepoID, t.InstallationID, t.Issue, t.PullRequest, t.ReviewID, t.BranchIssue, t.Kind, t.Requester, t.Instructions,
		t.DeliveryID, t.Attempt, t.State, t.CheckRunID, t.HeadSHA, now.UnixMilli(), now.UnixMilli(), t.IssueDigest)
	if isUniqueViolation(err) {
		return tasks.ErrLive
	}
	if err != nil {
		return fmt.Errorf("create task: %w", err)
	}
	return addEvent(ctx, tx, t.ID, tasks.Event{Attempt: 1, State: tasks.Queued, Actor: t.Requester, DeliveryID: t.DeliveryID, Detail: "created", At: now})
}

// queueNext queues the attempt after t's, t as read in tx. It fails with
// tasks.ErrLive when the task, or another on its branch, is live.
func queueNext(ctx context.Context, tx *sql.Tx, t *tasks.Task, s tasks.Start) (*tasks.Task, error) {
	if !t.State.Final() {
		return nil, tasks.ErrLive
	}
	now := time.Now()
	t.Attempt++
	t.State, t.CheckRunID, t.HeadSHA, t.UpdatedAt = tasks.Queued, s.CheckRunID, s.HeadSHA, now
	t.BranchIssue = cmp.Or(s.BranchIssue, t.BranchIssue)
	t.Repo, t.InstallationID = cmp.Or(s.Repo, t.Repo), cmp.Or(s.InstallationID, t.InstallationID)
	t.IssueDigest = cmp.Or(s.IssueDigest, t.IssueDigest)
	// Only from the attempt and the end just read: on Postgres a second
	// retry that read the same row waits here for the first to commit,
	// and must then find the task live, not queue the attempt again.
	res, err := tx.ExecContext(ctx, `UPDATE oneshot_tasks
		SET attempt = $1, state = $2, check_run_id = $3, head_sha = $4, branch_issue = $5, cancel_requested = 0, updated_at = $6,
			repo = $7, installation_id = $8, issue_digest = $9
		WHERE id = $10 AND attempt = $11 AND state NOT IN ('queued', 'running')`,
		t.Attempt, t.State, t.CheckRunID, t.HeadSHA, t.BranchIssue, now.UnixMilli(), t.Repo, t.InstallationID, t.IssueDigest, t.ID, t.Attempt-1)
	if isUniqueViolation(err) {
		return nil, tasks.ErrLive
	}
	if err != nil {
		return nil, fmt.Errorf("queue attempt %d of %s: %w", t.Attempt, t.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, tasks.ErrLive
	}
	return t, addEvent(ctx, tx, t.ID, tasks.Event{Attempt: t.Attempt, State: tasks.Queued, Actor: s.Actor, DeliveryID: s.DeliveryID, Detail: s.Why, At: now})
}

// transition moves the current attempt of task t from one state to another
// and records it. When the task is on another attempt or in another state
// nothing changes and tasks.ErrNotFound is returned: a stale job or a lost race
// must not overwrite what happened meanwhile. A move to running starts a
// run, named anew in t.Run; a move from running is t.Run's, and is made
// only while the attempt is still that run's (see tasks.Task.Run).
// also, when set, runs in the same transaction, as the move's last write.
func (db *DB) transition(ctx context.Context, t *tasks.Task, from, to tasks.State, detail string, also func(*sql.Tx) error) error {
	id, attempt, run := t.ID, t.Attempt, t.Run
	if to == tasks.Running {
		run = tasks.NewID()
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := time.Now()
		query := `UPDATE oneshot_tasks SET state = $1, updated_at = $2`
		args := []any{to, now.UnixMilli(), id, attempt, from}
		if to == tasks.Running {
			query += `, run_id = $6`
			args = append(args, run)
		}
		query += ` WHERE id = $3 AND attempt = $4 AND state = $5`
		if from == tasks.Running && t.Run != "" {
			query += fmt.Sprintf(` AND run_id = $%d`, len(args)+1)
			args = append(args, t.Run)
		}
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("move task %s from %s to %s: %w", id, from, to, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: %s attempt %d in state %s", tasks.ErrNotFound, id, attempt, from)
		}
		if err := addEvent(ctx, tx, id, tasks.Event{Attempt: attempt, State: to, Detail: detail, At: now}); err != nil {
			return err
		}
		if also == nil {
			return nil
		}
		return also(tx)
	})
	if err == nil {
		t.Run = run
	}
	return err
}

// SetStatusComment records the comment a task edits in place.
func (db *DB) SetStatusComment(ctx context.Context, id string, commentID int64) error {
	_, err := db.sql.ExecContext(ctx, `UPDATE oneshot_tasks SET status_comment_id = $1 WHERE id = $2`, commentID, id)
	if err != nil {
		return fmt.Errorf("record the status comment of %s: %w", id, err)
	}
	return nil
}

// RequestCancel marks a task's attempt, if it is live, to be cancelled.
// The worker running it notices within a second, wherever it runs. It
// reports whether the attempt was live.
func (db *DB) RequestCancel(ctx context.Context, id string, attempt int) (bool, error) {
	res, err := db.sql.ExecContext(ctx, `UPDATE oneshot_tasks SET cancel_requested = 1, updated_at = $1
		WHERE id = $2 AND attempt = $3 AND state IN ('queued', 'running')`, time.Now().UnixMilli(), id, attempt)
	if err != nil {
		return false, fmt.Errorf("request cancel of %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

func (db *DB) cancelRequested(ctx context.Context, id string) (bool, error) {
	requested, _, err := db.runState(ctx, id)
	return requested, err
}

// runState says whether a cancel was requested of a task's attempt, and
// which run has it (see tasks.Task.Run).
func (db *DB) runState(ctx context.Context, id string) (cancelRequested bool, run string, err error) {
	var flag int
	err = db.sql.QueryRowContext(ctx, `SELECT cancel_requested, run_id FROM oneshot_tasks WHERE id = $1`, id).Scan(&flag, &run)
	return flag != 0, run, err
}

// ByDelivery returns the task and attempt that a delivery queued, or
// tasks.ErrNotFound.
func (db *DB) ByDelivery(ctx context.Context, deliveryID string) (*tasks.Task, int, error) {
	if deliveryID == "" {
		return nil, 0, tasks.ErrNotFound
	}
	var id string
	var attempt int
	err := db.sql.QueryRowContext(ctx, `SELECT task_id, attempt FROM oneshot_task_events
		WHERE delivery_id = $1 AND state = 'queued' LIMIT 1`, deliveryID).Scan(&id, &attempt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, tasks.ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	t, err := db.Get(ctx, id)
	return t, attempt, err
}

// Get returns a task, or tasks.ErrNotFound.
func (db *DB) Get(ctx context.Context, id string) (*tasks.Task, error) {
	return get(ctx, db.sql, id)
}

// Live returns the queued or running task on the branch of an issue (see
// tasks.Task.BranchIssue), or tasks.ErrNotFound. A repository is known by
// its ID, which stays when it is renamed or moved to another owner.
func (db *DB) Live(ctx context.Context, repoID int64, branchIssue int) (*tasks.Task, error) {
	return one(ctx, db.sql, `WHERE repo_id = $1 AND `+taskBranch+` = $2 AND state IN ('queued', 'running')`, repoID, branchIssue)
}

// taskBranch is the issue whose branch a task changes, as the index that
// keeps one live task per branch has it (see migration 4): branch_issue,
// or for a task a bot before it recorded, its issue.
const taskBranch = `(CASE WHEN branch_issue = 0 THEN issue ELSE branch_issue END)`

// Latest returns the most recent task of an issue, or tasks.ErrNotFound.
func (db *DB) Latest(ctx context.Context, repoID int64, issue int) (*tasks.Task, error) {
	return one(ctx, db.sql, `WHERE repo_id = $1 AND issue = $2 ORDER BY created_at DESC LIMIT 1`, repoID, issue)
}

// List returns every task, oldest first; for tests and operators.
func (db *DB) List(ctx context.Context) ([]*tasks.Task, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+taskColumns+` FROM oneshot_tasks ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*tasks.Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// History returns a task's state history, oldest first.
func (db *DB) History(ctx context.Context, id string) ([]tasks.Event, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT attempt, state, actor, delivery_id, detail, at
		FROM oneshot_task_events WHERE task_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []tasks.Event
	for rows.Next() {
		var e tasks.Event
		var at int64
		if err := rows.Scan(&e.Attempt, &e.State, &e.Actor, &e.DeliveryID, &e.Detail, &at); err != nil {
			return nil, err
		}
		e.At = time.UnixMilli(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// StartsSince counts the attempts someone started since a time, on a
// repository (by its ID) or, when actor is not empty, by an actor; the rate
// limits use it. An attempt handed back at shutdown is queued again by no one, and is
// not counted: a deploy must not use up the limits.
func (db *DB) StartsSince(ctx context.Context, repoID int64, actor string, since time.Time) (int, error) {
	return startsSince(ctx, db.sql, repoID, actor, since)
}

func startsSince(ctx context.Context, q querier, repoID int64, actor string, since time.Time) (int, error) {
	query := `SELECT COUNT(*) FROM oneshot_task_events e JOIN oneshot_tasks t ON t.id = e.task_id
		WHERE e.state = 'queued' AND e.actor <> '' AND e.at >= $1 AND t.repo_id = $2`
	args := []any{since.UnixMilli(), repoID}
	if actor != "" {
		query = `SELECT COUNT(*) FROM oneshot_task_events
			WHERE state = 'queued' AND at >= $1 AND actor = $2`
		args = []any{since.UnixMilli(), actor}
	}
	var n int
	err := q.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}

// limitsLock is the advisory lock, under migrationLock's class, that
// starts hold on Postgres while they count and record: replicas' intakes
// counting at once would all pass a limit. On SQLite the database has one
// connection, so its transactions take turns already.
const limitsLock = 1

// withinLimits fails with *tasks.Limited when an attempt started in tx on
// the repository repoID by actor would exceed limits, counted over the last
// hour.
func (db *DB) withinLimits(ctx context.Context, tx *sql.Tx, repoID int64, actor string, limits tasks.Limits) error {
	if limits == (tasks.Limits{}) {
		return nil
	}
	if db.dialect == "postgres" {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, migrationLock, limitsLock); err != nil {
			return fmt.Errorf("lock the rate limits: %w", err)
		}
	}
	over, err := overLimit(ctx, tx, repoID, actor, limits)
	if err != nil {
		return err
	}
	if over != nil {
		return over
	}
	return nil
}

// OverLimit returns the limit that an attempt started on the repository
// repoID by actor would exceed, or nil. Create and Retry count again as
// they record the start; this look lets a caller answer a limit plainly
// met before it does anything else.
func (db *DB) OverLimit(ctx context.Context, repoID int64, actor string, limits tasks.Limits) (*tasks.Limited, error) {
	return overLimit(ctx, db.sql, repoID, actor, limits)
}

func overLimit(ctx context.Context, q querier, repoID int64, actor string, limits tasks.Limits) (*tasks.Limited, error) {
	since := time.Now().Add(-time.Hour)
	for _, l := range []struct {
		cap    int
		repoID int64
		actor  string
	}{{limits.PerRepo, repoID, ""}, {limits.PerActor, 0, actor}} {
		if l.cap <= 0 {
			continue
		}
		n, err := startsSince(ctx, q, l.repoID, l.actor, since)
		if err != nil {
			return nil, fmt.Errorf("count the attempts started in the last hour: %w", err)
		}
		if n >= l.cap {
			return &tasks.Limited{ByActor: l.actor != "", Started: n}, nil
		}
	}
	return nil, nil
}

// ClaimReply reports whether a delivery may post a reply of a kind to an
// actor on an issue, and records it if so: when no other delivery claimed
// one since a time, and the actor had fewer than MaxRepliesPerActor
// replies in the repository since then, so that one person commenting on
// every issue cannot have the bot answer each. The delivery that holds
// the claim may claim it again, since its intake may have failed before
// the reply was posted.
func (db *DB) ClaimReply(ctx context.Context, repo string, issue int, actor, kind, deliveryID string, since time.Time) (bool, error) {
	res, err := db.sql.ExecContext(ctx, `INSERT INTO oneshot_replies (repo, issue, actor, kind, delivery_id, at)
		SELECT $1, CAST($2 AS INTEGER), $3, $4, $5, CAST($6 AS BIGINT)
		WHERE EXISTS (SELECT 1 FROM oneshot_replies WHERE repo = $1 AND issue = $2 AND actor = $3 AND kind = $4 AND delivery_id = $5)
			OR (SELECT count(*) FROM oneshot_replies WHERE repo = $1 AND actor = $3 AND at >= $7) < $8
		ON CONFLICT (repo, issue, actor, kind) DO UPDATE SET delivery_id = excluded.delivery_id, at = excluded.at
		WHERE oneshot_replies.at < $7 OR oneshot_replies.delivery_id = excluded.delivery_id`,
		repo, issue, actor, kind, deliveryID, time.Now().UnixMilli(), since.UnixMilli(), MaxRepliesPerActor)
	if err != nil {
		return false, fmt.Errorf("claim a %s reply to %s on %s#%d: %w", kind, actor, repo, issue, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// MaxRepliesPerActor is how many replies of the kinds that are claimed
// one person gets in a repository within a claim's window.
const MaxRepliesPerActor = 10

// Retention of the records that only guard against repeats: GitHub
// redelivers deliveries of the past three days at most, and no reply
// window is longer than a day.
const (
	deliveryRetention = 30 * 24 * time.Hour
	replyRetention    = 7 * 24 * time.Hour
)

// Prune deletes the delivery and reply records older than their retention
// at now, and says how many went. Tasks and their history stay: they are
// what people look back at.
func (db *DB) Prune(ctx context.Context, now time.Time) (int64, error) {
	var pruned int64
	for _, p := range []struct {
		table, column string
		keep          time.Duration
	}{
		{"oneshot_deliveries", "received_at", deliveryRetention},
		{"oneshot_replies", "at", replyRetention},
	} {
		res, err := db.sql.ExecContext(ctx, `DELETE FROM `+p.table+` WHERE `+p.column+` < $1`, now.Add(-p.keep).UnixMilli())
		if err != nil {
			return pruned, fmt.Errorf("prune %s: %w", p.table, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return pruned, err
		}
		pruned += n
	}
	return pruned, nil
}

// querier is what reads a row: the database, or a transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// one returns the task that where selects, or tasks.ErrNotFound.
func one(ctx context.Context, q querier, where string, args ...any) (*tasks.Task, error) {
	t, err := scanTask(q.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM oneshot_tasks `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tasks.ErrNotFound
	}
	return t, err
}

// get returns a task by ID, or tasks.ErrNotFound naming the ID.
func get(ctx context.Context, q querier, id string) (*tasks.Task, error) {
	t, err := one(ctx, q, `WHERE id = $1`, id)
	if errors.Is(err, tasks.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", err, id)
	}
	return t, err
}

const taskColumns = `id, repo, repo_id, installation_id, issue, pull_request, review_id, ` + taskBranch + `, kind, requester, instructions,
	delivery_id, attempt, state, check_run_id, head_sha, status_comment_id, created_at, updated_at, issue_digest, cancel_requested, run_id`

func scanTask(row interface{ Scan(...any) error }) (*tasks.Task, error) {
	var t tasks.Task
	var created, updated int64
	err := row.Scan(&t.ID, &t.Repo, &t.RepoID, &t.InstallationID, &t.Issue, &t.PullRequest, &t.ReviewID, &t.BranchIssue, &t.Kind, &t.Requester,
		&t.Instructions, &t.DeliveryID, &t.Attempt, &t.State, &t.CheckRunID, &t.HeadSHA, &t.StatusCommentID, &created, &updated, &t.IssueDigest, &t.CancelRequested, &t.Run)
	if err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = time.UnixMilli(created), time.UnixMilli(updated)
	return &t, nil
}

func addEvent(ctx context.Context, tx *sql.Tx, id string, e tasks.Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO oneshot_task_events (task_id, seq, attempt, state, actor, delivery_id, detail, at)
		SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7 FROM oneshot_task_events WHERE task_id = $8`,
		id, e.Attempt, e.State, e.Actor, e.DeliveryID, e.Detail, e.At.UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("record %s of task %s: %w", e.State, id, err)
	}
	return nil
}

// isUniqueViolation recognises a unique-constraint failure from either
// database.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		code := liteErr.Code()
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

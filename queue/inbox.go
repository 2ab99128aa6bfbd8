package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/oneshot-dev/oneshot/tasks"
)

// The inbox is where a webhook's trigger is made durable before GitHub gets
// its answer. A forwarder then moves it into the queue, off the webhook's
// clock.
//
// It exists for SQLite, where it is a database file of its own: the queue's
// database has one connection, which River's background work holds for tens
// of milliseconds at a time (its SQLite driver marks finished jobs one
// UPDATE at a time in one transaction), and an acknowledgement waiting
// behind that would make GitHub wait too. On Postgres the inbox is a table
// in the one database, whose pool has no such wait.
var inboxMigrations = [][]string{
	// 1: triggers accepted and not queued yet.
	{`CREATE TABLE oneshot_inbox (
		delivery_id TEXT PRIMARY KEY,
		trigger     TEXT NOT NULL,
		received_at BIGINT NOT NULL
	)`},
}

const (
	// forwardBatch is how many triggers one transaction queues.
	forwardBatch = 100
	// forwardPollInterval is how often the forwarder looks for triggers no
	// Accept in this process told it of: another replica's, or a failed
	// forward's.
	forwardPollInterval = time.Second
)

// Accept makes a trigger durable in the inbox. Call it before acknowledging
// a webhook; a started Queue forwards the trigger at once. It reports false
// for a delivery already waiting there. One seen before that is dropped
// when forwarded: a delivery is queued once.
func (q *Queue) Accept(ctx context.Context, t tasks.Trigger) (bool, error) {
	if t.DeliveryID == "" {
		return false, errors.New("a trigger needs a delivery ID")
	}
	if t.ReceivedAt.IsZero() {
		t.ReceivedAt = time.Now()
	}
	fresh, err := q.DB.inboxWriter.add(ctx, q.DB.inbox, t)
	if err != nil || !fresh {
		return false, err
	}
	select {
	case q.accepted <- struct{}{}:
	default: // the forwarder is already awake
	}
	return true, nil
}

// inboxWriter commits the triggers of concurrent Accepts together. Every
// commit waits for the disk (synchronous=FULL), so in a burst the Accepts
// share one wait instead of queueing for one each.
type inboxWriter struct {
	mu         sync.Mutex
	pending    *inboxBatch // for the next commit
	committing bool
}

type inboxBatch struct {
	triggers []tasks.Trigger
	fresh    []bool // per trigger: new to the inbox
	err      error
	done     chan struct{}
}

// add writes a trigger to the inbox with the next commit and reports
// whether it was new there. The Accept that finds no commit under way
// makes it; those that come meanwhile go in the one after.
func (w *inboxWriter) add(ctx context.Context, inbox *sql.DB, t tasks.Trigger) (bool, error) {
	w.mu.Lock()
	if w.pending == nil {
		w.pending = &inboxBatch{done: make(chan struct{})}
	}
	b := w.pending
	i := len(b.triggers)
	b.triggers = append(b.triggers, t)
	lead := !w.committing
	w.committing = true
	w.mu.Unlock()

	if lead {
		if w.commitNext(inbox) {
			go w.commitAll(inbox) // the followers' turn, without holding this Accept
		}
	}
	select {
	case <-b.done:
		if b.err != nil {
			return false, b.err
		}
		return b.fresh[i], nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// inboxCommitTimeout bounds one commit of the inbox.
const inboxCommitTimeout = 5 * time.Second

// commitAll commits batches until none is pending.
func (w *inboxWriter) commitAll(inbox *sql.DB) {
	for w.commitNext(inbox) {
	}
}

// commitNext commits the pending batch, and reports whether another is
// pending; when none is, the next Accept makes the commit.
func (w *inboxWriter) commitNext(inbox *sql.DB) bool {
	w.mu.Lock()
	b := w.pending
	w.pending = nil
	w.mu.Unlock()
	// Not the caller's context: the batch holds other Accepts' triggers.
	// Bounded, so that a database that hangs fails the webhooks waiting
	// on it within GitHub's ten seconds, rather than holding them all.
	ctx, cancel := context.WithTimeout(context.Background(), inboxCommitTimeout)
	b.fresh, b.err = insertIntoInbox(ctx, inbox, b.triggers)
	cancel()
	close(b.done)

	w.mu.Lock()
	defer w.mu.Unlock()
	w.committing = w.pending != nil
	return w.committing
}

func insertIntoInbox(ctx context.Context, inbox *sql.DB, triggers []tasks.Trigger) ([]bool, error) {
	fresh := make([]bool, len(triggers))
	tx, err := inbox.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("record deliveries: %w", err)
	}
	defer tx.Rollback()
	for i, t := range triggers {
		trigger, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO oneshot_inbox (delivery_id, trigger, received_at)
			VALUES ($1, $2, $3) ON CONFLICT (delivery_id) DO NOTHING`, t.DeliveryID, string(trigger), t.ReceivedAt.UnixMilli())
		if err != nil {
			return nil, fmt.Errorf("record delivery %s: %w", t.DeliveryID, err)
		}
		n, _ := res.RowsAffected()
		fresh[i] = n == 1
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("record deliveries: %w", err)
	}
	return fresh, nil
}

// DeliverySeen reports whether a delivery was accepted: waiting in the
// inbox, or queued.
func (db *DB) DeliverySeen(ctx context.Context, deliveryID string) (bool, error) {
	var waiting, queued int
	err := db.inbox.QueryRowContext(ctx, `SELECT COUNT(*) FROM oneshot_inbox WHERE delivery_id = $1`, deliveryID).Scan(&waiting)
	if err != nil {
		return false, err
	}
	err = db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM oneshot_deliveries WHERE delivery_id = $1`, deliveryID).Scan(&queued)
	return waiting+queued > 0, err
}

// forwardLoop forwards triggers until ctx ends: when Accept says one came,
// and every forwardPollInterval.
func (q *Queue) forwardLoop(ctx context.Context) {
	ticker := time.NewTicker(forwardPollInterval)
	defer ticker.Stop()
	failing := failureLog{every: forwardErrorLogInterval, now: time.Now}
	for {
		n, err := q.forward(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			if repeats, ok := failing.failed(); ok {
				q.cfg.Logger.Error().Err(err).Int("failures_since_last_line", repeats).
					Msg("Could not queue accepted triggers; they wait in the inbox and are tried again every second.")
			}
		case err == nil && n < forwardBatch && failing.recovered():
			// A full batch queued says nothing of the triggers behind it.
			q.cfg.Logger.Info().Msg("Accepted triggers are queued again.")
		}
		if err == nil && n == forwardBatch {
			continue // more may wait
		}
		select {
		case <-ctx.Done():
			return
		case <-q.accepted:
		case <-ticker.C:
		}
	}
}

// forwardErrorLogInterval is how often a failure to forward that goes on
// (a database down, a trigger it refuses) is logged: the forwarder tries
// every second, and a line a second says nothing more.
const forwardErrorLogInterval = time.Minute

// failureLog says when a failure that repeats is worth a log line: the
// first time, and then once every so often while it goes on.
type failureLog struct {
	every   time.Duration
	now     func() time.Time
	since   time.Time // when it was last said; zero while all is well
	repeats int       // failures since then
}

// failed records a failure, and says whether to log it and how many went
// unlogged before it.
func (f *failureLog) failed() (repeats int, log bool) {
	now := f.now()
	if !f.since.IsZero() && now.Sub(f.since) < f.every {
		f.repeats++
		return 0, false
	}
	repeats, f.since, f.repeats = f.repeats, now, 0
	return repeats, true
}

// recovered records a success, and says whether it ends a failure.
func (f *failureLog) recovered() bool {
	was := !f.since.IsZero()
	f.since, f.repeats = time.Time{}, 0
	return was
}

// forward queues the oldest triggers waiting in the inbox, and reports how
// many it took. The queue's record of deliveries, written with the jobs,
// makes it safe to forward a trigger twice, as a process that dies between
// the two writes below does, or a redelivery that came after the first:
// the second time it is not queued again.
//
// A row this process cannot read (one a bot of another version wrote, in a
// rolling update) stays for one that can, moved to the inbox's end so that
// it does not lead every batch, and a warning names it, once a minute at
// most: it is no failure of the others.
func (q *Queue) forward(ctx context.Context) (int, error) {
	waiting, unreadable, err := q.DB.waitingTriggers(ctx)
	if err != nil {
		return 0, err
	}
	q.setAside(ctx, unreadable)
	if len(waiting) == 0 {
		return 0, nil
	}
	if err := q.queueTriggers(ctx, waiting); err != nil {
		if len(waiting) == 1 || ctx.Err() != nil {
			return 0, err
		}
		return q.forwardEach(ctx, waiting)
	}
	return len(waiting), q.DB.removeFromInbox(ctx, waiting)
}

// setAside moves the inbox's unreadable rows to its end, and says so.
func (q *Queue) setAside(ctx context.Context, unreadable []unreadableTrigger) {
	if len(unreadable) == 0 {
		return
	}
	var errs []error
	for _, u := range unreadable {
		errs = append(errs, u.err, q.DB.moveToInboxEnd(ctx, u.deliveryID))
	}
	if repeats, ok := q.unreadableLog.failed(); ok {
		q.cfg.Logger.Warn().Err(errors.Join(errs...)).Int("times_since_last_line", repeats).
			Msg("Triggers in the inbox this bot cannot read wait for one that can (another version's, in a rolling update).")
	}
}

// forwardEach queues triggers one by one, after their batch failed: one the
// database refuses, whatever it holds, must not hold back the others, nor
// be lost. When others go, it stays in the inbox, moved to its end so that
// it does not lead every batch, and the error names it. When none goes,
// the database is what fails, and the order is kept.
func (q *Queue) forwardEach(ctx context.Context, waiting []tasks.Trigger) (int, error) {
	var queued, refused []tasks.Trigger
	var errs []error
	for _, t := range waiting {
		if err := q.queueTriggers(ctx, []tasks.Trigger{t}); err != nil {
			refused = append(refused, t)
			errs = append(errs, err)
			continue
		}
		queued = append(queued, t)
	}
	if len(queued) == 0 {
		return 0, errors.Join(errs...)
	}
	if err := q.DB.removeFromInbox(ctx, queued); err != nil {
		return 0, err
	}
	for _, t := range refused {
		if err := q.DB.moveToInboxEnd(ctx, t.DeliveryID); err != nil {
			errs = append(errs, err)
		}
	}
	return len(queued), errors.Join(errs...)
}

// commentKey is what a comment's trigger is recorded by beside its
// delivery, so that the comment starts at most one task: GitHub sends a
// delivery again under its own ID, but its signature covers the body
// only, and whoever has a body it signed could send it under any ID.
// Other triggers have no such key.
func commentKey(t tasks.Trigger) string {
	if t.CommentID == 0 {
		return ""
	}
	return fmt.Sprintf("comment:%s:%d:%d", t.Event, t.RepoID, t.CommentID)
}

// recordOnce records key, a delivery's ID or a comment's (see
// commentKey), among those queued, and says whether it is new there.
func recordOnce(ctx context.Context, tx *sql.Tx, key, event string) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO oneshot_deliveries (delivery_id, event, received_at)
		VALUES ($1, $2, $3) ON CONFLICT (delivery_id) DO NOTHING`, key, event, time.Now().UnixMilli())
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n != 0, nil
}

// queueTriggers queues triggers in one transaction, each once.
func (q *Queue) queueTriggers(ctx context.Context, triggers []tasks.Trigger) error {
	return q.DB.tx(ctx, func(tx *sql.Tx) error {
		var jobs []river.InsertManyParams
		for _, t := range triggers {
			fresh, err := recordOnce(ctx, tx, t.DeliveryID, t.Event)
			if err != nil {
				return fmt.Errorf("record delivery %s: %w", t.DeliveryID, err)
			}
			if !fresh {
				q.cfg.Logger.Info().Str("delivery_id", t.DeliveryID).Msg("Dropped a delivery queued before.")
				continue
			}
			if key := commentKey(t); key != "" {
				fresh, err := recordOnce(ctx, tx, key, t.Event)
				if err != nil {
					return fmt.Errorf("record the comment of delivery %s: %w", t.DeliveryID, err)
				}
				if !fresh {
					q.cfg.Logger.Warn().Str("delivery_id", t.DeliveryID).Int64("comment_id", t.CommentID).
						Msg("Dropped a delivery of a comment another delivery queued before: its signed body sent again under a new ID.")
					continue
				}
			}
			if t.Issue == 0 && t.TaskID != "" {
				if t.Issue, err = issueOfTask(ctx, tx, t); err != nil {
					return err
				}
			}
			jobs = append(jobs, river.InsertManyParams{Args: intakeArgs{t}})
		}
		if len(jobs) == 0 {
			return nil
		}
		if _, err := q.river.InsertManyTx(ctx, tx, jobs); err != nil {
			if len(triggers) == 1 {
				return fmt.Errorf("queue delivery %s: %w", triggers[0].DeliveryID, err)
			}
			return fmt.Errorf("queue %d triggers: %w", len(jobs), err)
		}
		return nil
	})
}

// issueOfTask is the issue of the task a button's trigger names, 0 when
// the task is not recorded (yet), or is another repository's. A button
// press is on that issue: a cancel there waits for a retry pressed before
// it (see Queue.EarlierStartWaiting).
func issueOfTask(ctx context.Context, tx *sql.Tx, t tasks.Trigger) (int, error) {
	var issue int
	err := tx.QueryRowContext(ctx, `SELECT issue FROM oneshot_tasks WHERE id = $1 AND repo_id = $2`, t.TaskID, t.RepoID).Scan(&issue)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("look up the issue of task %s: %w", t.TaskID, err)
	}
	return issue, nil
}

// unreadableTrigger is an inbox row whose trigger does not decode.
type unreadableTrigger struct {
	deliveryID string
	err        error
}

// waitingTriggers reads the oldest triggers not yet queued, and the rows
// among them it could not read.
func (db *DB) waitingTriggers(ctx context.Context) ([]tasks.Trigger, []unreadableTrigger, error) {
	rows, err := db.inbox.QueryContext(ctx, `SELECT delivery_id, trigger FROM oneshot_inbox
		ORDER BY received_at LIMIT $1`, forwardBatch)
	if err != nil {
		return nil, nil, fmt.Errorf("read the inbox: %w", err)
	}
	defer rows.Close()
	var out []tasks.Trigger
	var unreadable []unreadableTrigger
	for rows.Next() {
		var id, raw string
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, nil, fmt.Errorf("read the inbox: %w", err)
		}
		var t tasks.Trigger
		if err := json.Unmarshal([]byte(raw), &t); err != nil {
			unreadable = append(unreadable, unreadableTrigger{id, fmt.Errorf("read delivery %s in the inbox: %w", id, err)})
			continue
		}
		out = append(out, t)
	}
	return out, unreadable, rows.Err()
}

// moveToInboxEnd makes a delivery's trigger the newest in the inbox.
func (db *DB) moveToInboxEnd(ctx context.Context, deliveryID string) error {
	_, err := db.inbox.ExecContext(ctx, `UPDATE oneshot_inbox SET received_at = $1 WHERE delivery_id = $2`,
		time.Now().UnixMilli(), deliveryID)
	if err != nil {
		return fmt.Errorf("move delivery %s to the inbox's end: %w", deliveryID, err)
	}
	return nil
}

// removeFromInbox removes queued triggers, in one statement so the inbox's
// writer lock is held only a moment.
func (db *DB) removeFromInbox(ctx context.Context, triggers []tasks.Trigger) error {
	params := make([]string, len(triggers))
	args := make([]any, len(triggers))
	for i, t := range triggers {
		params[i] = "$" + strconv.Itoa(i+1)
		args[i] = t.DeliveryID
	}
	_, err := db.inbox.ExecContext(ctx, `DELETE FROM oneshot_inbox
		WHERE delivery_id IN (`+strings.Join(params, ", ")+`)`, args...)
	if err != nil {
		return fmt.Errorf("remove %d queued triggers from the inbox: %w", len(triggers), err)
	}
	return nil
}

package tasks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"
)

// Queue names and limits.
const (
	// QueueIntake holds triggers waiting to be authorised and turned into
	// tasks; intake is quick, so a few workers keep feedback fast.
	QueueIntake = "intake"
	// QueueTasks holds task attempts; Config.Concurrency bounds them.
	QueueTasks = "tasks"

	intakeWorkers = 4
	// intakeTimeout bounds one intake, GitHub calls and their retries included.
	intakeTimeout = 2 * time.Minute
	// intakeMaxAttempts retries an intake that failed (GitHub down, say)
	// with River's backoff, for about a day, before giving up.
	intakeMaxAttempts = 12
	// taskMaxAttempts lets River rescue an attempt whose process died twice
	// before it gives up on it.
	taskMaxAttempts = 3
	// handBackGrace is what an attempt gets beyond its deadline to record
	// how it ended before River cancels it.
	handBackGrace = time.Minute
	// pollInterval is how often workers look for new jobs; SQLite and
	// database/sql have no notifications, so this bounds the wait.
	pollInterval = 100 * time.Millisecond
	// cancelPollInterval is how often a running attempt looks for a cancel
	// requested by another process.
	cancelPollInterval = time.Second
)

// Intake decides what a trigger becomes: a task, a reply, nothing. The
// handlers package implements it. Returning an error retries the trigger.
type Intake interface {
	Intake(ctx context.Context, t Trigger) error
}

// Runner runs one attempt of a task and returns its final state, Succeeded
// or Failed, with a line saying why. Its context ends on cancel, deadline
// or shutdown, and it must return promptly then.
type Runner interface {
	Run(ctx context.Context, t *Task) (State, string, error)
}

// Notifier shows people what became of a task. Every state change of every
// attempt passes through it, so every way an attempt ends is visible.
type Notifier interface {
	Changed(ctx context.Context, t *Task, e Event)
}

// Config configures a Queue.
type Config struct {
	// Concurrency is how many attempts run at once in this process.
	Concurrency int
	// TaskTimeout is the whole-attempt deadline; River's job timeout and
	// stuck-job rescue are derived from it.
	TaskTimeout time.Duration
	Intake      Intake
	Runner      Runner
	Notifier    Notifier
	Logger      zerolog.Logger
}

// Queue runs intake and task attempts on River.
type Queue struct {
	db       *DB
	river    *river.Client[*sql.Tx]
	cfg      Config
	stopping atomic.Bool

	mu      sync.Mutex
	running map[string]context.CancelCauseFunc // attempts running here, by task ID
}

var (
	errCancelRequested = errors.New("cancel requested")
	errTimedOut        = errors.New("task deadline passed")
	errShutdown        = errors.New("the bot is shutting down")
)

// NewQueue makes a queue on db. Start it to run work; an unstarted queue
// still accepts triggers, which is what the webhook path needs.
func NewQueue(db *DB, cfg Config) (*Queue, error) {
	if cfg.Concurrency < 1 || cfg.TaskTimeout <= 0 || cfg.Intake == nil || cfg.Runner == nil || cfg.Notifier == nil {
		return nil, errors.New("tasks: queue config needs concurrency, a task timeout, an intake, a runner and a notifier")
	}
	q := &Queue{db: db, cfg: cfg, running: map[string]context.CancelCauseFunc{}}
	workers := river.NewWorkers()
	river.AddWorker(workers, &intakeWorker{q: q})
	river.AddWorker(workers, &attemptWorker{q: q})
	client, err := river.NewClient(db.driver, &river.Config{
		Queues: map[string]river.QueueConfig{
			QueueIntake: {MaxWorkers: intakeWorkers},
			QueueTasks:  {MaxWorkers: cfg.Concurrency},
		},
		Workers:           workers,
		FetchPollInterval: pollInterval,
		FetchCooldown:     pollInterval / 2,
		// An attempt's own deadline fires first; River's is the backstop.
		JobTimeout: cfg.TaskTimeout + handBackGrace,
		// A job still "running" well past any deadline belonged to a
		// process that died: rescue it, so the attempt resumes.
		RescueStuckJobsAfter: cfg.TaskTimeout + 2*handBackGrace,
		Logger:               slog.New(zerolog.NewSlogHandler(cfg.Logger.Level(max(cfg.Logger.GetLevel(), zerolog.WarnLevel)))),
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	q.river = client
	return q, nil
}

// Start begins working jobs.
func (q *Queue) Start(ctx context.Context) error { return q.river.Start(ctx) }

// Shutdown stops taking work and hands running attempts back to the queue,
// so that the next process to start runs them; it does not drop them. It
// returns when every worker has stopped, or when ctx ends.
func (q *Queue) Shutdown(ctx context.Context) error {
	q.stopping.Store(true)
	q.mu.Lock()
	for _, cancel := range q.running {
		cancel(errShutdown)
	}
	q.mu.Unlock()
	return q.river.Stop(ctx)
}

// Accept makes a trigger durable: it records the delivery and queues the
// trigger in one transaction. It reports false for a delivery seen before,
// which is then not queued again. Call it before acknowledging a webhook.
func (q *Queue) Accept(ctx context.Context, t Trigger) (bool, error) {
	if t.DeliveryID == "" {
		return false, errors.New("a trigger needs a delivery ID")
	}
	accepted := false
	err := q.db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO oneshot_deliveries (delivery_id, event, received_at)
			VALUES ($1, $2, $3) ON CONFLICT (delivery_id) DO NOTHING`, t.DeliveryID, t.Event, time.Now().UnixMilli())
		if err != nil {
			return fmt.Errorf("record delivery %s: %w", t.DeliveryID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // seen before
		}
		if _, err := q.river.InsertTx(ctx, tx, t, nil); err != nil {
			return fmt.Errorf("queue delivery %s: %w", t.DeliveryID, err)
		}
		accepted = true
		return nil
	})
	return accepted, err
}

// Create records a new task and queues its first attempt, in one
// transaction. It fails with ErrLive when the issue has a live task.
func (q *Queue) Create(ctx context.Context, t *Task) error {
	return q.db.tx(ctx, func(tx *sql.Tx) error {
		if err := q.db.Create(ctx, tx, t); err != nil {
			return err
		}
		return q.insertAttempt(ctx, tx, t)
	})
}

// Retry queues the next attempt of a task whose last attempt is over. It
// fails with ErrLive when the task or its issue is busy.
func (q *Queue) Retry(ctx context.Context, id, actor, deliveryID, why string) (*Task, error) {
	var t *Task
	err := q.db.tx(ctx, func(tx *sql.Tx) (err error) {
		if t, err = q.db.NextAttempt(ctx, tx, id, actor, deliveryID, why); err != nil {
			return err
		}
		return q.insertAttempt(ctx, tx, t)
	})
	return t, err
}

func (q *Queue) insertAttempt(ctx context.Context, tx *sql.Tx, t *Task) error {
	if _, err := q.river.InsertTx(ctx, tx, attemptArgs{TaskID: t.ID, Attempt: t.Attempt}, nil); err != nil {
		return fmt.Errorf("queue attempt %d of %s: %w", t.Attempt, t.ID, err)
	}
	return nil
}

// Cancel stops a task's live attempt: a queued one is cancelled at once, a
// running one within a second wherever it runs. It reports whether there
// was a live attempt to cancel.
func (q *Queue) Cancel(ctx context.Context, id, actor string) (bool, error) {
	t, err := q.db.Get(ctx, id)
	if err != nil {
		return false, err
	}
	if t.State == Queued {
		switch err := q.conclude(ctx, t, Queued, Cancelled, "cancelled by "+actor); {
		case err == nil:
			return true, nil
		case !errors.Is(err, ErrNotFound):
			return false, err
		}
		// It started meanwhile: cancel it running.
	}
	live, err := q.db.RequestCancel(ctx, id)
	if err != nil || !live {
		return false, err
	}
	q.mu.Lock()
	if cancel, ok := q.running[id]; ok {
		cancel(errCancelRequested)
	}
	q.mu.Unlock()
	return true, nil
}

// DB is the queue's database.
func (q *Queue) DB() *DB { return q.db }

// conclude moves an attempt from one state to another, if it is still in
// it, and tells the notifier.
func (q *Queue) conclude(ctx context.Context, t *Task, from, to State, detail string) error {
	if err := q.db.transition(ctx, t.ID, t.Attempt, from, to, detail); err != nil {
		return err
	}
	t.State = to
	q.cfg.Notifier.Changed(ctx, t, Event{Attempt: t.Attempt, State: to, Detail: detail, At: time.Now()})
	return nil
}

package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/tasks"
)

// Queue names and limits.
const (
	// QueueIntake holds triggers waiting to be authorised and turned into
	// tasks; intake is quick, so a few workers keep feedback fast.
	QueueIntake = "intake"
	// QueueTasks holds task attempts; Config.Concurrency bounds them.
	QueueTasks = "tasks"
	// QueueResend holds the writes to GitHub the notifier owes (see
	// resend.go), apart from intake: while GitHub fails, they wait out
	// its retries, and new triggers must not wait behind them.
	QueueResend = "resend"

	intakeWorkers = 4
	// intakeTimeout bounds one intake, GitHub calls and their retries included.
	intakeTimeout = 2 * time.Minute
	// intakeMaxAttempts retries an intake that failed (GitHub down, say)
	// with River's backoff, for several hours, before giving up.
	intakeMaxAttempts = 12
	// taskMaxAttempts lets River run an attempt again after its process
	// died mid-run, or its end could not be recorded, once. Its last try
	// does not run the attempt but ends it as failed (see
	// attemptWorker.Work), so no task stays queued or running after River
	// gives up on its job. An error before the attempt runs (the database
	// away) uses up no try: the job waits and tries again (see startLater).
	// A process killed on the last try leaves the job running, which River's
	// rescue would discard; the locks that tell a dead process's jobs give
	// it one more try instead (see readyRunning). Only jobs no lock tells
	// about (a file system without locks, a job an older version took) are
	// still discarded that way; cancelling their task ends it.
	taskMaxAttempts = 3
	// handBackGrace is what an attempt gets beyond its deadline to record
	// how it ended before River cancels it.
	handBackGrace = time.Minute
	// rescueMargin is how long after its deadline a job still running is
	// taken for one whose process died; rescued sooner, a live attempt
	// would run twice at once. Past its deadline a live attempt may still,
	// one after another: open the pull request of a push that just made it
	// (forge's pullRequestTimeout, 2 min); remove its sandbox (sandbox's
	// removeTimeout, 30 s); show its end (pipeline's finishTimeout, 2 min,
	// though it first waits out a progress write already sent, which
	// githubapi's clientTimeout bounds at 2.5 min); record the end and
	// report it (endTimeout, 3 min); and keep a write GitHub did not take
	// (owe: recordEndFor, 1 min). That is 9 minutes; the other 3 are for
	// what no timeout bounds (removing the checkout, a busy host). A change
	// to any of those changes this.
	rescueMargin = 12 * time.Minute
	// stopWait is what workers still stopping when a shutdown's timeout
	// ends get beyond it, to record their hand-back.
	stopWait = time.Minute
	// pollInterval is how often workers look for new jobs; SQLite and
	// database/sql have no notifications, so this bounds the wait.
	pollInterval = 100 * time.Millisecond
	// cancelPollInterval is how often a running attempt looks for a cancel
	// requested by another process.
	cancelPollInterval = time.Second
)

// Config configures a Queue.
type Config struct {
	// Concurrency is how many attempts run at once in this process.
	Concurrency int
	// TaskTimeout is the whole-attempt deadline; River's job timeout and
	// stuck-job rescue are derived from it.
	TaskTimeout time.Duration
	Intake      tasks.Intake
	Runner      tasks.Runner
	Notifier    tasks.Notifier
	Logger      zerolog.Logger
	// ResendWait is the first wait before a write the notifier owes is
	// tried again; resendWait when zero.
	ResendWait time.Duration
	// ConfirmWait is how long after an attempt's end the queue checks
	// that it shows; confirmWait when zero.
	ConfirmWait time.Duration
	// LeftBehind, when set, removes what processes that worked this queue
	// before left outside it: the sandboxes of Owner. Start calls it
	// unless another process may be working beside this one with what it
	// would remove: on SQLite, one that holds the queue's lock (see
	// takeLock); on Postgres, one that holds Owner's lock (see
	// orphans_postgres.go).
	LeftBehind func(ctx context.Context)
	// Owner names whose sandboxes LeftBehind removes (sandbox.owner); it
	// is needed with LeftBehind.
	Owner string
}

// Queue runs intake and task attempts on River. It embeds its database,
// so one value answers both "queue this" and "what became of it".
type Queue struct {
	*DB
	river    *river.Client[*sql.Tx]
	cfg      Config
	stopping atomic.Bool
	// startRetry is startRetryWait, recordFor recordEndFor, and
	// goneCheck goneWorkersCheck, all shorter in tests.
	startRetry, recordFor, goneCheck time.Duration

	accepted       chan struct{}      // wakes the forwarder
	lock           workLock           // the SQLite queue's (see orphans.go)
	liveness       *liveness          // the Postgres queue's (see orphans_postgres.go), else nil
	stopBackground context.CancelFunc // ends the forwarder, and the SQLite watch for gone processes
	backgroundDone chan struct{}

	mu      sync.Mutex
	running map[string]runningAttempt // attempts running here, by task ID
	// unrecorded holds the ends of attempts that ran here but could not
	// be recorded, by attempt (see attemptKey), until they are.
	unrecorded map[string]keptEnd
	// unreadableLog spaces the forwarder's warnings of rows it cannot read.
	unreadableLog failureLog
}

// runningAttempt is an attempt running in this process, and what stops it.
type runningAttempt struct {
	attempt int
	cancel  context.CancelCauseFunc
}

// NewQueue makes a queue on db. Start it to run work; an unstarted queue
// still accepts triggers, which is what the webhook path needs.
func NewQueue(db *DB, cfg Config) (*Queue, error) {
	if cfg.Concurrency < 1 || cfg.TaskTimeout <= 0 || cfg.Intake == nil || cfg.Runner == nil || cfg.Notifier == nil {
		return nil, errors.New("queue: config needs concurrency, a task timeout, an intake, a runner and a notifier")
	}
	if cfg.LeftBehind != nil && cfg.Owner == "" {
		return nil, errors.New("queue: config needs the owner whose sandboxes LeftBehind removes")
	}
	q := &Queue{DB: db, cfg: cfg, startRetry: startRetryWait, recordFor: recordEndFor, goneCheck: goneWorkersCheck,
		running: map[string]runningAttempt{}, unrecorded: map[string]keptEnd{}, accepted: make(chan struct{}, 1),
		unreadableLog: failureLog{every: forwardErrorLogInterval, now: time.Now}}
	var clientID string // River's own on SQLite
	if db.dialect == "postgres" {
		q.liveness = newLiveness()
		clientID = q.liveness.id
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &intakeWorker{q: q})
	river.AddWorker(workers, &attemptWorker{q: q})
	river.AddWorker(workers, &pruneWorker{q: q})
	river.AddWorker(workers, &resendWorker{q: q})
	river.AddWorker(workers, &confirmWorker{q: q})
	client, err := river.NewClient(db.driver, &river.Config{
		ID: clientID,
		PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(pruneInterval),
			func() (river.JobArgs, *river.InsertOpts) { return pruneArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true})},
		Queues: map[string]river.QueueConfig{
			QueueIntake: {MaxWorkers: intakeWorkers},
			QueueTasks:  {MaxWorkers: cfg.Concurrency},
			QueueResend: {MaxWorkers: resendWorkers},
		},
		Workers:           workers,
		FetchPollInterval: pollInterval,
		FetchCooldown:     pollInterval / 2,
		// A job still "running" well past any deadline belonged to a
		// process that died: rescue it, so the attempt resumes. The
		// deadline counts from the same moment, and rescueMargin is what
		// a live attempt may still take past it.
		RescueStuckJobsAfter: cfg.TaskTimeout + rescueMargin,
		Logger:               slog.New(zerolog.NewSlogHandler(cfg.Logger.Level(max(cfg.Logger.GetLevel(), zerolog.WarnLevel)))),
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	q.river = client
	return q, nil
}

// Start begins working jobs, and forwarding accepted triggers to them:
// those waiting from before first.
func (q *Queue) Start(ctx context.Context) error {
	alone := true
	if q.DB.path != "" {
		var err error
		if alone, err = q.takeLock(ctx); err != nil {
			return err
		}
	}
	if q.liveness != nil {
		var err error
		if alone, err = q.takeLiveness(ctx); err != nil {
			return err
		}
	}
	if alone && q.cfg.LeftBehind != nil {
		q.cfg.LeftBehind(ctx)
	}
	if err := q.river.Start(ctx); err != nil {
		q.lock.release()
		q.liveness.release()
		return err
	}
	ctx, q.stopBackground = context.WithCancel(ctx)
	q.backgroundDone = make(chan struct{})
	var background sync.WaitGroup
	background.Go(func() { q.forwardLoop(ctx) })
	if q.DB.path != "" {
		background.Go(func() { q.watchGoneWorkers(ctx) })
	}
	go func() {
		background.Wait()
		close(q.backgroundDone)
	}()
	return nil
}

// Shutdown stops taking work and hands running attempts back to the queue,
// so that the next process to start runs them; it does not drop them. It
// returns when every worker has stopped, or stopWait after ctx ends.
func (q *Queue) Shutdown(ctx context.Context) error {
	q.stopping.Store(true)
	if q.stopBackground != nil {
		// A trigger not forwarded yet waits in the inbox for the next start.
		q.stopBackground()
		<-q.backgroundDone
	}
	q.handBackRunning(tasks.ErrShutdown)
	// The locks go once the workers have stopped: another process would
	// take the jobs still running for a gone process's and run them again.
	// While workers still run, they are held until this process ends.
	letGo := func() {
		q.lock.release()
		q.liveness.release()
	}
	defer q.lock.stopWaiting()
	if q.river.Stop(ctx) == nil {
		wait, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopWait)
		defer cancel()
		q.recordKeptEnds(wait)
		letGo()
		return nil
	}
	// Workers are still at it: attempts recording their hand-back, which
	// must reach the database before it closes or the attempt waits for
	// River's rescue, or an intake. They get stopWait more, the intakes
	// cancelled (River tries them again at the next start).
	q.cfg.Logger.Warn().Stringer("wait", stopWait).Msg("Workers are still stopping; waiting for them a little longer.")
	wait, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopWait)
	defer cancel()
	if err := q.river.StopAndCancel(wait); err != nil {
		return fmt.Errorf("stop the queue: workers still running %v after the shutdown timeout: %w", stopWait, err)
	}
	// In what is left of the same minute: the supervisor is told to wait
	// for the shutdown timeout and that minute, and kills the bot after.
	q.recordKeptEnds(wait)
	letGo()
	return nil
}

// handBackRunning stops the attempts running here, which cause, one of
// tasks.ErrShutdown, hands back to the queue.
func (q *Queue) handBackRunning(cause error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range q.running {
		r.cancel(cause)
	}
}

// Create records a new task and queues its first attempt, in one
// transaction. It fails with tasks.ErrLive when its branch has a live task.
func (q *Queue) Create(ctx context.Context, t *tasks.Task, limits tasks.Limits) error {
	return q.DB.tx(ctx, func(tx *sql.Tx) error {
		if err := q.DB.withinLimits(ctx, tx, t.RepoID, t.Requester, limits); err != nil {
			return err
		}
		if err := q.DB.insertTask(ctx, tx, t); err != nil {
			return err
		}
		return q.insertAttempt(ctx, tx, t)
	})
}

// Retry queues the next attempt of a task whose last attempt is over. It
// fails with tasks.ErrLive when the task or its branch is busy.
func (q *Queue) Retry(ctx context.Context, id string, s tasks.Start) (*tasks.Task, error) {
	var t *tasks.Task
	err := q.DB.tx(ctx, func(tx *sql.Tx) (err error) {
		if t, err = get(ctx, tx, id); err != nil {
			return err
		}
		if err := q.DB.withinLimits(ctx, tx, t.RepoID, s.Actor, s.Limits); err != nil {
			return err
		}
		if t, err = queueNext(ctx, tx, t, s); err != nil {
			return err
		}
		return q.insertAttempt(ctx, tx, t)
	})
	return t, err
}

func (q *Queue) insertAttempt(ctx context.Context, tx *sql.Tx, t *tasks.Task) error {
	if _, err := q.river.InsertTx(ctx, tx, attemptArgs{TaskID: t.ID, Attempt: t.Attempt}, nil); err != nil {
		return fmt.Errorf("queue attempt %d of %s: %w", t.Attempt, t.ID, err)
	}
	return nil
}

// Cancel stops a task's live attempt: a queued one is cancelled at once, a
// running one within a second wherever it runs, and one whose job River no
// longer works at once. It reports whether there was a live attempt to
// cancel.
func (q *Queue) Cancel(ctx context.Context, id, actor string) (bool, error) {
	return q.CancelAttempt(ctx, id, 0, actor)
}

// CancelAttempt is Cancel of one attempt of the task, or of its current
// one when attempt is 0: whoever asked saw that attempt, and a retry may
// have queued the next meanwhile, which nobody asked to cancel.
func (q *Queue) CancelAttempt(ctx context.Context, id string, attempt int, actor string) (bool, error) {
	t, err := q.DB.Get(ctx, id)
	if err != nil {
		return false, err
	}
	if attempt != 0 && t.Attempt != attempt {
		return false, nil
	}
	if t.State == tasks.Queued {
		switch err := q.conclude(ctx, t, tasks.Queued, tasks.Cancelled, "cancelled by "+actor); {
		case err == nil:
			return true, nil
		case !errors.Is(err, tasks.ErrNotFound):
			return false, err
		}
		// It started meanwhile: cancel it running.
	}
	// Of the attempt read above only: a retry may have queued the next
	// one meanwhile, which nobody asked to cancel.
	live, err := q.DB.RequestCancel(ctx, id, t.Attempt)
	if err != nil || !live {
		return false, err
	}
	q.mu.Lock()
	r, here := q.running[id]
	here = here && r.attempt == t.Attempt
	if here {
		r.cancel(tasks.ErrCancelled)
	}
	q.mu.Unlock()
	if here {
		// Taken: the attempt's runner stops, and it may end before the
		// lines below would find its job.
		return true, nil
	}
	// No worker will read the request when River has given up on the job:
	// a task an older bot left running, or one whose end could not be
	// recorded on River's last try.
	working, err := q.jobLive(ctx, t)
	if err != nil || working {
		return working, err
	}
	switch err := q.conclude(ctx, t, tasks.Running, tasks.Cancelled, "cancelled by "+actor); {
	case errors.Is(err, tasks.ErrNotFound):
		return false, nil // it ended meanwhile
	case err != nil:
		return false, err
	}
	return true, nil
}

// jobLive reports whether River still has the job of a task's current
// attempt to work: waiting, running, or to be retried.
func (q *Queue) jobLive(ctx context.Context, t *tasks.Task) (bool, error) {
	res, err := q.river.JobList(ctx, river.NewJobListParams().
		Kinds(attemptArgs{}.Kind()).
		States(rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
			rivertype.JobStateRunning, rivertype.JobStateScheduled).
		Where("args ->> 'task_id' = @task_id", river.NamedArgs{"task_id": t.ID}))
	if err != nil {
		return false, fmt.Errorf("look up the job of %s: %w", t.ID, err)
	}
	for _, job := range res.Jobs {
		var args attemptArgs
		if err := json.Unmarshal(job.EncodedArgs, &args); err == nil && args.Attempt == t.Attempt {
			return true, nil
		}
	}
	return false, nil
}

// conclude moves an attempt from one state to another, if it is still in
// it, and tells the notifier. An end is recorded with a check that it
// shows (see confirmArgs), in one transaction: whatever becomes of this
// process next, the end reaches GitHub.
func (q *Queue) conclude(ctx context.Context, t *tasks.Task, from, to tasks.State, detail string) error {
	e := tasks.Event{Attempt: t.Attempt, State: to, Detail: detail, At: time.Now()}
	var confirm func(*sql.Tx) error
	if to.Final() && t.CheckRunID != 0 {
		confirm = func(tx *sql.Tx) error { return q.confirmLater(ctx, tx, t, e) }
	}
	if err := q.DB.transition(ctx, t, from, to, detail, confirm); err != nil {
		return err
	}
	t.State = to
	notify := ctx
	if to == tasks.Queued {
		// A hand-back, as the bot stops: its job must be put back before
		// the shutdown's time runs out, or the try counts as interrupted.
		// Showing it matters less; the next start shows the attempt running.
		var cancel context.CancelFunc
		notify, cancel = context.WithTimeout(ctx, handBackShowTimeout)
		defer cancel()
	}
	if owed := q.cfg.Notifier.Changed(notify, t, e); owed != nil {
		q.owe(ctx, t, owed)
	}
	return nil
}

// handBackShowTimeout bounds showing a hand-back on its check run, within
// the shutdown's 30 seconds by default.
const handBackShowTimeout = 10 * time.Second

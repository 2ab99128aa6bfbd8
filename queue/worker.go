package queue

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/tasks"
)

// attemptArgs is the River job of one attempt. Unique by task and attempt,
// so an attempt is never queued twice.
type attemptArgs struct {
	TaskID  string `json:"task_id" river:"unique"`
	Attempt int    `json:"attempt" river:"unique"`
}

func (attemptArgs) Kind() string { return "oneshot_attempt" }

func (attemptArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueTasks, MaxAttempts: taskMaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type attemptWorker struct {
	river.WorkerDefaults[attemptArgs]
	q *Queue
}

// Timeout is River's backstop: an attempt's own deadline fires first.
func (w *attemptWorker) Timeout(*river.Job[attemptArgs]) time.Duration {
	return w.q.cfg.TaskTimeout + handBackGrace
}

func (w *attemptWorker) Work(ctx context.Context, job *river.Job[attemptArgs]) error {
	q := w.q
	t, err := q.DB.Get(ctx, job.Args.TaskID)
	if errors.Is(err, tasks.ErrNotFound) {
		return nil
	}
	if err != nil {
		return q.startLater(q.cfg.Logger.With().Str("task_id", job.Args.TaskID).Logger(), err)
	}
	log := q.cfg.Logger.With().Str("task_id", t.ID).Str("repo", t.Repo).Int("issue", t.Issue).
		Str("delivery_id", t.DeliveryID).Int("attempt", job.Args.Attempt).Logger()
	// An attempt that ran here and ended, but whose end the database did
	// not take, is not run again: its end is recorded, unless the task
	// moved on meanwhile, or another process took the attempt over and
	// ran it again, handing it back at its shutdown say.
	kept, ok := q.takeUnrecorded(job.Args.TaskID, job.Args.Attempt)
	if t.Attempt != job.Args.Attempt || t.State.Final() {
		log.Debug().Str("state", string(t.State)).Msg("Skipping an attempt that is no longer current.")
		return nil
	}
	if ok && t.State == tasks.Running && t.Run == kept.task.Run {
		return q.finishAttempt(ctx, kept.task, kept.end, log)
	}
	if ok {
		log.Info().Str("state", string(t.State)).Msg("Another process ran the attempt after it ended here; the end kept here is dropped.")
	}
	// A cancel asked for while no process ran the attempt (it was
	// interrupted, or handed back at a shutdown) was answered as taken:
	// it is, before anything runs again, and before giving up, which
	// would say less of why it ended.
	if requested, err := q.DB.cancelRequested(ctx, t.ID); err != nil {
		return q.startLater(log, err)
	} else if requested {
		if err := q.conclude(ctx, t, t.State, tasks.Cancelled, "cancelled on request"); err != nil && !errors.Is(err, tasks.ErrNotFound) {
			return q.startLater(log, err)
		}
		log.Info().Msg("Cancelled an attempt before it ran again.")
		return nil
	}
	// River's last try comes only after earlier runs of this job ended
	// without recording how the attempt ended: their process died, or
	// the end could not be recorded. Running it again would risk a death
	// River answers by discarding the job, leaving the task queued or
	// running for ever; it ends here instead, where people see it.
	if job.Attempt >= job.MaxAttempts {
		stage := "finish"
		if t.State == tasks.Queued {
			stage = "start"
		}
		detail := fmt.Sprintf("the attempt was interrupted %d times before it could %s (the bot was killed or lost its database), so oneshot gave up on it",
			job.Attempt-1, stage)
		if err := q.conclude(ctx, t, t.State, tasks.Failed, detail); err != nil && !errors.Is(err, tasks.ErrNotFound) {
			return q.startLater(log, err)
		}
		log.Warn().Int("tries", job.Attempt-1).Msg("Gave up on an attempt that kept being interrupted.")
		return nil
	}
	// tasks.Running here means an earlier run of this job never recorded
	// how the attempt ended: River rescued it from a process that died, or
	// retried it after an error.
	detail := "started"
	if t.State == tasks.Running {
		detail = "resumed after the bot restarted"
	}
	if err := q.conclude(ctx, t, t.State, tasks.Running, detail); err != nil {
		if errors.Is(err, tasks.ErrNotFound) {
			return nil // cancelled while it waited
		}
		return q.startLater(log, err)
	}
	log.Info().Msg("Attempt started.")

	// The task's time counts from when this process took the job, the
	// time River's rescue counts from too, whatever the start's report
	// to GitHub cost.
	picked := time.Now()
	if job.AttemptedAt != nil {
		picked = *job.AttemptedAt
	}
	state, detail := q.runAttempt(ctx, t, picked.Add(q.cfg.TaskTimeout), log)
	return q.finishAttempt(ctx, t, attemptEnd{state, detail}, log)
}

// attemptEnd is how an attempt ended.
type attemptEnd struct {
	state  tasks.State
	detail string
}

// keptEnd is the end of an attempt of task that the database did not
// take, kept in this process to record later (see finishAttempt).
type keptEnd struct {
	task *tasks.Task
	end  attemptEnd
}

// finishAttempt records how an attempt ended, and says what becomes of its
// job. An end the database does not take is kept in this process, and the
// job waits to record it: an error would have River run the job again,
// and with it the attempt, whose pull request may be open already. (The
// job waits as scheduled, which another process working a Postgres queue
// may take: it runs the attempt again, as River would have.)
func (q *Queue) finishAttempt(ctx context.Context, t *tasks.Task, end attemptEnd, log zerolog.Logger) error {
	// Recorded even when ctx is over: that is when it matters most.
	recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endTimeout)
	defer cancel()
	err := q.recordEnd(recordCtx, t, end.state, end.detail, log)
	if errors.Is(err, tasks.ErrNotFound) {
		log.Info().Str("state", string(end.state)).Msg("The attempt ended, or another process took it over, before its end here was recorded; that end is dropped.")
		// Not knowing is taken for so: a job that runs again finds an
		// ended attempt ended.
		if now, err := q.DB.Get(recordCtx, t.ID); err != nil || !now.State.Final() && now.Attempt == t.Attempt && now.Run != t.Run {
			// The other process runs the job now, and River changes a
			// running job for whichever process ends it: completed, it
			// would be left for good were that process to die; ready at
			// once, a third would run it beside. It waits as River's
			// rescue would, which ends it then if the other run has, and
			// runs it again if that died.
			return river.JobSnooze(q.cfg.TaskTimeout + rescueMargin)
		}
		return nil
	}
	if err != nil {
		q.mu.Lock()
		q.unrecorded[attemptKey(t.ID, t.Attempt)] = keptEnd{t, end}
		q.mu.Unlock()
		log.Warn().Err(err).Stringer("wait", q.startRetry).Msg("Could not record how the attempt ended; it is kept to record later, not run again.")
		return river.JobSnooze(q.startRetry)
	}
	log.Info().Str("state", string(end.state)).Str("detail", end.detail).Msg("Attempt ended.")
	if end.state == tasks.Queued {
		// Back in the queue at once, without using up an attempt.
		return river.JobSnooze(0)
	}
	return nil
}

// takeUnrecorded returns, and forgets, the end of a task's attempt that
// ran here and could not be recorded.
func (q *Queue) takeUnrecorded(taskID string, attempt int) (keptEnd, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	kept, ok := q.unrecorded[attemptKey(taskID, attempt)]
	delete(q.unrecorded, attemptKey(taskID, attempt))
	return kept, ok
}

// recordKeptEnds tries once more, as the process stops, to record the
// ends it kept, within ctx: lost with it, they would leave their tasks
// running, and the next process would run the attempts again.
func (q *Queue) recordKeptEnds(ctx context.Context) {
	q.mu.Lock()
	kept := maps.Clone(q.unrecorded)
	q.mu.Unlock()
	for key, k := range kept {
		log := q.cfg.Logger.With().Str("task_id", k.task.ID).Int("attempt", k.task.Attempt).Logger()
		err := q.conclude(ctx, k.task, tasks.Running, k.end.state, k.end.detail)
		if err != nil && !errors.Is(err, tasks.ErrNotFound) {
			log.Error().Err(err).Msg("Could not record how the attempt ended before stopping; the next process runs it again.")
			continue
		}
		q.mu.Lock()
		delete(q.unrecorded, key)
		q.mu.Unlock()
		if err != nil {
			log.Info().Msg("The attempt ended, or another process took it over, since it ended here; the end kept here is dropped.")
			continue
		}
		log.Info().Str("state", string(k.end.state)).Msg("Recorded how the attempt ended, as the process stopped.")
	}
}

// attemptKey names a task's attempt.
func attemptKey(taskID string, attempt int) string { return fmt.Sprintf("%s#%d", taskID, attempt) }

// startRetryWait is how long an attempt the database kept from starting
// waits before it tries again.
const startRetryWait = 5 * time.Second

// startLater answers an error met before the attempt runs: the job is
// tried again after q.startRetry without using up one of River's tries,
// which are kept for attempts whose process died. Errors would use them
// up while the database is away, and after the last River would discard
// the job, leaving the task queued for ever.
func (q *Queue) startLater(log zerolog.Logger, err error) error {
	log.Warn().Err(err).Stringer("wait", q.startRetry).Msg("Could not start the attempt; trying again shortly.")
	return river.JobSnooze(q.startRetry)
}

// recordEndFor bounds how long recordEnd tries; endTimeout, the end's
// recording and its report to GitHub together.
const (
	recordEndFor = time.Minute
	endTimeout   = 3 * time.Minute
)

// recordEnd records how an attempt ended, trying again for a while when
// the database fails. The attempt is over, its pull request perhaps open:
// an error returned here has River try the job again, which would run the
// attempt again.
func (q *Queue) recordEnd(ctx context.Context, t *tasks.Task, state tasks.State, detail string, log zerolog.Logger) error {
	// Each try has the whole of ctx, not retryFor's minute: it reports the
	// end to GitHub too.
	return retryFor(ctx, q.recordFor, func(context.Context) error {
		return q.conclude(ctx, t, tasks.Running, state, detail)
	}, func(err error) bool {
		if errors.Is(err, tasks.ErrNotFound) {
			return false
		}
		log.Warn().Err(err).Str("state", string(state)).Msg("Could not record how the attempt ended; trying again.")
		return true
	})
}

// retryFor calls try until it returns nil or an error again refuses,
// waiting 100 ms and then twice as long each time up to 5 s, for at most
// d, and returns try's last error. try's context ends with d.
func retryFor(ctx context.Context, d time.Duration, try func(context.Context) error, again func(error) bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		err := try(ctx)
		if err == nil || !again(err) || sleep(ctx, wait) != nil {
			return err
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// timeLimit is what ends an attempt at its deadline.
func (q *Queue) timeLimit() error {
	return &tasks.TimeLimit{Limit: q.cfg.TaskTimeout, Setting: "the bot's queue.task_timeout"}
}

// errPanicked is how an attempt whose runner panicked ends. What the panic
// said stays in the log: it may hold anything, and the detail is public.
var errPanicked = errors.New("the attempt stopped on an internal error in the bot; the bot's log has the details")

// runAttempt runs the runner under the attempt's deadline and cancel, and
// says how the attempt ended. tasks.Queued means it was handed back at shutdown.
func (q *Queue) runAttempt(ctx context.Context, t *tasks.Task, deadline time.Time, log zerolog.Logger) (tasks.State, string) {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	runCtx, stop := context.WithDeadlineCause(runCtx, deadline, q.timeLimit())
	defer stop()

	q.mu.Lock()
	q.running[t.ID] = runningAttempt{t.Attempt, cancel}
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		delete(q.running, t.ID)
		q.mu.Unlock()
	}()
	// Shutdown may have begun just before this attempt was tracked.
	if q.stopping.Load() {
		cancel(tasks.ErrShutdown)
	}
	stopWatch := q.watchCancel(runCtx, t, cancel)
	state, detail, err := q.run(runCtx, t, log)
	stopWatch()

	// An end the runner reached stands, whatever ended the context as it
	// came: a success's pull request is published, and a failure was
	// already shown, as the runner reports its end before it returns (a
	// shutdown during that report must not run the attempt again). The
	// runner says itself when it was interrupted: it returns no final
	// state then.
	if err == nil && state.Final() {
		return state, detail
	}
	switch cause := context.Cause(runCtx); {
	case errors.Is(err, errPanicked):
		// Before a hand-back: an attempt that panics would panic again.
		return tasks.Failed, err.Error()
	case errors.Is(cause, tasks.ErrTakenOver):
		return tasks.Queued, "stopped: " + tasks.ErrTakenOver.Error()
	case errors.Is(cause, tasks.ErrShutdown) || (ctx.Err() != nil && q.stopping.Load()):
		return tasks.Queued, "handed back to the queue: the bot is shutting down"
	case errors.Is(cause, tasks.ErrCancelled):
		return tasks.Cancelled, "cancelled on request"
	case errors.Is(cause, tasks.ErrDeadline), ctx.Err() != nil:
		return tasks.TimedOut, q.timeLimit().Error()
	case err != nil:
		return tasks.Failed, err.Error()
	default:
		return tasks.Failed, fmt.Sprintf("the attempt ended in state %q", state)
	}
}

// run calls the runner, turning a panic into errPanicked, or into the end
// the runner had reached and shown before it (tasks.PanicAfterEnd). River would
// otherwise take the panic as a failed try and run the attempt again, and
// after its last try leave the task recorded as running for ever.
func (q *Queue) run(ctx context.Context, t *tasks.Task, log zerolog.Logger) (state tasks.State, detail string, err error) {
	defer func() {
		v := recover()
		if ended, ok := v.(*tasks.PanicAfterEnd); ok {
			log.Error().Str("panic", fmt.Sprint(ended.Value)).Str("stack", string(debug.Stack())).Msgf("The attempt panicked after it ended %s; that end stands.", ended.State)
			state, detail, err = ended.State, ended.Detail, nil
		} else if v != nil {
			log.Error().Str("panic", fmt.Sprint(v)).Str("stack", string(debug.Stack())).Msg("The attempt panicked; it ends as failed.")
			state, detail, err = tasks.Failed, "", errPanicked
		}
	}()
	return q.cfg.Runner.Run(ctx, t)
}

// watchCancel polls for a cancel requested by any process, since the one
// that received the request may not be the one running the attempt, and
// for another process taking the attempt over: this one may have lost
// its database for long enough to be taken for gone (see
// orphans_postgres.go), and two runs would push to one branch. The
// returned function stops the watch and waits for it.
func (q *Queue) watchCancel(ctx context.Context, t *tasks.Task, cancel context.CancelCauseFunc) (stop func()) {
	ctx, stopCtx := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(cancelPollInterval)
		defer tick.Stop()
		for {
			// At once, then on every tick: a cancel may have come in
			// while the attempt started.
			requested, run, err := q.DB.runState(ctx, t.ID)
			switch {
			case err != nil:
			case requested:
				cancel(tasks.ErrCancelled)
				return
			case run != t.Run:
				cancel(tasks.ErrTakenOver)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		stopCtx()
		<-done
	}
}

// pruneArgs is the River job that prunes old records (see DB.Prune). It
// runs periodically, on the process River elects leader.
type pruneArgs struct{}

func (pruneArgs) Kind() string { return "oneshot_prune" }

func (pruneArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueIntake, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: pruneInterval}}
}

// pruneInterval is how often old records are pruned.
const pruneInterval = time.Hour

type pruneWorker struct {
	river.WorkerDefaults[pruneArgs]
	q *Queue
}

func (w *pruneWorker) Work(ctx context.Context, _ *river.Job[pruneArgs]) error {
	n, err := w.q.DB.Prune(ctx, time.Now())
	if err != nil {
		return err
	}
	w.q.cfg.Logger.Debug().Int64("records", n).Msg("Pruned old delivery and reply records.")
	return nil
}

package queue

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/oneshot-dev/oneshot/internal/filelock"
)

// A process that dies mid-job leaves its job "running". River rescues such
// jobs only once the longest a live one could run has passed (TaskTimeout
// plus rescueMargin), since on a shared database it cannot tell a dead
// process's job from a live one's. On SQLite one process works the queue,
// and a worker can know it is that one: it holds a lock on a file beside
// the database, which the system lets go when the process ends, however it
// ends. A job still running when the lock is taken was left by a process
// that is gone, so it runs again at once instead of an hour later. On
// Postgres each process holds a lock of its own: see orphans_postgres.go.

// lockRetryInterval is how often a process that found the lock taken
// tries for it again.
const lockRetryInterval = time.Second

// workLock is the SQLite queue's lock, as a Queue holds it or waits for it.
type workLock struct {
	mu   sync.Mutex
	file *os.File // nil while not held
	// worker is this process's own lock (see workers_sqlite.go), nil
	// while not held.
	worker *os.File
	// stop ends the wait for the lock, and done closes when it has ended;
	// both nil when there was no wait.
	stop context.CancelFunc
	done chan struct{}
}

func (l *workLock) hold(f *os.File) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.file = f
}

func (l *workLock) held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.file != nil
}

// takeLock takes the SQLite queue's lock and readies the jobs a dead
// process left running. When another process holds the lock (two bots on
// one file: a rolling update, or a mistake), this one works the queue
// beside it and waits for the lock in the background, and holds it once
// that process ends, so that a process started later does not take this
// one's running jobs for a dead one's; then it readies the jobs of the
// processes that are gone (see tookOver). A lock that cannot be taken at all
// (a file system without locks) leaves the rescue to River, as before
// there was a lock.
//
// It reports whether this process works the queue alone, as far as it can
// tell: false when another holds the lock, whose running sandboxes are
// not this one's to remove.
func (q *Queue) takeLock(ctx context.Context) (alone bool, err error) {
	file, err := lockWorking(q.DB.path)
	if err != nil {
		q.cfg.Logger.Warn().Err(err).Msg("Could not lock the queue; jobs a process left running when it died wait for River's rescue.")
		return true, nil
	}
	// Without its own lock, a process's running jobs would be taken for
	// a gone process's by the next that takes the queue's lock: it must
	// not work the queue at all.
	if err := q.holdWorkerLock(); err != nil {
		if file != nil {
			file.Close()
		}
		return false, err
	}
	switch {
	case file == nil:
		q.cfg.Logger.Warn().Str("lock", lockPath(q.DB.path)).
			Msg("Another process works this queue; this one works beside it and takes its lock when it ends.")
		wait, stop := context.WithCancel(context.WithoutCancel(ctx))
		q.lock.stop, q.lock.done = stop, make(chan struct{})
		go q.awaitLock(wait)
		return false, nil
	}
	q.lock.hold(file)
	n, err := q.readyGoneWorkersJobs(ctx, true)
	if err != nil {
		q.lock.release()
		return false, err
	}
	// After: a file tells its jobs are a gone process's.
	q.sweepWorkerLocks()
	if n > 0 {
		q.cfg.Logger.Info().Int64("jobs", n).Msg("Running again the jobs a process left running when it died.")
	}
	return true, nil
}

// awaitLock tries for the lock until it holds it or ctx ends.
func (q *Queue) awaitLock(ctx context.Context) {
	defer close(q.lock.done)
	tick := time.NewTicker(lockRetryInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if file, err := lockWorking(q.DB.path); err == nil && file != nil {
			q.lock.hold(file)
			q.cfg.Logger.Info().Msg("Took the queue's lock: the process that held it has ended.")
			q.tookOver(ctx)
			return
		}
	}
}

// tookOver clears up after the process whose lock this one took late:
// its sandboxes go, this process's own left alone; and the jobs it left
// running run again, those of others that work the queue beside this one
// left alone (see readyGoneWorkersJobs).
func (q *Queue) tookOver(ctx context.Context) {
	if q.cfg.LeftBehind != nil {
		q.cfg.LeftBehind(ctx)
	}
	n, err := q.readyGoneWorkersJobs(ctx, false)
	q.sweepWorkerLocks()
	if err != nil {
		q.cfg.Logger.Warn().Err(err).Msg("Could not look for the jobs the process that held the lock left running; River's rescue takes them.")
	} else if n > 0 {
		q.cfg.Logger.Info().Int64("jobs", n).Msg("Running again the jobs the process that held the lock left running.")
	}
}

// goneWorkersCheck is how often the process holding the SQLite queue's
// lock looks for jobs left running by a process that worked beside it and
// is gone (one killed in a rolling update, say): nothing else runs them
// again before River's rescue, an hour or more later.
const goneWorkersCheck = 10 * time.Second

// watchGoneWorkers readies, while this process holds the queue's lock, the
// jobs of the processes working beside it that are gone, every goneCheck
// until ctx ends.
func (q *Queue) watchGoneWorkers(ctx context.Context) {
	tick := time.NewTicker(q.goneCheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !q.lock.held() {
			continue // the process holding it looks
		}
		n, err := q.readyGoneWorkersJobs(ctx, false)
		if err != nil && ctx.Err() == nil {
			q.cfg.Logger.Warn().Err(err).Msg("Could not look for jobs left running by processes that are gone.")
		} else if n > 0 {
			q.cfg.Logger.Info().Int64("jobs", n).Msg("Running again the jobs a process working beside this one left running when it died.")
		}
	}
}

// release stops waiting for the lock, and lets it go if held.
func (l *workLock) release() {
	l.stopWaiting()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		l.file.Close()
		l.file = nil
	}
	if l.worker != nil {
		// Gone first, so that no file is left that another could take
		// for this process's while it still holds the lock.
		os.Remove(l.worker.Name())
		l.worker.Close()
		l.worker = nil
	}
}

// stopWaiting stops waiting for the lock, keeping the locks held.
func (l *workLock) stopWaiting() {
	if l.stop != nil {
		l.stop()
		<-l.done
		l.stop = nil
	}
}

// lockPath is the file whose lock says a process works the queue in the
// SQLite database at path.
func lockPath(path string) string { return path + ".lock" }

// lockWorking takes the lock that says this process works the queue in the
// SQLite database at path. It returns nil, nil when another process holds
// it; closing the file lets the lock go.
func lockWorking(path string) (*os.File, error) {
	f, err := filelock.TryLock(lockPath(path))
	if err != nil {
		return nil, fmt.Errorf("the queue's lock: %w", err)
	}
	return f, nil
}

// lastTaker is the SQL for the River client that last took a job: River
// appends each one that takes it to attempted_by, an array on Postgres and
// a JSON array on SQLite.
func (db *DB) lastTaker() string {
	if db.dialect == "postgres" {
		return `attempted_by[array_length(attempted_by, 1)]`
	}
	return `json_extract(attempted_by, '$[#-1]')`
}

// runningJobsTakers is the River client that last took each running job,
// once each.
func (q *Queue) runningJobsTakers(ctx context.Context) ([]string, error) {
	taker := q.DB.lastTaker()
	rows, err := q.DB.sql.QueryContext(ctx, `SELECT DISTINCT `+taker+` FROM river_job
		WHERE state = 'running' AND `+taker+` IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("list running jobs: %w", err)
	}
	defer rows.Close()
	var takers []string
	for rows.Next() {
		var taker string
		if err := rows.Scan(&taker); err != nil {
			return nil, err
		}
		takers = append(takers, taker)
	}
	return takers, rows.Err()
}

// readyTakersJobs makes ready to run the running jobs that taker, a River
// client, took last, and says how many.
func (db *DB) readyTakersJobs(ctx context.Context, taker string) (int64, error) {
	n, err := db.readyRunning(ctx, ` AND `+db.lastTaker()+` = $3`, taker)
	if err != nil {
		return 0, fmt.Errorf("ready the jobs of %s: %w", taker, err)
	}
	return n, nil
}

// readyRunning makes ready to run the running jobs that and, a condition
// on $3 and on, further selects, as River's rescue would, and says how
// many.
//
// The next run counts as one more of a job's tries. A job already on its
// last is given one more, where River's rescue would discard it, leaving
// whoever asked waiting on nothing. That next run does not do the job
// again but ends it visibly: an attempt's ends its task as failed (see
// attemptWorker.Work), an intake's tells whoever asked that it was not
// taken (see intakeWorker.Work); run again, an intake that kills the bot
// would do so at every start. An intake's answering try, killed too, is
// not given another.
func (db *DB) readyRunning(ctx context.Context, and string, args ...any) (int64, error) {
	greatest := "max" // of two values, in SQLite
	if db.dialect == "postgres" {
		greatest = "GREATEST"
	}
	oneMore := `(kind = $1 OR (kind = $2 AND attempt <= ` + fmt.Sprint(intakeMaxAttempts) + `))`
	res, err := db.sql.ExecContext(ctx, `UPDATE river_job SET state = 'available',
		max_attempts = CASE WHEN `+oneMore+` THEN `+greatest+`(max_attempts, attempt + 1) ELSE max_attempts END
		WHERE state = 'running' AND (attempt < max_attempts OR `+oneMore+`)`+and,
		append([]any{attemptArgs{}.Kind(), intakeArgs{}.Kind()}, args...)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

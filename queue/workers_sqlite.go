package queue

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/oneshot-dev/oneshot/internal/filelock"
)

// Beside the SQLite queue's lock, each process that works the queue holds
// a lock of its own, on a file named for its River client ID in a directory
// beside the database (oneshot.db.workers), as each holds one on Postgres
// (see orphans_postgres.go). River writes that ID on every job the process
// takes, and the system lets the lock go when the process ends, however it
// ends: a running job whose last taker's lock is free was left by a
// process that is gone, whoever else works the queue beside it.

// workersDir holds the locks of the processes working the SQLite queue in
// the database at path.
func workersDir(path string) string { return path + ".workers" }

// workerFile is the file a process whose River client ID is clientID
// locks while it works the queue.
func workerFile(path, clientID string) string {
	return filepath.Join(workersDir(path), hex.EncodeToString([]byte(clientID)))
}

// holdWorkerLock takes this process's own lock. A sweep of the files of
// processes that are gone (see sweepWorkerLocks) may hold a file a moment,
// or remove it between its making and its lock: the lock is taken again
// until the file locked is the one at its name.
func (q *Queue) holdWorkerLock() error {
	if err := os.MkdirAll(workersDir(q.DB.path), 0o700); err != nil {
		return fmt.Errorf("this process's lock: %w", err)
	}
	path := workerFile(q.DB.path, q.river.ID())
	for try := 1; try <= 5; try++ {
		f, err := filelock.TryLock(path)
		if err != nil {
			return fmt.Errorf("this process's lock: %w", err)
		}
		if f != nil && lockedAt(f, path) {
			q.lock.mu.Lock()
			q.lock.worker = f
			q.lock.mu.Unlock()
			return nil
		}
		if f != nil {
			f.Close()
		}
		time.Sleep(time.Duration(try) * 10 * time.Millisecond)
	}
	return fmt.Errorf("this process's lock %s is held by another", path)
}

// lockedAt says whether f is the file now at path.
func lockedAt(f *os.File, path string) bool {
	locked, err := f.Stat()
	if err != nil {
		return false
	}
	named, err := os.Stat(path)
	return err == nil && os.SameFile(locked, named)
}

// sweepWorkerLocks removes the files of processes that are gone, which
// ended without removing theirs (killed, say, with no job running).
func (q *Queue) sweepWorkerLocks() {
	entries, err := os.ReadDir(workersDir(q.DB.path))
	if err != nil {
		return
	}
	own := filepath.Base(workerFile(q.DB.path, q.river.ID()))
	for _, e := range entries {
		if e.Name() == own {
			continue
		}
		path := filepath.Join(workersDir(q.DB.path), e.Name())
		if f, err := filelock.TryLockExisting(path); err == nil && f != nil {
			os.Remove(path)
			f.Close()
		}
	}
}

// readyGoneWorkersJobs makes ready to run the running jobs whose last
// taker's lock is free, and says how many. With unknownToo, it makes
// ready those whose taker is not known as well (none is written, as by an
// older version): only a process that takes the queue's lock as it starts
// may take them for a gone process's, as none can be its own.
func (q *Queue) readyGoneWorkersJobs(ctx context.Context, unknownToo bool) (int64, error) {
	takers, err := q.runningJobsTakers(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, taker := range takers {
		if taker == q.river.ID() || q.workerAlive(taker) {
			continue
		}
		readied, err := q.DB.readyTakersJobs(ctx, taker)
		if err != nil {
			return n, err
		}
		n += readied
	}
	if unknownToo {
		readied, err := q.DB.readyRunning(ctx, ` AND attempted_by IS NULL`)
		if err != nil {
			return n, fmt.Errorf("ready the jobs a dead process left running: %w", err)
		}
		n += readied
	}
	return n, nil
}

// workerAlive says whether the process whose River client ID is taker
// holds its lock. One whose lock this one can take is gone; its file goes.
// When that cannot be told, as for a process with no file (of a version
// before these locks), it is taken for alive: its jobs wait for River's
// rescue.
func (q *Queue) workerAlive(taker string) bool {
	path := workerFile(q.DB.path, taker)
	f, err := filelock.TryLockExisting(path)
	if err != nil || f == nil {
		return true
	}
	os.Remove(path)
	f.Close()
	return false
}

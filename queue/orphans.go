package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// A process that dies mid-job leaves its job "running". River rescues such
// jobs only once the longest a live one could run has passed (TaskTimeout
// plus rescueMargin), since on a shared database it cannot tell a dead
// process's job from a live one's. On SQLite one process works the queue,
// and a worker can know it is that one: it holds a lock on a file beside
// the database, which the system lets go when the process ends, however it
// ends. A job still running when the lock is taken was left by a process
// that is gone, so it runs again at once instead of an hour later.

// lockPath is the file whose lock says a process works the queue in the
// SQLite database at path.
func lockPath(path string) string { return path + ".lock" }

// lockWorking takes the lock that says this process works the queue in the
// SQLite database at path. It returns nil, nil when another process holds
// it; closing the file lets the lock go.
func lockWorking(path string) (*os.File, error) {
	f, err := os.OpenFile(lockPath(path), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the queue's lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("lock %s: %w", lockPath(path), err)
	}
	return f, nil
}

// readyOrphans makes the jobs a dead process left running ready to run,
// as River's rescue would, and says how many. The next run counts as one
// more of a job's tries, so a job already on its last is left to River's
// rescue. It must only be called with the lock held.
func (db *DB) readyOrphans(ctx context.Context) (int64, error) {
	res, err := db.sql.ExecContext(ctx, `UPDATE river_job SET state = 'available'
		WHERE state = 'running' AND attempt < max_attempts`)
	if err != nil {
		return 0, fmt.Errorf("ready the jobs a dead process left running: %w", err)
	}
	return res.RowsAffected()
}

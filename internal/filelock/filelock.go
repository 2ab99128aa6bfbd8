// Package filelock takes exclusive locks on files, as flock does: the
// system lets a lock go when the file is closed or the process ends,
// however it ends, so a lock held is a process alive.
package filelock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// TryLock takes the lock on the file at path, creating the file. It
// returns nil, nil when another holder has it; closing the file lets it go.
func TryLock(path string) (*os.File, error) { return tryLock(path, os.O_CREATE) }

// TryLockExisting is TryLock for a file that must exist: it fails with an
// error that is fs.ErrNotExist when it does not.
func TryLockExisting(path string) (*os.File, error) { return tryLock(path, 0) }

func tryLock(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|flag, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// pollInterval is how often Lock tries again.
const pollInterval = 100 * time.Millisecond

// Lock takes the lock on the file at path, waiting for it at most wait or
// until ctx ends.
func Lock(ctx context.Context, path string, wait time.Duration) (*os.File, error) {
	giveUp := time.After(wait)
	for {
		f, err := TryLock(path)
		if f != nil || err != nil {
			return f, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for %s: %w", path, context.Cause(ctx))
		case <-giveUp:
			return nil, fmt.Errorf("%s is still held by another after %v", path, wait)
		case <-time.After(pollInterval):
		}
	}
}

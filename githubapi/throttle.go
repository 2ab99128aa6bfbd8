package githubapi

import (
	"context"
	"sync"
	"time"
)

// MinWriteGap is the least time between two content-creating requests
// (POST, PATCH) of one task. GitHub asks integrations to space such writes
// to stay clear of its secondary rate limits.
const MinWriteGap = 2 * time.Second

// Throttle spaces the writes of each task. Everything that writes on a
// task's behalf (the queue's notifier, the pipeline's reporter) goes
// through the same Throttle.
type Throttle struct {
	mu    sync.Mutex
	slots map[string]*slot
}

type slot struct {
	mu   sync.Mutex
	last time.Time
}

// Do waits for the task's turn, runs write, and starts the task's next
// gap. It gives up waiting when ctx ends. A nil Throttle does not wait.
func (t *Throttle) Do(ctx context.Context, taskID string, write func() error) error {
	if t == nil {
		return write()
	}
	s := t.slot(taskID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if wait := MinWriteGap - time.Since(s.last); wait > 0 {
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
	}
	err := write()
	s.last = time.Now()
	return err
}

// slot returns a task's slot, dropping slots whose gap has long passed.
func (t *Throttle) slot(taskID string) *slot {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.slots == nil {
		t.slots = map[string]*slot{}
	}
	for id, s := range t.slots {
		if id != taskID && s.mu.TryLock() {
			if time.Since(s.last) > time.Minute {
				delete(t.slots, id)
			}
			s.mu.Unlock()
		}
	}
	s, ok := t.slots[taskID]
	if !ok {
		s = &slot{}
		t.slots[taskID] = s
	}
	return s
}

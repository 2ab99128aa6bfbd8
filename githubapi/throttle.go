package githubapi

import (
	"context"
	"sync"
	"time"
)

// The least time between two writes of one task. Writes that create
// content (comments, pull requests, labels, review requests) count against
// GitHub's tightest secondary limit, so they are spaced widest, whoever
// makes them. Otherwise progress reports are spaced among themselves, and
// the task's other writes among themselves: a report just written does not
// hold back the pull request, which is what people wait for.
const (
	MinWriteGap  = time.Second
	MinCreateGap = 2 * time.Second
)

// Write says how one write takes its place among its task's writes.
type Write struct {
	// Creates is set for a request that makes new content; editing what
	// exists, such as a check run or a comment, does not.
	Creates bool
	// Report is set for a progress report, which lets the task's other
	// waiting writes go first.
	Report bool
}

// Throttle spaces the writes of each task. Everything that writes on a
// task's behalf (the queue's notifier, the pipeline's reporter and its
// forge) goes through the same Throttle.
//
// Progress reports give way: when a turn comes, any other waiting write of
// the task takes it first. A report shows only the latest state, so it
// loses nothing by waiting, while the pull request is what people wait for.
// A report that holds the turn gives way too: once another write waits for
// it, the report stops waiting to retry (on GitHub's Retry-After, say), and
// the next report shows what it would have.
type Throttle struct {
	mu    sync.Mutex
	slots map[string]*slot
}

// slot is one task's turn, guarded by the Throttle's mutex. Writers that
// cannot go yet wait for changed, which is closed and replaced whenever
// the turn may have become theirs.
type slot struct {
	busy        bool
	last        time.Time // the end of the latest write that is not a report
	lastReport  time.Time // the end of the latest report
	lastCreated time.Time // the end of the latest write that created content
	waiting     int       // writers waiting for the turn
	writes      int       // of them, those that are not reports
	changed     chan struct{}
	giveWay     context.CancelFunc // ends the waits of a report that holds the turn
}

// Do waits for the task's turn, runs write, and starts the task's next
// gap. It gives up waiting when ctx ends. A nil Throttle does not wait.
//
// write makes its requests with the context it is given: for a report,
// one whose waits (see WithWaits) end when another write of the task
// waits for the turn.
func (t *Throttle) Do(ctx context.Context, taskID string, w Write, write func(context.Context) error) error {
	if t == nil {
		return write(ctx)
	}
	s, err := t.take(ctx, taskID, w)
	if err != nil {
		return err
	}
	// Deferred, so that a write that panics still lets the task's next
	// writes, its final report's among them, take their turn.
	defer t.release(s, w)
	if w.Report {
		waits, giveWay := context.WithCancel(waitsOf(ctx))
		defer giveWay()
		ctx = WithWaits(ctx, waits)
		t.mu.Lock()
		s.giveWay = giveWay
		if s.writes > 0 { // one came since the turn was taken
			giveWay()
		}
		t.mu.Unlock()
	}
	return write(ctx)
}

// release ends a write's turn and starts the task's next gap.
func (t *Throttle) release(s *slot, w Write) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s.busy, s.giveWay = false, nil
	now := time.Now()
	if w.Report {
		s.lastReport = now
	} else {
		s.last = now
	}
	if w.Creates {
		s.lastCreated = now
	}
	s.wake()
}

// take waits until the turn is free, the gap has passed and no write goes
// before this one, then takes the turn.
func (t *Throttle) take(ctx context.Context, taskID string, w Write) (*slot, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.slot(taskID)
	s.waiting++
	if !w.Report {
		s.writes++
		if s.giveWay != nil {
			s.giveWay()
		}
	}
	defer func() {
		s.waiting--
		if !w.Report {
			s.writes--
			s.wake() // reports may go now
		}
	}()
	for {
		gap := MinWriteGap - time.Since(s.last)
		if w.Report {
			gap = MinWriteGap - time.Since(s.lastReport)
		}
		if w.Creates {
			gap = max(gap, MinCreateGap-time.Since(s.lastCreated))
		}
		if !s.busy && gap <= 0 && (!w.Report || s.writes == 0) {
			s.busy = true
			return s, nil
		}
		if s.busy {
			gap = 0 // the writer's end wakes us; its gap starts then
		}
		changed := s.changed
		t.mu.Unlock()
		err := waitChange(ctx, changed, gap)
		t.mu.Lock()
		if err != nil {
			return nil, err
		}
	}
}

// waitChange waits until changed is closed or, when d > 0, d has passed.
func waitChange(ctx context.Context, changed <-chan struct{}, d time.Duration) error {
	var elapsed <-chan time.Time
	if d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		elapsed = timer.C
	}
	waits := waitsOf(ctx)
	select {
	case <-changed:
	case <-elapsed:
	case <-ctx.Done():
		return ctx.Err()
	case <-waits.Done():
		return waits.Err()
	}
	return nil
}

func (s *slot) wake() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// slot returns a task's slot, dropping idle slots whose gap has long
// passed. The caller holds t.mu.
func (t *Throttle) slot(taskID string) *slot {
	if t.slots == nil {
		t.slots = map[string]*slot{}
	}
	for id, s := range t.slots {
		idle := time.Since(s.last) > time.Minute && time.Since(s.lastReport) > time.Minute
		if !s.busy && s.waiting == 0 && idle {
			delete(t.slots, id)
		}
	}
	s, ok := t.slots[taskID]
	if !ok {
		s = &slot{changed: make(chan struct{})}
		t.slots[taskID] = s
	}
	return s
}

package githubapi

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// writeLog records the order and times of a test's writes.
type writeLog struct {
	mu    sync.Mutex
	names []string
	times []time.Time
}

func (l *writeLog) write(name string) func(context.Context) error {
	return func(context.Context) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.names = append(l.names, name)
		l.times = append(l.times, time.Now())
		return nil
	}
}

// hold takes the task's turn with a write that lasts until release is
// called.
func hold(t *testing.T, th *Throttle, taskID string, log *writeLog) (release func()) {
	t.Helper()
	holding, done := make(chan struct{}), make(chan struct{})
	go func() {
		_ = th.Do(context.Background(), taskID, Write{}, func(ctx context.Context) error {
			close(holding)
			<-done
			return log.write("holder")(ctx)
		})
	}()
	<-holding
	return func() { close(done) }
}

// waitWaiting waits until n writers wait for the task's turn.
func waitWaiting(t *testing.T, th *Throttle, taskID string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		th.mu.Lock()
		got := th.slots[taskID].waiting
		th.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writers wait, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestAWriteGoesBeforeAReportThatWaitedLonger(t *testing.T) {
	var th Throttle
	var log writeLog
	release := hold(t, &th, "task", &log)

	errs := make(chan error, 2)
	go func() { errs <- th.Do(context.Background(), "task", Write{Report: true}, log.write("report")) }()
	waitWaiting(t, &th, "task", 1)
	go func() { errs <- th.Do(context.Background(), "task", Write{Creates: true}, log.write("pull request")) }()
	waitWaiting(t, &th, "task", 2)
	release()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	if want := []string{"holder", "pull request", "report"}; !slices.Equal(log.names, want) {
		t.Fatalf("writes went %v, want %v", log.names, want)
	}
	if gap := log.times[1].Sub(log.times[0]); gap < MinWriteGap {
		t.Errorf("the pull request went %v after the holder", gap)
	}
}

func TestAWriteThatGivesUpLetsTheReportsGo(t *testing.T) {
	var th Throttle
	var log writeLog
	release := hold(t, &th, "task", &log)

	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- th.Do(ctx, "task", Write{}, log.write("given up")) }()
	waitWaiting(t, &th, "task", 1)
	reported := make(chan error, 1)
	go func() { reported <- th.Do(context.Background(), "task", Write{Report: true}, log.write("report")) }()
	waitWaiting(t, &th, "task", 2)

	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled write returned %v", err)
	}
	release()
	select {
	case err := <-reported:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the report still waits for a write that gave up")
	}
	if want := []string{"holder", "report"}; !slices.Equal(log.names, want) {
		t.Fatalf("writes went %v, want %v", log.names, want)
	}
}

func TestTasksDoNotWaitForEachOther(t *testing.T) {
	var th Throttle
	var log writeLog
	release := hold(t, &th, "one", &log)
	defer release()
	if err := th.Do(context.Background(), "two", Write{}, log.write("two")); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(log.names, []string{"two"}) {
		t.Fatalf("writes went %v", log.names)
	}
}

// In a bubble of fake time, each write goes exactly when its gap ends.
func TestEachKindOfWriteKeepsItsGap(t *testing.T) {
	synctest.Test(t, eachKindOfWriteKeepsItsGap)
}

func eachKindOfWriteKeepsItsGap(t *testing.T) {
	var th Throttle
	var log writeLog
	ctx := context.Background()
	report, edit, create := Write{Report: true}, Write{}, Write{Creates: true}
	steps := []struct {
		name string
		w    Write
		want time.Duration // after the first write
	}{
		{"status comment", Write{Report: true, Creates: true}, 0},
		// Other writes are not held back by a report.
		{"check run state", edit, 0},
		// Reports are spaced among themselves.
		{"check run output", report, MinWriteGap},
		// Creations are spaced widest, whoever made them.
		{"pull request", create, MinCreateGap},
		{"labels", create, 2 * MinCreateGap},
		// An edit after a creation needs only the shorter gap.
		{"pull request edit", edit, 2*MinCreateGap + MinWriteGap},
	}
	for _, s := range steps {
		if err := th.Do(ctx, "task", s.w, log.write(s.name)); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range steps {
		if at := log.times[i].Sub(log.times[0]); at != s.want {
			t.Errorf("%s went %v after the first write, want %v", s.name, at, s.want)
		}
	}
}

func TestAReportWaitingToRetryGivesWayToTheTasksNextWrite(t *testing.T) {
	var th Throttle
	var log writeLog
	retrying := make(chan struct{})
	reported := make(chan error, 1)
	go func() {
		reported <- th.Do(context.Background(), "task", Write{Report: true}, func(ctx context.Context) error {
			close(retrying)
			return sleep(ctx, time.Hour) // as the client waits out GitHub's Retry-After
		})
	}()
	<-retrying

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := th.Do(ctx, "task", Write{Creates: true}, log.write("pull request")); err != nil {
		t.Fatalf("the pull request waited for a report's retry: %v", err)
	}
	if err := <-reported; !errors.Is(err, context.Canceled) {
		t.Fatalf("the report returned %v, want its wait ended", err)
	}
}

package queue

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/tasks"
)

// failingIntake fails every trigger and records those it gave up on.
type failingIntake struct{ gaveUp []error }

func (f *failingIntake) Intake(context.Context, tasks.Trigger) error {
	return errors.New("github is down")
}
func (f *failingIntake) GiveUp(_ context.Context, _ tasks.Trigger, err error) {
	f.gaveUp = append(f.gaveUp, err)
}

func TestATriggerWhoseLastTryFailsIsGivenUpVisibly(t *testing.T) {
	t.Parallel()
	intake := &failingIntake{}
	w := &intakeWorker{q: &Queue{cfg: Config{Intake: intake, Logger: zerolog.Nop()}}}
	job := func(attempt int) *river.Job[intakeArgs] {
		return &river.Job[intakeArgs]{
			JobRow: &rivertype.JobRow{Attempt: attempt, MaxAttempts: intakeMaxAttempts},
			Args:   intakeArgs{tasks.Trigger{DeliveryID: "d1", Repo: "acme/widgets", Issue: 1, Actor: "writer"}},
		}
	}
	if err := w.Work(context.Background(), job(intakeMaxAttempts-1)); err == nil || len(intake.gaveUp) != 0 {
		t.Fatalf("a try with more to come: err %v, gave up %d times", err, len(intake.gaveUp))
	}
	if err := w.Work(context.Background(), job(intakeMaxAttempts)); err == nil {
		t.Fatal("the last try's failure was not returned")
	}
	if len(intake.gaveUp) != 1 || intake.gaveUp[0].Error() != "github is down" {
		t.Fatalf("gave up %v, want once, with the last try's error", intake.gaveUp)
	}
}

// An intake that panics would panic again at every try, for hours, while
// whoever asked waits on nothing: they are told at its first, and River
// tries it no more. One that panicked after it queued an attempt, which
// runs, tells nobody that nothing runs.
func TestATriggerWhoseIntakePanicsIsGivenUpAtOnce(t *testing.T) {
	t.Parallel()
	for _, queuedFirst := range []bool{false, true} {
		q := unstartedQueue(t, "sqlite:"+filepath.Join(t.TempDir(), "oneshot.db"))
		intake := &panickingIntake{}
		q.cfg.Intake = intake
		if queuedFirst {
			task := &tasks.Task{ID: tasks.NewID(), Repo: "acme/widgets", RepoID: 1, Issue: 1, Kind: tasks.KindIssue,
				Requester: "writer", DeliveryID: "d1", Attempt: 1, State: tasks.Queued}
			if err := q.Create(context.Background(), task, tasks.Limits{}); err != nil {
				t.Fatal(err)
			}
		}
		job := &river.Job[intakeArgs]{
			JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: intakeMaxAttempts},
			Args:   intakeArgs{tasks.Trigger{DeliveryID: "d1", Repo: "acme/widgets", Issue: 1, Actor: "writer"}},
		}
		err := (&intakeWorker{q: q}).Work(context.Background(), job)
		var cancelled *river.JobCancelError
		if !errors.As(err, &cancelled) {
			t.Fatalf("err %v, want River told to try it no more", err)
		}
		if want := map[bool]int{false: 1, true: 0}[queuedFirst]; len(intake.gaveUp) != want {
			t.Errorf("attempt queued before the panic %v: gave up %d times, want %d", queuedFirst, len(intake.gaveUp), want)
		}
	}
}

// panickingIntake panics at every trigger.
type panickingIntake struct{ failingIntake }

func (*panickingIntake) Intake(context.Context, tasks.Trigger) error { panic("a nil map") }

// A last try the shutdown cut short is not the last: River takes it for no
// try, and the next process makes it again. Told it was dropped, whoever
// asked would then see it run.
func TestALastTryTheShutdownCutShortIsNotGivenUp(t *testing.T) {
	t.Parallel()
	intake := &cutShortIntake{}
	q := &Queue{cfg: Config{Intake: intake, Logger: zerolog.Nop()}}
	q.stopping.Store(true)
	w := &intakeWorker{q: q}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	job := &river.Job[intakeArgs]{
		JobRow: &rivertype.JobRow{Attempt: intakeMaxAttempts, MaxAttempts: intakeMaxAttempts},
		Args:   intakeArgs{tasks.Trigger{DeliveryID: "d1", Repo: "acme/widgets", Issue: 1, Actor: "writer"}},
	}
	if err := w.Work(ctx, job); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want the cancellation passed on to River", err)
	}
	if intake.gaveUp != 0 {
		t.Fatal("the trigger was given up though the next process tries it again")
	}
}

// cutShortIntake fails as an intake the shutdown cancelled does.
type cutShortIntake struct{ gaveUp int }

func (c *cutShortIntake) Intake(ctx context.Context, _ tasks.Trigger) error {
	return fmt.Errorf("look up the permission: %w", ctx.Err())
}
func (c *cutShortIntake) GiveUp(context.Context, tasks.Trigger, error) { c.gaveUp++ }

// A try the shutdown cut short counts as none, and River takes the job
// again at attempt 1; what that try made on GitHub is looked for all the
// same.
func TestAnIntakeTakenAgainAfterAShutdownIsARetriedOne(t *testing.T) {
	t.Parallel()
	intake := &retriedIntake{}
	w := &intakeWorker{q: &Queue{cfg: Config{Intake: intake, Logger: zerolog.Nop()}}}
	for _, tc := range []struct {
		attempt int
		by      []string
		want    bool
	}{
		{1, []string{"first"}, false},
		{1, []string{"stopped", "next"}, true},
		{2, []string{"failed", "next"}, true},
	} {
		job := &river.Job[intakeArgs]{
			JobRow: &rivertype.JobRow{Attempt: tc.attempt, AttemptedBy: tc.by, MaxAttempts: intakeMaxAttempts},
			Args:   intakeArgs{tasks.Trigger{DeliveryID: "d1", Repo: "acme/widgets", Issue: 1, Actor: "writer"}},
		}
		if err := w.Work(context.Background(), job); err != nil {
			t.Fatal(err)
		}
		if intake.retried != tc.want {
			t.Errorf("attempt %d taken by %v: retried %v, want %v", tc.attempt, tc.by, intake.retried, tc.want)
		}
	}
}

// retriedIntake records whether its last intake was a retried one.
type retriedIntake struct{ retried bool }

func (r *retriedIntake) Intake(ctx context.Context, _ tasks.Trigger) error {
	r.retried = tasks.IsRetried(ctx)
	return nil
}
func (r *retriedIntake) GiveUp(context.Context, tasks.Trigger, error) {}

package queue_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/queue"
	"github.com/oneshot-dev/oneshot/tasks"
)

func TestTheSameDeliveryIsAcceptedOnce(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, time.Minute)
		trigger := tasks.Trigger{DeliveryID: "delivery-1", Event: "issues", Command: tasks.CommandStart, Repo: "o/r", Issue: 1}
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted := 0
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := b.queue.Accept(context.Background(), trigger)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					accepted++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if accepted != 1 {
			t.Fatalf("accepted %d of 50 copies", accepted)
		}
		start(t, b.queue)
		waitFor(t, 30*time.Second, "the intake", func() bool { return b.intake.count() == 1 })
	})
}

func TestAnAcceptedTriggerSurvivesARestart(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, time.Minute)
		// The first process accepts and dies before its workers start.
		if ok, err := b.queue.Accept(context.Background(), tasks.Trigger{DeliveryID: "d-restart", Event: "issues"}); !ok || err != nil {
			t.Fatalf("accept: %v %v", ok, err)
		}
		start(t, b.newQueue(t, time.Minute))
		waitFor(t, 30*time.Second, "the intake after the restart", func() bool { return b.intake.count() == 1 })
	})
}

func TestABranchHasAtMostOneLiveTask(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, time.Minute)
		ctx := context.Background()
		issue := b.create(t, "o/r", 7)
		if err := b.queue.Create(ctx, newTask("o/r", 7), tasks.Limits{}); !errors.Is(err, tasks.ErrLive) {
			t.Fatalf("a second task on the issue: %v, want ErrLive", err)
		}
		if err := b.queue.Create(ctx, newTask("o/r", 8), tasks.Limits{}); err != nil {
			t.Fatalf("another issue: %v", err)
		}

		// Pull request 9 was opened for issue 7: a follow-up on it changes
		// the issue's branch.
		followUp := newTask("o/r", 9)
		followUp.Kind, followUp.PullRequest, followUp.BranchIssue, followUp.DeliveryID = tasks.KindFollowUp, 9, 7, "d-follow-up"
		followUp.ReviewID = 11
		if err := b.queue.Create(ctx, followUp, tasks.Limits{}); !errors.Is(err, tasks.ErrLive) {
			t.Fatalf("a follow-up on the branch of a live task: %v, want ErrLive", err)
		}
		if _, err := b.queue.Cancel(ctx, issue.ID, "octocat"); err != nil {
			t.Fatal(err)
		}
		if err := b.queue.Create(ctx, followUp, tasks.Limits{}); err != nil {
			t.Fatalf("the follow-up once the issue's task ended: %v", err)
		}
		if live, err := b.queue.Live(ctx, repoID("o/r"), 7); err != nil || live.ID != followUp.ID || live.ReviewID != 11 {
			t.Fatalf("the live task on issue 7's branch: %+v, %v; want the follow-up of review 11", live, err)
		}
		if _, err := b.queue.Retry(ctx, issue.ID, tasks.Start{Actor: "octocat", DeliveryID: "d-retry"}); !errors.Is(err, tasks.ErrLive) {
			t.Fatalf("a retry of the issue's task while the follow-up is live: %v, want ErrLive", err)
		}
	})
}

// A repository renamed, or moved to another owner, keeps its ID, and its
// live tasks with it: webhooks then carry the new name.
func TestARenamedRepositoryKeepsItsLiveTasksAndLimits(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, time.Minute)
		ctx := context.Background()
		live := b.create(t, "acme/widgets", 7)
		renamed := newTask("acme/gadgets", 7)
		renamed.RepoID = live.RepoID
		if err := b.queue.Create(ctx, renamed, tasks.Limits{}); !errors.Is(err, tasks.ErrLive) {
			t.Fatalf("a task on the renamed repository's busy branch: %v, want ErrLive", err)
		}
		if got, err := b.queue.Live(ctx, live.RepoID, 7); err != nil || got.ID != live.ID {
			t.Fatalf("the live task under the new name: %+v, %v", got, err)
		}
		if got, err := b.queue.Latest(ctx, live.RepoID, 7); err != nil || got.ID != live.ID {
			t.Fatalf("the latest task under the new name: %+v, %v", got, err)
		}
		renamed.Issue = 8
		var over *tasks.Limited
		if err := b.queue.Create(ctx, renamed, tasks.Limits{PerRepo: 1}); !errors.As(err, &over) {
			t.Fatalf("a start past the repository's limit under its new name: %v, want it limited", err)
		}
	})
}

// Starts recorded at once, as by intakes on bulk-labelled issues, all
// counted the same attempts before any was recorded; the queue counts
// again as it records each, one start at a time.
func TestStartsRecordedAtOnceHoldTheLimits(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, time.Minute)
		ctx := context.Background()
		const starts = 6
		errs := make(chan error, starts)
		for i := range starts {
			go func() {
				task := newTask("o/r", 100+i)
				task.Requester = fmt.Sprintf("writer%d", i%2)
				errs <- b.queue.Create(ctx, task, tasks.Limits{PerRepo: 3, PerActor: 2})
			}()
		}
		var created, limited int
		for range starts {
			var over *tasks.Limited
			switch err := <-errs; {
			case err == nil:
				created++
			case errors.As(err, &over):
				limited++
			default:
				t.Fatal(err)
			}
		}
		if created != 3 || limited != 3 {
			t.Fatalf("%d created and %d limited, want 3 of each: the repository's limit is 3", created, limited)
		}
		// The people's limit holds too, and so does it for a retry.
		ended := b.create(t, "o/other", 1) // by octocat
		if _, err := b.queue.Cancel(ctx, ended.ID, "octocat"); err != nil {
			t.Fatal(err)
		}
		var over *tasks.Limited
		_, err := b.queue.Retry(ctx, ended.ID, tasks.Start{Actor: "octocat", DeliveryID: "d-retry", Limits: tasks.Limits{PerActor: 1}})
		if !errors.As(err, &over) || !over.ByActor || over.Started != 1 {
			t.Fatalf("a retry past the person's limit: %v, want it limited after 1 start", err)
		}
		if _, err := b.queue.Retry(ctx, ended.ID, tasks.Start{Actor: "octocat", DeliveryID: "d-retry", Limits: tasks.Limits{PerActor: 2}}); err != nil {
			t.Fatalf("a retry within the limit: %v", err)
		}
	})
}

func TestAnAttemptRunsAndItsHistoryIsKept(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, time.Minute)
		b.runner.finish(tasks.Succeeded)
		task := b.create(t, "o/r", 1)
		start(t, b.queue)
		b.waitStarted(t)
		b.waitState(t, task.ID, tasks.Succeeded)
		if got := b.states(t, task.ID); !slices.Equal(got, []string{"1:queued", "1:running", "1:succeeded"}) {
			t.Fatalf("history = %v", got)
		}
		// The notifier hears of a state just after it is stored.
		want := []string{task.ID + "#1:running", task.ID + "#1:succeeded"}
		waitFor(t, 10*time.Second, "the notifier", func() bool { return len(b.notifier.seen()) >= len(want) })
		if got := b.notifier.seen(); !slices.Equal(got, want) {
			t.Fatalf("notified %v", got)
		}
	})
}

func TestRetryRunsTheNextAttemptOfTheSameTask(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, time.Minute)
		b.runner.finish(tasks.Failed)
		ctx := context.Background()
		task := b.create(t, "o/r", 1)
		if _, err := b.queue.Retry(ctx, task.ID, tasks.Start{Actor: "octocat", DeliveryID: "d-2"}); !errors.Is(err, tasks.ErrLive) {
			t.Fatalf("retry of a live attempt: %v, want ErrLive", err)
		}
		start(t, b.queue)
		b.waitStarted(t)
		b.waitState(t, task.ID, tasks.Failed)
		b.runner.finish(tasks.Succeeded)
		// Asked for under the repository's new name, through the App's
		// new installation: the attempt works with those.
		next, err := b.queue.Retry(ctx, task.ID, tasks.Start{Actor: "hubot", DeliveryID: "d-2", Why: "retry requested", CheckRunID: 42,
			Repo: "o/renamed", InstallationID: 99})
		if err != nil || next.Attempt != 2 || next.CheckRunID != 42 {
			t.Fatalf("retry: %+v, %v", next, err)
		}
		if got := b.get(t, task.ID); got.Repo != "o/renamed" || got.InstallationID != 99 {
			t.Fatalf("the next attempt is of %s through installation %d, want o/renamed through 99", got.Repo, got.InstallationID)
		}
		b.waitStarted(t)
		if got := b.waitState(t, task.ID, tasks.Succeeded); got.Attempt != 2 {
			t.Fatalf("attempt %d succeeded, want attempt 2", got.Attempt)
		}
		want := []string{"1:queued", "1:running", "1:failed", "2:queued", "2:running", "2:succeeded"}
		if got := b.states(t, task.ID); !slices.Equal(got, want) {
			t.Fatalf("history = %v", got)
		}
		if found, attempt, err := b.db.ByDelivery(ctx, "d-2"); err != nil || found.ID != task.ID || attempt != 2 {
			t.Fatalf("by delivery: %v %d %v", found, attempt, err)
		}
	})
}

func TestCancelStopsQueuedAndRunningAttempts(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, time.Minute)
		ctx := context.Background()
		queued := b.create(t, "o/r", 1)
		if ok, err := b.queue.Cancel(ctx, queued.ID, "octocat"); !ok || err != nil {
			t.Fatalf("cancel queued: %v %v", ok, err)
		}
		running := b.create(t, "o/r", 2)
		start(t, b.queue)
		if id := b.waitStarted(t); id != running.ID {
			t.Fatalf("the cancelled task ran: %s", id)
		}
		if ok, err := b.queue.Cancel(ctx, running.ID, "octocat"); !ok || err != nil {
			t.Fatalf("cancel running: %v %v", ok, err)
		}
		b.waitState(t, running.ID, tasks.Cancelled)
		if got := b.states(t, queued.ID); !slices.Equal(got, []string{"1:queued", "1:cancelled"}) {
			t.Fatalf("queued task history = %v", got)
		}
		if ok, _ := b.queue.Cancel(ctx, running.ID, "octocat"); ok {
			t.Fatal("cancelled a finished attempt")
		}
	})
}

func TestACancelOfAnAttemptLeavesTheNextOneAlone(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, time.Minute)
		ctx := context.Background()
		task := b.create(t, "o/r", 1)
		if ok, err := b.queue.Cancel(ctx, task.ID, "octocat"); !ok || err != nil {
			t.Fatalf("cancel attempt 1: %v %v", ok, err)
		}
		if _, err := b.queue.Retry(ctx, task.ID, tasks.Start{Actor: "octocat", DeliveryID: "d-2"}); err != nil {
			t.Fatal(err)
		}
		// A Cancel button of attempt 1's run, pressed before the retry
		// and taken in after it.
		if ok, err := b.queue.CancelAttempt(ctx, task.ID, 1, "hubot"); ok || err != nil {
			t.Fatalf("cancel of attempt 1: %v %v, want nothing cancelled", ok, err)
		}
		if got := b.get(t, task.ID); got.Attempt != 2 || got.State != tasks.Queued {
			t.Fatalf("attempt %d is %s, want attempt 2 queued", got.Attempt, got.State)
		}
	})
}

func TestACancelRequestedByAnotherProcessStopsTheAttempt(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, time.Minute)
		ctx := context.Background()
		task := b.create(t, "o/r", 1)
		start(t, b.queue)
		b.waitStarted(t)
		// A replica that does not run the attempt receives the cancel.
		other := b.newQueue(t, time.Minute)
		if ok, err := other.Cancel(ctx, task.ID, "octocat"); !ok || err != nil {
			t.Fatalf("cancel: %v %v", ok, err)
		}
		b.waitState(t, task.ID, tasks.Cancelled)
	})
}

func TestTheDeadlineEndsAnAttemptAsTimedOut(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, 500*time.Millisecond)
		task := b.create(t, "o/r", 1)
		start(t, b.queue)
		b.waitStarted(t)
		b.waitState(t, task.ID, tasks.TimedOut)
		history, _ := b.db.History(context.Background(), task.ID)
		if last := history[len(history)-1]; last.Detail != "the time limit of 500ms (the bot's queue.task_timeout) ran out" {
			t.Fatalf("last entry %+v", last)
		}
	})
}

// TestAnEndTheRunnerReachedStandsWhateverComesAsItEnds: the pipeline
// decides how an attempt ended, shows it on GitHub, and only then returns;
// a cancel, the deadline or a shutdown that comes meanwhile changes
// nothing. A success's pull request is published; a failure was shown as
// one, and handed back it would run again.
func TestAnEndTheRunnerReachedStandsWhateverComesAsItEnds(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		for _, ended := range []tasks.State{tasks.Succeeded, tasks.Failed} {
			for _, tc := range []struct {
				name    string
				timeout time.Duration
				end     func(t *testing.T, b *testBundle, id string)
			}{
				{"cancel", time.Minute, func(t *testing.T, b *testBundle, id string) {
					if ok, err := b.queue.Cancel(context.Background(), id, "octocat"); !ok || err != nil {
						t.Errorf("cancel: %v %v", ok, err)
					}
				}},
				{"deadline", 500 * time.Millisecond, func(*testing.T, *testBundle, string) {}},
				{"shutdown", time.Minute, func(t *testing.T, b *testBundle, _ string) {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					if err := b.queue.Shutdown(ctx); err != nil {
						t.Error(err)
					}
				}},
			} {
				t.Run(string(ended)+" then "+tc.name, func(t *testing.T) {
					b := setup(t, url, tc.timeout)
					b.runner.finishAsItEnds(ended)
					task := b.create(t, "o/r", 1)
					start(t, b.queue)
					b.waitStarted(t)
					tc.end(t, b, task.ID)
					if got := b.waitFinal(t, task.ID); got.State != ended {
						t.Fatalf("the attempt ended %s", got.State)
					}
					if got := b.states(t, task.ID); !slices.Equal(got, []string{"1:queued", "1:running", "1:" + string(ended)}) {
						t.Fatalf("history = %v", got)
					}
				})
			}
		}
	})
}

func TestShutdownHandsARunningAttemptBackAndTheNextProcessRunsIt(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, time.Minute)
		task := b.handBack(t)

		b.runner.finish(tasks.Succeeded)
		start(t, b.newQueue(t, time.Minute))
		b.waitStarted(t)
		b.waitState(t, task.ID, tasks.Succeeded)
		want := []string{"1:queued", "1:running", "1:queued", "1:running", "1:succeeded"}
		if got := b.states(t, task.ID); !slices.Equal(got, want) {
			t.Fatalf("history = %v", got)
		}
	})
}

// Recording a hand-back matters more than showing it: GitHub waiting out a
// rate limit as the bot stops must not keep the hand-back from the queue
// past the shutdown's time, which would count the attempt as interrupted
// (twice, and it is given up on). The next start shows it running anyway.
func TestAHandBackGitHubIsSlowToShowIsRecordedWithinTheShutdown(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, time.Minute)
		b.notifier.mu.Lock()
		b.notifier.hangOnQueued = true
		b.notifier.mu.Unlock()
		task := b.handBack(t)

		b.runner.finish(tasks.Succeeded)
		start(t, b.newQueue(t, time.Minute))
		b.waitState(t, task.ID, tasks.Succeeded)
		want := []string{"1:queued", "1:running", "1:queued", "1:running", "1:succeeded"}
		if got := b.states(t, task.ID); !slices.Equal(got, want) {
			t.Fatalf("history = %v", got)
		}
	})
}

func TestAHandBackIsNotCountedAsAStart(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, time.Minute)
		ctx := context.Background()
		hourAgo := time.Now().Add(-time.Hour)
		b.handBack(t)
		if n, err := b.db.StartsSince(ctx, repoID("o/r"), "", hourAgo); n != 1 || err != nil {
			t.Fatalf("starts on the repository: %d %v, want 1", n, err)
		}
		if n, err := b.db.StartsSince(ctx, 0, "octocat", hourAgo); n != 1 || err != nil {
			t.Fatalf("starts by the requester: %d %v, want 1", n, err)
		}
	})
}

func TestAnAttemptThatPanicsEndsFailedAndVisibly(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, time.Minute)
		b.runner.panic("scripted")
		task := b.create(t, "o/r", 1)
		start(t, b.queue)
		b.waitStarted(t)
		b.waitState(t, task.ID, tasks.Failed)
		history, err := b.db.History(context.Background(), task.ID)
		if err != nil {
			t.Fatal(err)
		}
		if last := history[len(history)-1]; !strings.Contains(last.Detail, "internal error") || strings.Contains(last.Detail, "scripted") {
			t.Fatalf("last entry %+v, want an internal error that keeps the panic to the log", last)
		}
		want := task.ID + "#1:failed"
		waitFor(t, 10*time.Second, "the notifier", func() bool { return slices.Contains(b.notifier.seen(), want) })
		if n := b.runner.count(); n != 1 {
			t.Fatalf("the attempt ran %d times", n)
		}
	})
}

// A panic after the attempt opened its pull request does not undo it:
// the pipeline showed the success, and the queue records it.
func TestAnAttemptThatPanicsAfterItsEndKeepsThatEnd(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, time.Minute)
		b.runner.panic(&tasks.PanicAfterEnd{State: tasks.Succeeded, Detail: "Opened pull request #7", Value: "closing the sandbox"})
		task := b.create(t, "o/r", 1)
		start(t, b.queue)
		b.waitStarted(t)
		b.waitState(t, task.ID, tasks.Succeeded)
		history, err := b.db.History(context.Background(), task.ID)
		if err != nil {
			t.Fatal(err)
		}
		if last := history[len(history)-1]; last.Detail != "Opened pull request #7" {
			t.Fatalf("last entry %+v, want the end the attempt reached", last)
		}
		want := task.ID + "#1:succeeded"
		waitFor(t, 10*time.Second, "the notifier", func() bool { return slices.Contains(b.notifier.seen(), want) })
	})
}

// Six attempts wait and each runs until cancelled, one cancel after each
// start past the first two: River takes as many jobs as it has free
// workers at once, so a third worker would have run a third attempt beside
// the first two.
func TestNoMoreAttemptsRunAtOnceThanTheConcurrency(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		b := setup(t, url, time.Minute) // Concurrency 2
		ctx := context.Background()
		const attempts = 6
		for issue := 1; issue <= attempts; issue++ {
			b.create(t, "o/r", issue)
		}
		start(t, b.queue)
		running := []string{b.waitStarted(t), b.waitStarted(t)}
		for started := 2; started < attempts; started++ {
			if ok, err := b.queue.Cancel(ctx, running[0], "octocat"); !ok || err != nil {
				t.Fatalf("cancel: %v %v", ok, err)
			}
			running = append(running[1:], b.waitStarted(t))
		}
		if most := b.runner.mostAtOnce(); most != 2 {
			t.Fatalf("%d attempts ran at once, want the concurrency, 2", most)
		}
	})
}

func TestABadDatabaseURLIsAClearErrorAndCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	for url, want := range map[string]string{
		"sqlite:":                    "needs a path",
		"mysql://oneshot@db/oneshot": "want sqlite:PATH or postgres://",
		"sqlite:" + filepath.Join(dir, "oneshot.db") + "?_pragma=journal_mode(DELETE)": "takes no query",
		"sqlite:" + filepath.Join(dir, "nowhere", "oneshot.db"):                        "the directory " + filepath.Join(dir, "nowhere") + " is not there",
	} {
		_, err := queue.Open(context.Background(), url)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %q", url, err, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files were created: %v", entries)
	}
	// One that SQLite cannot open for another reason (it is a directory)
	// is named, with the reason.
	url := "sqlite:" + dir
	if _, err := queue.Open(context.Background(), url); err == nil || !strings.Contains(err.Error(), url) {
		t.Errorf("%s: error %v, want one naming the database", url, err)
	}
}

package handlers

import (
	"testing"

	"github.com/oneshot-dev/oneshot/tasks"
)

// A review's comments after the first find the follow-up that took the
// review whole; a later review saying the same thing on the same line is a
// request of its own, which must be answered, not only acknowledged.
func TestAFollowUpHoldsOnlyTheCommentsOfTheReviewItTook(t *testing.T) {
	t.Parallel()
	live := &tasks.Task{Kind: tasks.KindFollowUp, PullRequest: 2, ReviewID: 7,
		Instructions: "Review comment on `a.go` line 3:\nfix the typo\n\nReview comment on `a.go` line 9:\nrename Foo"}
	comment := func(review int64, feedback string) tasks.Trigger {
		return tasks.Trigger{Command: tasks.CommandFollowUp, Issue: 2, ReviewID: review, Instructions: feedback}
	}
	for _, tc := range []struct {
		name string
		t    tasks.Trigger
		want bool
	}{
		{"a comment of the review it took", comment(7, "rename Foo"), true},
		{"the same words in a later review", comment(8, "rename Foo"), false},
		{"a comment of its review it could not list", comment(7, "and log the error"), false},
		{"a comment on the issue, no review", comment(0, "rename Foo"), false},
	} {
		if got := holds(live, tc.t); got != tc.want {
			t.Errorf("%s: holds = %v, want %v", tc.name, got, tc.want)
		}
	}
}

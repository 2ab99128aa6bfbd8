package queue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/queue"
)

func TestAReplyIsClaimedOncePerWindowAndKeptByItsDelivery(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		db := openDB(t, url)
		ctx := context.Background()
		claim := func(issue int, actor, kind, delivery string, since time.Time) bool {
			t.Helper()
			ok, err := db.ClaimReply(ctx, "o/r", issue, actor, kind, delivery, since)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		hourAgo := time.Now().Add(-time.Hour)
		if !claim(1, "mallory", "refusal", "d1", hourAgo) {
			t.Fatal("the first reply was refused")
		}
		if claim(1, "mallory", "refusal", "d2", hourAgo) {
			t.Fatal("a second reply within the window was allowed")
		}
		if !claim(1, "mallory", "refusal", "d1", hourAgo) {
			t.Fatal("the delivery holding the claim was refused on its retry")
		}
		for _, other := range []struct {
			issue       int
			actor, kind string
		}{{2, "mallory", "refusal"}, {1, "eve", "refusal"}, {1, "mallory", "help"}} {
			if !claim(other.issue, other.actor, other.kind, "d3", hourAgo) {
				t.Errorf("a %s reply to %s on #%d was refused", other.kind, other.actor, other.issue)
			}
		}
		// The window has passed when the claim is older than its start.
		if !claim(1, "mallory", "refusal", "d4", time.Now().Add(time.Second)) {
			t.Fatal("a reply after the window was refused")
		}
	})
}

// One person commenting on every issue of a repository gets so many
// replies within the window, not one on each.
func TestAPersonGetsSoManyRepliesInARepositoryWithinTheWindow(t *testing.T) {
	databases(t, func(t *testing.T, url string) {
		db := openDB(t, url)
		ctx := context.Background()
		hourAgo := time.Now().Add(-time.Hour)
		claim := func(repo string, issue int, actor, delivery string) bool {
			t.Helper()
			ok, err := db.ClaimReply(ctx, repo, issue, actor, "refusal", delivery, hourAgo)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		for issue := 1; issue <= queue.MaxRepliesPerActor; issue++ {
			if !claim("o/r", issue, "mallory", fmt.Sprint("d", issue)) {
				t.Fatalf("reply %d was refused", issue)
			}
		}
		if claim("o/r", 100, "mallory", "d100") {
			t.Fatal("a reply past the budget was allowed")
		}
		if !claim("o/r", 1, "mallory", "d1") {
			t.Fatal("the delivery holding a claim was refused on its retry")
		}
		if !claim("o/r", 100, "eve", "d101") || !claim("o/other", 100, "mallory", "d102") {
			t.Fatal("another person's reply, or one in another repository, was refused")
		}
	})
}

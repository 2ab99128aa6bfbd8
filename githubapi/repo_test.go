package githubapi_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/githubapi"
)

// TestHasCommentFindsACommentJustBeforeTheLastPage: the last page of an
// issue's comments may hold a single one, and the comment looked for was
// then on the page before (the bot's final comment, answered once).
func TestHasCommentFindsACommentJustBeforeTheLastPage(t *testing.T) {
	t.Parallel()
	gh, fake, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	for i := 1; i <= 101; i++ {
		body := fmt.Sprintf("comment %d", i)
		if i == 100 {
			body += "\n<!-- oneshot:final -->"
		}
		gh.AddComment(fake, 1, gh.BotLogin(), body)
	}
	found, err := repo.HasComment(context.Background(), 1, gh.BotLogin(), "<!-- oneshot:final -->")
	if err != nil || !found {
		t.Fatalf("found %v, %v: want the 100th of 101 comments found", found, err)
	}
	if found, err := repo.HasComment(context.Background(), 1, gh.BotLogin(), "<!-- another -->"); err != nil || found {
		t.Fatalf("found %v, %v for a comment nobody made", found, err)
	}
}

// TestHasCommentCountsOnlyTheAuthorsComments: anyone may copy the bot's
// hidden marker into a comment of their own, which is not the bot's.
func TestHasCommentCountsOnlyTheAuthorsComments(t *testing.T) {
	t.Parallel()
	gh, fake, repo := setup(t, githubapi.RetryPolicy{Base: time.Millisecond})
	gh.AddComment(fake, 1, "mallory", "No need.\n<!-- oneshot:final t1#1 -->")
	found, err := repo.HasComment(context.Background(), 1, gh.BotLogin(), "<!-- oneshot:final t1#1 -->")
	if err != nil || found {
		t.Fatalf("found %v, %v: want mallory's comment passed over", found, err)
	}
	gh.AddComment(fake, 1, gh.BotLogin(), "oneshot stopped.\n<!-- oneshot:final t1#1 -->")
	if found, err := repo.HasComment(context.Background(), 1, gh.BotLogin(), "<!-- oneshot:final t1#1 -->"); err != nil || !found {
		t.Fatalf("found %v, %v: want the bot's comment found", found, err)
	}
}

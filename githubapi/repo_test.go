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
		gh.AddComment(fake, 1, "octocat", body)
	}
	found, err := repo.HasComment(context.Background(), 1, "<!-- oneshot:final -->")
	if err != nil || !found {
		t.Fatalf("found %v, %v: want the 100th of 101 comments found", found, err)
	}
	if found, err := repo.HasComment(context.Background(), 1, "<!-- another -->"); err != nil || found {
		t.Fatalf("found %v, %v for a comment nobody made", found, err)
	}
}

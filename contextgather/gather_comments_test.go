package contextgather_test

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/oneshot-dev/oneshot/internal/githubtest"
)

// On an issue with a crowd in it, the newest 500 comments are read, no
// fewer, and no page is read only to be dropped. Five pages of 550
// comments held 450 of them, and the first of 600 was read for nothing.
func TestTheNewest500CommentsAreReadAndNoPageMore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		comments int
		pages    []int
	}{
		{550, []int{1, 2, 3, 4, 5, 6}}, // the last holds 50: the first makes up 500
		{600, []int{2, 3, 4, 5, 6}},
		{99, []int{1}},
	} {
		b := newGatherBundle(t)
		for _, login := range []string{"alice", "bob", "carol"} {
			b.gh.SetPermission(b.repo, login, "write")
		}
		b.gh.AddIssue(b.repo, githubtest.Issue{Title: "Crash on start", Body: "It crashes.", User: "alice"})
		// bob's is the newest comment left out, carol's the oldest read.
		for i := range tc.comments {
			author := fmt.Sprintf("fan%d", i%50) // fewer than the people asked about
			switch i {
			case tc.comments - 501:
				author = "bob"
			case tc.comments - 500:
				author = "carol"
			case tc.comments - 1:
				author = "alice"
			}
			b.gh.AddComment(b.repo, 1, author, "A word.")
		}
		want := []string{"carol", "alice"}
		if tc.comments < 500 {
			want = []string{"alice"}
		}
		if got := authors(b.gather(t).Comments); !slices.Equal(got, want) {
			t.Errorf("%d comments: comments by %v, want %v", tc.comments, got, want)
		}
		if got := pagesRead(t, b); !slices.Equal(got, tc.pages) {
			t.Errorf("%d comments: pages %v read, want %v", tc.comments, got, tc.pages)
		}
	}
}

// pagesRead are the pages of issue #1's comments read, in page order.
func pagesRead(t *testing.T, b *gatherBundle) []int {
	t.Helper()
	var pages []int
	for _, r := range b.gh.Requests() {
		if r.Method != "GET" || r.Path != "/repos/acme/widgets/issues/1/comments" {
			continue
		}
		q, err := url.ParseQuery(r.Query)
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(q.Get("page"))
		if err != nil {
			n = 1 // no page is the first
		}
		pages = append(pages, n)
	}
	slices.Sort(pages)
	return pages
}

package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/oneshot-dev/oneshot/internal/githubtest"
)

// TestAFieldThatCannotBeGitHubsIsRefused sends the adapted fixtures, each
// with one field GitHub would never send: names that leave their segment
// of an API path, IDs that are not positive, a check run naming no task.
// Signed as they are, each is answered 400 and starts nothing.
func TestAFieldThatCannotBeGitHubsIsRefused(t *testing.T) {
	comment := func(edit func(p map[string]any)) (string, []byte) {
		return "issue_comment", edited(t, "issue_comment.created", edit)
	}
	button := func(edit func(p map[string]any)) (string, []byte) {
		return "check_run", edited(t, "check_run.requested_action", edit)
	}
	cases := map[string]func() (string, []byte){
		"a sender's login with a path in it": func() (string, []byte) {
			return comment(func(p map[string]any) { obj(p, "sender")["login"] = "stranger/../writer" })
		},
		"a sender's login with a query in it": func() (string, []byte) {
			return comment(func(p map[string]any) { obj(p, "sender")["login"] = "writer?x=1" })
		},
		"a repository named ..": func() (string, []byte) {
			return comment(func(p map[string]any) { obj(p, "repository")["full_name"] = "acme/.." })
		},
		"a repository with no owner": func() (string, []byte) {
			return comment(func(p map[string]any) { obj(p, "repository")["full_name"] = "Hello-World" })
		},
		"a negative repository ID": func() (string, []byte) {
			return comment(func(p map[string]any) { obj(p, "repository")["id"] = -1 })
		},
		"a negative installation ID": func() (string, []byte) {
			return comment(func(p map[string]any) { obj(p, "installation")["id"] = -7 })
		},
		"a comment with no ID": func() (string, []byte) {
			return comment(func(p map[string]any) { obj(p, "comment")["id"] = -5 })
		},
		"a check run naming no task": func() (string, []byte) {
			return button(func(p map[string]any) { obj(p, "check_run")["external_id"] = "../t0123" })
		},
		"a check run with no ID": func() (string, []byte) {
			return button(func(p map[string]any) { obj(p, "check_run")["id"] = 0 })
		},
	}
	accepter, dispatcher := newDispatcher()
	for name, payload := range cases {
		t.Run(name, func(t *testing.T) {
			event, body := payload()
			if code := deliver(dispatcher, event, "d-"+name, body); code != http.StatusBadRequest {
				t.Errorf("answered %d, want 400", code)
			}
			if got := accepter.take(); len(got) != 0 {
				t.Errorf("accepted %+v", got)
			}
		})
	}
	// The same fixtures unedited start work: the refusals are the edits'.
	// So does a managed user's login (Enterprise Managed Users), whose
	// '_' no other account has.
	for _, payload := range []func() (string, []byte){
		func() (string, []byte) { return comment(func(map[string]any) {}) },
		func() (string, []byte) { return button(func(map[string]any) {}) },
		func() (string, []byte) {
			return comment(func(p map[string]any) { obj(p, "sender")["login"] = "mona-lisa_acme" })
		},
	} {
		event, body := payload()
		deliver(dispatcher, event, fmt.Sprint("d-unedited-", event, len(body)), body)
		if got := accepter.take(); len(got) != 1 {
			t.Errorf("%s unedited: %d triggers accepted, want 1", event, len(got))
		}
	}
}

// edited is a fixture adapted to trigger work (see triggering), then
// edited.
func edited(t *testing.T, fixture string, edit func(p map[string]any)) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(githubtest.FixtureDir(t), fixture+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(triggering(t, body), &p); err != nil {
		t.Fatal(err)
	}
	edit(p)
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// obj is the object p holds under key.
func obj(p map[string]any, key string) map[string]any { return p[key].(map[string]any) }

// TestAReplyInAReviewThreadIsAnsweredInThatThread checks that a command
// posted as a reply in a review thread is answered under the thread's
// first comment, the one GitHub takes replies to, and a command that
// starts a thread under itself.
func TestAReplyInAReviewThreadIsAnsweredInThatThread(t *testing.T) {
	accepter, dispatcher := newDispatcher()
	review := func(edit func(p map[string]any)) []byte {
		return edited(t, "pull_request_review_comment.created", func(p map[string]any) {
			obj(p, "comment")["body"] = "/oneshot help"
			obj(obj(p, "pull_request"), "user")["login"] = "oneshot[bot]" // the dispatcher's bot
			edit(p)
		})
	}
	deliver(dispatcher, "pull_request_review_comment", "d-first", review(func(p map[string]any) { delete(obj(p, "comment"), "in_reply_to_id") }))
	deliver(dispatcher, "pull_request_review_comment", "d-reply", review(func(p map[string]any) { obj(p, "comment")["in_reply_to_id"] = 17 }))
	got := accepter.take()
	if len(got) != 2 || got[0].ThreadID != got[0].CommentID || got[1].ThreadID != 17 || got[1].CommentID == 17 {
		t.Fatalf("triggers %+v, want the first answered under itself and the reply under comment 17", got)
	}
}

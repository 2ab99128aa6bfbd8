package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// The payload types hold only the fields oneshot reads. Decoding into
// go-github's full types would refuse a whole delivery over a field we do
// not use (old payloads carry timestamps in other formats, for one).

type user struct {
	Login string `json:"login"`
	Type  string `json:"type"`
}

type repository struct {
	ID       int64  `json:"id"`
	FullName string `json:"full_name"`
}

type installation struct {
	ID int64 `json:"id"`
}

type issue struct {
	Number      int       `json:"number"`
	Title       string    `json:"title"`
	Body        string    `json:"body"`
	User        user      `json:"user"`
	PullRequest *struct{} `json:"pull_request"`
}

// envelope is what every event we take carries.
type envelope struct {
	Action       string       `json:"action"`
	Repository   repository   `json:"repository"`
	Installation installation `json:"installation"`
	Sender       user         `json:"sender"`
}

type issuesEvent struct {
	envelope
	Label *struct {
		Name string `json:"name"`
	} `json:"label"`
	Issue issue `json:"issue"`
}

type issueCommentEvent struct {
	envelope
	Issue   issue `json:"issue"`
	Comment struct {
		ID   int64  `json:"id"`
		Body string `json:"body"`
		User user   `json:"user"`
	} `json:"comment"`
}

type reviewCommentEvent struct {
	envelope
	PullRequest struct {
		Number int  `json:"number"`
		User   user `json:"user"`
	} `json:"pull_request"`
	Comment struct {
		ID   int64  `json:"id"`
		Body string `json:"body"`
		User user   `json:"user"`
		Path string `json:"path"`
		Line int    `json:"line"` // 0 on a comment on a whole file, or on lines since changed
		// InReplyToID is the first comment of the thread, for a reply.
		InReplyToID int64 `json:"in_reply_to_id"`
		ReviewID    int64 `json:"pull_request_review_id"`
	} `json:"comment"`
}

type checkRunEvent struct {
	envelope
	CheckRun struct {
		ID         int64  `json:"id"`
		Name       string `json:"name"`
		ExternalID string `json:"external_id"`
		App        struct {
			ID int64 `json:"id"`
		} `json:"app"`
		Output struct {
			Text string `json:"text"`
		} `json:"output"`
	} `json:"check_run"`
	RequestedAction *struct {
		Identifier string `json:"identifier"`
	} `json:"requested_action"`
}

// decode reads a payload and checks the envelope every trigger needs.
func decode(payload []byte, event interface{ base() *envelope }) error {
	if err := json.Unmarshal(payload, event); err != nil {
		return err
	}
	e := event.base()
	switch {
	case e.Action == "":
		return errors.New("payload has no action")
	case e.Repository.FullName == "" || e.Repository.ID <= 0:
		return errors.New("payload has no repository")
	case !isOwnerName(e.Repository.FullName):
		// API paths and clones are built from it.
		return fmt.Errorf("payload's repository %q is not owner/name", e.Repository.FullName)
	case e.Sender.Login == "":
		return errors.New("payload has no sender")
	case !isLogin(e.Sender.Login):
		// The permission check's path is built from it: "x/../admin"
		// would ask for someone else's.
		return fmt.Errorf("payload's sender %q is not a GitHub login", e.Sender.Login)
	}
	return nil
}

func (e *envelope) base() *envelope { return e }

// What GitHub allows in names: an account's login is letters, digits and
// hyphens, not starting with a hyphen, at most 39 long, and an App's ends
// in "[bot]"; a managed user's (Enterprise Managed Users) adds '_' and its
// enterprise's short code, as in mona_acme, which may make it longer; a
// repository's name is letters, digits, '.', '-' and '_'. Payloads are
// signed, but a name that leaves its segment of a path is refused all the
// same.
var (
	accountName    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$`)
	repositoryName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
)

// isOwnerName says whether a repository's full name is owner/name.
func isOwnerName(fullName string) bool {
	owner, name, ok := strings.Cut(fullName, "/")
	return ok && accountName.MatchString(owner) && repositoryName.MatchString(name) && name != "." && name != ".."
}

// isLogin says whether s is an account's login.
func isLogin(s string) bool {
	return accountName.MatchString(strings.TrimSuffix(s, "[bot]"))
}

// needInstallation checks what only an actionable event must carry: a
// delivery to the App always names its installation.
func needInstallation(e *envelope) error {
	if e.Installation.ID <= 0 {
		return fmt.Errorf("payload for %s has no installation", e.Repository.FullName)
	}
	return nil
}

// needComment checks that a command comment has the ID its reaction and
// replies need.
func needComment(e *envelope, id int64) error {
	if id <= 0 {
		return fmt.Errorf("payload for %s has no comment ID", e.Repository.FullName)
	}
	return nil
}

// needIssue checks that an actionable issue event names its issue.
func needIssue(e *envelope, i issue) error {
	if err := needInstallation(e); err != nil {
		return err
	}
	if i.Number <= 0 {
		return fmt.Errorf("payload for %s has no issue number", e.Repository.FullName)
	}
	return nil
}

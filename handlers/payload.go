package handlers

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/oneshot-dev/oneshot/githubapi"
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
	case !validFullName(e.Repository.FullName):
		// API paths and clones are built from it.
		return fmt.Errorf("payload's repository %q is not owner/name", e.Repository.FullName)
	case e.Sender.Login == "":
		return errors.New("payload has no sender")
	case !githubapi.IsLogin(e.Sender.Login):
		// The permission check's path is built from it: "x/../admin"
		// would ask for someone else's.
		return fmt.Errorf("payload's sender %q is not a GitHub login", e.Sender.Login)
	}
	return nil
}

func (e *envelope) base() *envelope { return e }

func validFullName(fullName string) bool {
	_, _, ok := githubapi.SplitFullName(fullName)
	return ok
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

package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
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
	case e.Repository.FullName == "" || e.Repository.ID == 0:
		return errors.New("payload has no repository")
	case !isOwnerName(e.Repository.FullName):
		// Every API path and clone is built from it.
		return fmt.Errorf("payload's repository %q is not owner/name", e.Repository.FullName)
	case e.Sender.Login == "":
		return errors.New("payload has no sender")
	}
	return nil
}

func (e *envelope) base() *envelope { return e }

// isOwnerName says whether a repository's full name is owner/name.
func isOwnerName(fullName string) bool {
	owner, name, ok := strings.Cut(fullName, "/")
	return ok && owner != "" && name != "" && !strings.Contains(name, "/")
}

// needInstallation checks what only an actionable event must carry: a
// delivery to the App always names its installation.
func needInstallation(e *envelope) error {
	if e.Installation.ID == 0 {
		return fmt.Errorf("payload for %s has no installation", e.Repository.FullName)
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

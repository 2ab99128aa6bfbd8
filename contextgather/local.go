package contextgather

import (
	"io/fs"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/tasks"
)

// Local is the material of a task given on the command line (bot run, bot
// prompt): the text, whose author is the person at the keyboard and so
// trusted, and what the checkout holds.
func Local(t *tasks.Task, title, body string, checkout fs.FS) Material {
	log := zerolog.Nop()
	m := Material{
		Repo:         t.Repo,
		Issue:        Item{Number: t.Issue, Kind: KindIssue, Title: cleanTitle(title), Body: Sanitize(body), Author: t.Requester, Trusted: true},
		Instructions: Sanitize(t.Instructions),
		Requester:    t.Requester,
		Guidelines:   guidelines(checkout, log),
	}
	m.Layout, m.LayoutOmitted = topLevel(checkout, log)
	return m
}

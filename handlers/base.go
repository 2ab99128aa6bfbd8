// Package handlers turns GitHub webhooks into oneshot's work.
//
// The webhook handlers parse an event, drop what is not for oneshot with a
// logged reason, and make the rest a durable trigger before GitHub gets its
// answer; they call no GitHub API, so the answer takes milliseconds. The
// Intake then decides, off the webhook's clock, what a trigger becomes: it
// checks the actor's permission, the rate limits and the issue's live task,
// and starts, retries or cancels a task, or replies.
package handlers

import (
	"context"
	"fmt"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/tasks"
)

// Accepter makes a trigger durable; queue.Queue is one.
type Accepter interface {
	Accept(ctx context.Context, t tasks.Trigger) (bool, error)
}

// Base holds what every webhook handler needs.
type Base struct {
	Queue Accepter
	// Label is the issue label that starts a task.
	Label string
	// Command is the word that starts a command comment, as in "/oneshot".
	Command string
	// AppID is the App's ID: check runs of other Apps are not ours.
	AppID int64
	// BotLogin is the App's own login, as in "oneshot[bot]": pull requests
	// it opened take follow-up commands.
	BotLogin string
}

// accept queues a trigger and logs the outcome.
func (b *Base) accept(ctx context.Context, t tasks.Trigger) error {
	accepted, err := b.Queue.Accept(ctx, t)
	if err != nil {
		return fmt.Errorf("accept delivery %s: %w", t.DeliveryID, err)
	}
	log := zerolog.Ctx(ctx).With().Str("repo", t.Repo).Int("issue", t.Issue).Str("actor", t.Actor).
		Str("command", string(t.Command)).Logger()
	if accepted {
		log.Info().Msg("Accepted a trigger.")
	} else {
		log.Info().Msg("Ignored a delivery already accepted.")
	}
	return nil
}

// ignore logs why an event is not for oneshot and acknowledges it.
func ignore(ctx context.Context, why string) error {
	zerolog.Ctx(ctx).Debug().Str("reason", why).Msg("Ignored an event.")
	return nil
}

// invalid makes the dispatcher answer 400: the payload, though signed, is
// not what its event says it is.
func invalid(eventType, deliveryID string, err error) error {
	return githubapp.ValidationError{EventType: eventType, DeliveryID: deliveryID, Cause: err}
}

// isBot says whether an account is a bot, oneshot included; bots never
// start work, so two bots cannot keep each other busy.
func isBot(u user) bool { return githubapi.IsBot(u.Login, u.Type) }

// repoOf fills a trigger's repository fields from an event's.
func repoOf(t *tasks.Trigger, e envelope) {
	t.Repo = e.Repository.FullName
	t.RepoID = e.Repository.ID
	t.InstallationID = e.Installation.ID
}

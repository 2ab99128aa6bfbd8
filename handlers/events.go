package handlers

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/tasks"
)

// Issues starts a task when an issue gets the trigger label.
type Issues struct{ Base }

var _ githubapp.EventHandler = (*Issues)(nil)

// Handles names the event.
func (h *Issues) Handles() []string { return []string{"issues"} }

// Handle accepts issues.labeled with the trigger label.
func (h *Issues) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	var event issuesEvent
	if err := decode(payload, &event); err != nil {
		return invalid(eventType, deliveryID, err)
	}
	switch {
	case event.Action != "labeled":
		return ignore(ctx, "issues action "+event.Action)
	case event.Label == nil || !strings.EqualFold(event.Label.Name, h.Label):
		return ignore(ctx, "not the trigger label")
	case isBot(event.Sender):
		return ignore(ctx, "labelled by a bot")
	case event.Issue.PullRequest != nil:
		return ignore(ctx, "labelled a pull request")
	}
	if err := needIssue(&event.envelope, event.Issue); err != nil {
		return invalid(eventType, deliveryID, err)
	}
	t := tasks.Trigger{
		DeliveryID:  deliveryID,
		Event:       eventType,
		Command:     tasks.CommandStart,
		Issue:       event.Issue.Number,
		Actor:       event.Sender.Login,
		IssueDigest: tasks.DigestOf(event.Issue.Title, event.Issue.Body),
	}
	repoOf(&t, event.envelope)
	return h.accept(ctx, t)
}

// IssueComment takes the command comments: on an issue, a start with
// instructions, cancel, retry or help; on a pull request oneshot opened,
// feedback for a follow-up.
type IssueComment struct{ Base }

var _ githubapp.EventHandler = (*IssueComment)(nil)

// Handles names the event.
func (h *IssueComment) Handles() []string { return []string{"issue_comment"} }

// Handle accepts issue_comment.created that starts with the command word.
func (h *IssueComment) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	var event issueCommentEvent
	if err := decode(payload, &event); err != nil {
		return invalid(eventType, deliveryID, err)
	}
	if event.Action != "created" {
		return ignore(ctx, "issue_comment action "+event.Action)
	}
	if isBot(event.Sender) || isBot(event.Comment.User) {
		return ignore(ctx, "comment by a bot")
	}
	cmd, ok := ParseCommand(event.Comment.Body, h.Command)
	if !ok {
		return ignore(ctx, "comment is not a command")
	}
	if err := needIssue(&event.envelope, event.Issue); err != nil {
		return invalid(eventType, deliveryID, err)
	}
	if err := needComment(&event.envelope, event.Comment.ID); err != nil {
		return invalid(eventType, deliveryID, err)
	}
	issue := event.Issue
	isPR := issue.PullRequest != nil
	switch {
	case isPR && issue.User.Login != h.BotLogin && isBot(issue.User):
		// Another bot's, perhaps another oneshot's, which answers it.
		return ignore(ctx, "command on a pull request another bot opened")
	case isPR && issue.User.Login != h.BotLogin:
		// oneshot changes only its own pull requests: whoever asked it
		// to change another's is told where it works, not left waiting.
		cmd = ParsedCommand{Command: tasks.CommandHelp}
	case isPR && cmd.Command == tasks.CommandStart:
		cmd.Command = tasks.CommandFollowUp
	}
	t := tasks.Trigger{
		DeliveryID:   deliveryID,
		Event:        eventType,
		Command:      cmd.Command,
		Issue:        issue.Number,
		PullRequest:  isPR,
		Actor:        event.Sender.Login,
		CommentID:    event.Comment.ID,
		Instructions: cmd.Instructions,
		IssueDigest:  tasks.DigestOf(issue.Title, issue.Body),
	}
	repoOf(&t, event.envelope)
	return h.accept(ctx, t)
}

// ReviewComment takes the command comments of a review on a pull request
// oneshot opened: feedback on a line for a follow-up, or cancel, retry or
// help, as in the pull request's conversation.
type ReviewComment struct{ Base }

var _ githubapp.EventHandler = (*ReviewComment)(nil)

// Handles names the event.
func (h *ReviewComment) Handles() []string { return []string{"pull_request_review_comment"} }

// Handle accepts pull_request_review_comment.created that starts with the
// command word.
func (h *ReviewComment) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	var event reviewCommentEvent
	if err := decode(payload, &event); err != nil {
		return invalid(eventType, deliveryID, err)
	}
	if event.Action != "created" {
		return ignore(ctx, "pull_request_review_comment action "+event.Action)
	}
	if isBot(event.Sender) || isBot(event.Comment.User) {
		return ignore(ctx, "comment by a bot")
	}
	cmd, ok := ParseCommand(event.Comment.Body, h.Command)
	if !ok {
		return ignore(ctx, "comment is not a command")
	}
	pull := event.PullRequest
	if err := needIssue(&event.envelope, issue{Number: pull.Number}); err != nil {
		return invalid(eventType, deliveryID, err)
	}
	if err := needComment(&event.envelope, event.Comment.ID); err != nil {
		return invalid(eventType, deliveryID, err)
	}
	if pull.User.Login != h.BotLogin {
		return ignore(ctx, "command on a pull request oneshot did not open")
	}
	if cmd.Command == tasks.CommandStart {
		cmd.Command = tasks.CommandFollowUp
		cmd.Instructions = onLine(event.Comment.Path, event.Comment.Line, cmd.Instructions)
	}
	t := tasks.Trigger{
		DeliveryID:   deliveryID,
		Event:        eventType,
		Command:      cmd.Command,
		Issue:        pull.Number,
		PullRequest:  true,
		Actor:        event.Sender.Login,
		CommentID:    event.Comment.ID,
		ThreadID:     cmp.Or(event.Comment.InReplyToID, event.Comment.ID),
		ReviewID:     event.Comment.ReviewID,
		Instructions: cmd.Instructions,
	}
	repoOf(&t, event.envelope)
	return h.accept(ctx, t)
}

// onLine says where review feedback was left: "rename this" means little
// without the line it is on.
func onLine(path string, line int, feedback string) string {
	where := "`" + path + "`"
	if line > 0 {
		where += fmt.Sprintf(" line %d", line)
	}
	return strings.TrimSpace(fmt.Sprintf("Review comment on %s:\n%s", where, feedback))
}

// CheckRun takes the re-run of our check run and presses of its buttons.
type CheckRun struct{ Base }

var _ githubapp.EventHandler = (*CheckRun)(nil)

// Handles names the event.
func (h *CheckRun) Handles() []string { return []string{"check_run"} }

// Handle accepts check_run.rerequested and check_run.requested_action on
// runs this App made.
func (h *CheckRun) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	var event checkRunEvent
	if err := decode(payload, &event); err != nil {
		return invalid(eventType, deliveryID, err)
	}
	run := event.CheckRun
	if run.App.ID != h.AppID || run.Name != githubapi.CheckName {
		return ignore(ctx, "check run of another app")
	}
	if isBot(event.Sender) {
		return ignore(ctx, "check run action by a bot")
	}
	startOn, digest, skippedStart := tasks.StartOnIssue(run.ExternalID)
	if run.ID <= 0 || !tasks.IsID(run.ExternalID) && !skippedStart {
		// The bot sets both on every run it makes.
		return invalid(eventType, deliveryID, fmt.Errorf("our check run %d names no task (external ID %q)", run.ID, run.ExternalID))
	}
	if err := needInstallation(&event.envelope); err != nil {
		return invalid(eventType, deliveryID, err)
	}
	t := tasks.Trigger{
		DeliveryID: deliveryID,
		Event:      eventType,
		Actor:      event.Sender.Login,
		TaskID:     run.ExternalID,
		CheckRunID: run.ID,
	}
	pressed := ""
	if event.RequestedAction != nil {
		pressed = event.RequestedAction.Identifier
	}
	switch {
	case event.Action == "rerequested":
		t.Command = tasks.CommandRerun
	case event.Action == "requested_action" && pressed == githubapi.ActionRetry:
		t.Command = tasks.CommandRetry
	case event.Action == "requested_action" && pressed == githubapi.ActionCancel:
		t.Command = tasks.CommandCancel
	default:
		return ignore(ctx, "check_run action "+event.Action)
	}
	if skippedStart {
		// A start skipped before its task was made: run again, it is the
		// start it was, with the instructions it was given.
		if t.Command == tasks.CommandCancel {
			return ignore(ctx, "cancel on a skipped start's check run")
		}
		t.Command, t.TaskID, t.Issue, t.IssueDigest = tasks.CommandStart, "", startOn, digest
		t.Instructions = githubapi.SkippedInstructions(run.Output.Text)
	}
	repoOf(&t, event.envelope)
	return h.accept(ctx, t)
}

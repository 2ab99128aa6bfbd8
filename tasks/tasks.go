// Package tasks names oneshot's units of work and their life: a Task and
// its attempts, the States an attempt goes through, the Trigger a person's
// action on GitHub becomes, and the interfaces through which the queue
// hands work to the rest of the bot. It holds types and the names they go
// by; package queue stores and runs them.
package tasks

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// State is where an attempt of a task stands.
type State string

// The states of an attempt. Queued and Running are live; the rest are final.
const (
	Queued    State = "queued"
	Running   State = "running"
	Succeeded State = "succeeded"
	Failed    State = "failed"
	Cancelled State = "cancelled"
	TimedOut  State = "timed_out"
)

// Final reports whether an attempt in this state is over.
func (s State) Final() bool { return s != Queued && s != Running }

// Words is the state as a person reads it: "timed out", not "timed_out".
func (s State) Words() string { return strings.ReplaceAll(string(s), "_", " ") }

// Kinds of task.
const (
	// KindIssue works on an issue and opens a pull request.
	KindIssue = "issue"
	// KindFollowUp applies feedback to a pull request oneshot opened.
	KindFollowUp = "follow_up"
)

// Task is one unit of work on one issue; each run of it is an attempt.
type Task struct {
	ID             string
	Repo           string // owner/name
	RepoID         int64
	InstallationID int64
	Issue          int
	PullRequest    int // the pull request a follow-up applies to
	// ReviewID is the pull request review whose commands a follow-up
	// took whole, or 0.
	ReviewID int64
	// IssueDigest is the issue as the person who asked for the attempt
	// saw it (see DigestOf), or "" when their trigger did not show it.
	IssueDigest string
	// BranchIssue is the issue whose branch the task changes: its own, or
	// for a follow-up the one its pull request's branch was named for. At
	// most one task per branch is live, so two never push over each other.
	BranchIssue  int
	Kind         string
	Requester    string // who started the first attempt
	Instructions string // what the trigger said beyond the command word
	DeliveryID   string // the delivery that created the task
	Attempt      int
	State        State
	CheckRunID   int64 // the current attempt's check run
	// CancelRequested is set when the current attempt was asked to stop;
	// it stays live until it has.
	CancelRequested bool
	// Run names the run of the attempt that set it running: another
	// process may take the attempt over from one that lost its database
	// for a while, and then only its own run's end stands.
	Run     string
	HeadSHA string
	// StatusCommentID is the comment on the issue that shows the task's
	// progress, edited in place across attempts.
	StatusCommentID int64
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Event is one entry of a task's state history.
type Event struct {
	Attempt    int
	State      State
	Actor      string
	DeliveryID string // set when a delivery queued the attempt
	Detail     string
	At         time.Time
}

// Why an attempt's context ends, as context.Cause reports it to the Runner:
// a runner reports each differently.
var (
	ErrCancelled = errors.New("cancelled on request")
	ErrDeadline  = errors.New("the task deadline passed")
	ErrShutdown  = errors.New("the bot is shutting down")
	// ErrTakenOver: another process of the bot took the attempt over
	// (this one lost its database for a while, and the other took it
	// for gone) and runs it, so this run stops.
	ErrTakenOver = errors.New("another process of the bot took the attempt over")
)

// PanicAfterEnd is what a Runner panics with when a panic came after its
// attempt reached an end it has shown, such as a pull request opened: the
// queue records that end, not a failure, and logs Value, the panic's.
type PanicAfterEnd struct {
	State  State
	Detail string
	Value  any
}

// TimeLimit is the cause of an attempt's context ending at a deadline,
// naming the limit that ran out and where it is set, for people to raise
// it: errors.Is(err, ErrDeadline) holds for it.
type TimeLimit struct {
	Limit   time.Duration
	Setting string // as in "queue.task_timeout"
}

func (e *TimeLimit) Error() string {
	return fmt.Sprintf("the time limit of %s (%s) ran out", shortDuration(e.Limit), e.Setting)
}

func (e *TimeLimit) Is(target error) bool { return target == ErrDeadline }

// shortDuration writes d as people set it: 1h, 30m, 1m30s.
func shortDuration(d time.Duration) string {
	if d < time.Second {
		return d.String()
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ErrNotFound is returned when no task matches.
var ErrNotFound = errors.New("task not found")

// ErrLive is returned when the issue, or its branch, already has a queued
// or running task.
var ErrLive = errors.New("the issue already has a live task")

// ErrEarlierWaiting is what an intake returns to be tried again once what
// came before it on the same issue is done: the triggers received before
// it have had their intake (a cancel that overtook the start it means to
// stop), or an attempt being cancelled has ended (a start right after
// the cancel).
var ErrEarlierWaiting = errors.New("a trigger received earlier on the issue is still being taken in")

// Limits cap the attempts started in the last hour on a repository and by
// one person; 0 is no cap. Attempts a shutdown handed back are not
// counted: a deploy must not use up the limits.
type Limits struct{ PerRepo, PerActor int }

// Limited is the error of a start that a limit refused.
type Limited struct {
	ByActor bool // the person's limit, else the repository's
	Started int  // the attempts started in the last hour
}

func (e *Limited) Error() string {
	if e.ByActor {
		return fmt.Sprintf("the person's limit: %d attempts started in the last hour", e.Started)
	}
	return fmt.Sprintf("the repository's limit: %d attempts started in the last hour", e.Started)
}

// IssueOfBranch is the issue a task's branch was named for, or 0 when it
// was named for none. The pipeline names it with the repository's prefix
// then "issue-N"; the prefix may have changed since, and the name ends the
// same whatever it is.
func IssueOfBranch(branch string) int {
	i := strings.LastIndex(branch, "issue-")
	if i < 0 {
		return 0
	}
	digits := branch[i+len("issue-"):]
	n, err := strconv.Atoi(digits)
	if err != nil || n <= 0 || strconv.Itoa(n) != digits {
		return 0
	}
	return n
}

// NewID makes a task ID: short enough to read in a link, random enough
// never to collide. Callers that must name a task before it is recorded (on
// its check run, say) make one; Create makes one otherwise.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}

// IDFor makes the ID of the task a delivery creates. The same delivery
// always names its task the same: an intake tried again after its first
// try made the check run, and lost GitHub's answer, finds that run by the
// task's ID rather than leave it queued for ever beside a second.
func IDFor(deliveryID string) string {
	sum := sha256.Sum256([]byte("oneshot task " + deliveryID))
	return "t" + hex.EncodeToString(sum[:8])
}

type retriedKey struct{}

// Retried marks ctx as that of an intake's try after its first, which may
// have made things on GitHub and lost GitHub's answers.
func Retried(ctx context.Context) context.Context {
	return context.WithValue(ctx, retriedKey{}, true)
}

// IsRetried says whether ctx is that of an intake's try after its first.
func IsRetried(ctx context.Context) bool { return ctx.Value(retriedKey{}) != nil }

// IsID says whether s is an ID NewID or IDFor makes. IDs come back from GitHub, as
// check runs' external IDs.
func IsID(s string) bool {
	if len(s) != 17 || s[0] != 't' {
		return false
	}
	for _, c := range s[1:] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// StartOnID is the external ID of a check run whose start was skipped (a
// limit met, another trigger on the issue first), which no task has: its
// re-run, or its Retry button, starts a task on the issue, as the trigger
// would have, on the issue as the trigger saw it (its digest, when it has
// one: see DigestOf).
func StartOnID(issue int, digest string) string {
	id := startOnPrefix + strconv.Itoa(issue)
	if digest != "" {
		id += "-" + digest
	}
	return id
}

// StartOnIssue is the issue and digest a StartOnID names.
func StartOnIssue(id string) (issue int, digest string, ok bool) {
	rest, ok := strings.CutPrefix(id, startOnPrefix)
	if !ok {
		return 0, "", false
	}
	digits, digest, _ := strings.Cut(rest, "-")
	if digits == "" || digits[0] == '0' || len(digits) > 9 || strings.Trim(digits, "0123456789") != "" ||
		digest != "" && (len(digest) != 64 || strings.Trim(digest, "0123456789abcdef") != "") {
		return 0, "", false
	}
	n, err := strconv.Atoi(digits)
	return n, digest, err == nil
}

const startOnPrefix = "start-on-issue-"

// Start says who starts an attempt, why, and where it shows.
type Start struct {
	Actor      string
	DeliveryID string
	Why        string
	CheckRunID int64
	HeadSHA    string
	// Repo and InstallationID are the repository's name and the App's
	// installation on it as the trigger has them, which correct the
	// task's: a repository may be renamed, and the App installed again,
	// between two attempts.
	Repo           string
	InstallationID int64
	// BranchIssue, when set, corrects the task's: a follow-up recorded
	// before tasks kept their branch holds its pull request's number.
	BranchIssue int
	// IssueDigest, when set, is the issue as the person who asked for the
	// attempt saw it; when not, the task's stays.
	IssueDigest string
	// Limits refuse the attempt, with *Limited, when it would exceed them.
	Limits Limits
}

// Intake decides what a trigger becomes: a task, a reply, nothing. The
// handlers package implements it. Returning an error retries the trigger.
type Intake interface {
	Intake(ctx context.Context, t Trigger) error
	// GiveUp tells whoever sent the trigger that it was not taken: its
	// last try failed with err, and none follows. It goes on after ctx
	// ends, which may be what failed the try.
	GiveUp(ctx context.Context, t Trigger, err error)
}

// Runner runs one attempt of a task and returns its final state (usually
// Succeeded or Failed) with a line saying why. Its context ends on cancel, deadline
// or shutdown, and it must return promptly then. Succeeded stands even when
// the context ended before the runner returned: what it did, such as open
// a pull request, is done.
type Runner interface {
	Run(ctx context.Context, t *Task) (State, string, error)
}

// Notifier shows people what became of a task. Every state change of every
// attempt passes through it, so every way an attempt ends is visible.
type Notifier interface {
	// Changed shows a change. When what shows it (GitHub) fails for now
	// to take an attempt's end, Changed returns the write it still owes;
	// the queue keeps it, across restarts, and hands it to Resend until
	// it goes through.
	Changed(ctx context.Context, t *Task, e Event) (owed []byte)
	// Resend tries an owed write again. An error says it may go through
	// later; a write that never can is logged and forgotten.
	Resend(ctx context.Context, t *Task, owed []byte) error
	// Confirm makes sure that e, an attempt's end as the queue recorded
	// it, shows on the attempt's check run: the queue asks a while after
	// recording it, in case the process died before Changed showed it or
	// before the queue kept what Changed owed. An end shown already is
	// left as it is. An error says it may go through later.
	Confirm(ctx context.Context, t *Task, checkRunID int64, e Event) error
}

// Command says what a trigger asks for.
type Command string

// The commands.
const (
	CommandStart    Command = "start"     // the trigger label, or "/oneshot <instructions>" on an issue
	CommandRetry    Command = "retry"     // "/oneshot retry", or the check run's Retry button
	CommandRerun    Command = "rerun"     // the check run's re-run button
	CommandCancel   Command = "cancel"    // "/oneshot cancel", or the check run's Cancel button
	CommandHelp     Command = "help"      // "/oneshot help"
	CommandFollowUp Command = "follow_up" // "/oneshot <feedback>" on a pull request oneshot opened
)

// Starts says whether the command may start an attempt.
func (c Command) Starts() bool {
	return c == CommandStart || c == CommandFollowUp || c == CommandRetry || c == CommandRerun
}

// Trigger is something a person did on GitHub that may start, retry or stop
// a task. The webhook handlers make it from a payload; the intake decides,
// later and off the webhook's clock, what it becomes.
type Trigger struct {
	DeliveryID     string  `json:"delivery_id"`
	Event          string  `json:"event"`
	Command        Command `json:"command"`
	Repo           string  `json:"repo"`
	RepoID         int64   `json:"repo_id"`
	InstallationID int64   `json:"installation_id"`
	// Issue is the issue or pull request number; 0 for check run buttons,
	// which name the task instead.
	Issue int `json:"issue,omitempty"`
	// PullRequest says Issue is a pull request oneshot opened.
	PullRequest bool `json:"pull_request,omitempty"`
	// Actor is who labelled, commented or pressed the button.
	Actor string `json:"actor"`
	// CommentID is the triggering comment, which gets the reaction.
	CommentID int64 `json:"comment_id,omitempty"`
	// ReviewID is, for a review comment, the review it came in.
	ReviewID int64 `json:"review_id,omitempty"`
	// ThreadID is, for a review comment, the first comment of its thread,
	// which replies answer: GitHub takes replies to that one only.
	ThreadID     int64  `json:"thread_id,omitempty"`
	Instructions string `json:"instructions,omitempty"`
	// TaskID comes from our check run's external_id.
	TaskID     string `json:"task_id,omitempty"`
	CheckRunID int64  `json:"check_run_id,omitempty"`
	// ReceivedAt is when the bot accepted the delivery: the order in which
	// people acted, which intakes running at once do not keep.
	ReceivedAt time.Time `json:"received_at,omitzero"`
	// IssueDigest is the issue's title and body as the person who acted
	// saw them (see DigestOf), when the event carried them.
	IssueDigest string `json:"issue_digest,omitempty"`
}

// DigestOf stands for an issue's title and body: an issue approved for
// work is worked on as it was approved, and an edit since is told by the
// digest changing.
func DigestOf(title, body string) string {
	sum := sha256.Sum256([]byte(title + "\x00" + body))
	return hex.EncodeToString(sum[:])
}

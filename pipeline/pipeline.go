// Package pipeline takes a task from its queue to a pull request whose
// change passed the repository's own checks: setup, gather, implement,
// verify, fix, ship, all in one sandbox session, with every step shown as
// it happens.
//
// The pipeline knows neither webhooks nor the Docker API. It reaches the
// code's home through a Forge (GitHub, or a local repository for bot run),
// the sandbox through Sandbox, the agent through Agent, and people through a
// Reporter. Everything that decides whether a change may ship (the diff, the
// protected paths, the secret scan) is computed on the bot's host from what
// the sandbox hands back, never taken on the sandbox's word.
package pipeline

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/contextgather"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/tasks"
	"github.com/oneshot-dev/oneshot/workspace"
)

// Sandbox starts sessions; *sandbox.Engine is one.
type Sandbox interface {
	Start(ctx context.Context, spec sandbox.Spec) (*sandbox.Session, error)
}

// Agent changes the code in a session, one round at a time.
type Agent interface {
	Run(ctx context.Context, s *sandbox.Session, r Round) (AgentResult, error)
}

// Round is one turn of the agent.
type Round struct {
	// N is 0 for the implementation and 1, 2, ... for fix rounds.
	N int
	// PromptFile is the prompt's path inside the sandbox.
	PromptFile string
	// Dir is the checkout inside the sandbox.
	Dir     string
	Phase   string
	OnEvent func(sandbox.Event)
}

// AgentResult is how a round of the agent ended.
type AgentResult struct {
	ExitCode int
	TimedOut bool
	// OOMKilled says the kernel killed it for memory; Signal names the
	// signal that ended it otherwise, if one did.
	OOMKilled bool
	Signal    string
}

// AgentFactory makes the agent for a task from the repository's agent
// options, which may be empty.
type AgentFactory func(opts config.AgentOptions) (Agent, error)

// Forge is where the code lives and where changes go.
type Forge interface {
	// Checkout fetches the task's base commit into a host workspace.
	Checkout(ctx context.Context, t *tasks.Task) (*Checkout, error)
	// FetchBranch fetches the task's branch into refs/oneshot/branch when
	// there is one to continue, and returns its head, or "" when there is
	// none. A branch whose pull request was closed is none: the task
	// starts afresh and replaces it, and FetchBranch records that in
	// c.Replaces.
	FetchBranch(ctx context.Context, t *tasks.Task, c *Checkout, branch string) (string, error)
	// Gather collects what the task is about: the issue, what trusted
	// people added, linked issues, the repository's guidelines. checkout
	// is the base commit's files.
	Gather(ctx context.Context, t *tasks.Task, checkout fs.FS) (contextgather.Material, error)
	// Identity is who commits (the bot) and who is credited (the
	// requester), as "Name <email>".
	Identity(ctx context.Context, t *tasks.Task) (committer, coAuthor string, err error)
	// Publish pushes the change to its branch and opens or updates the
	// pull request. Once the push is done it goes on whatever ends ctx,
	// and a failure after it is a *NoPullRequestError.
	Publish(ctx context.Context, t *tasks.Task, c *Checkout, pr PullRequest) (Published, error)
}

// Checkout is a task's code on the bot's host. The forge fetches the base
// commit into refs/oneshot/base.
type Checkout struct {
	Repo *workspace.Repo
	// Remote is the URL or path the code comes from and goes to.
	Remote string
	// Base is the commit on the default branch the task starts from.
	Base          string
	DefaultBranch string
	// Dir is removed when the task ends.
	Dir string
	// Config, when set, replaces the repository's .github/oneshot.yml;
	// bot run takes it from --config, the file ConfigName names.
	Config     []byte
	ConfigName string
	// Branch, when set, is the branch the task continues: a follow-up's
	// pull request branch.
	Branch string
	// OpenPullRequest is the number of the pull request open from the
	// branch the task continues, when the attempt began; 0 for none.
	OpenPullRequest int
	// Replaces, when set, is the task's branch as a pull request that was
	// closed left it, which the task starts afresh beside and replaces
	// when it publishes.
	Replaces *ClosedBranch
}

// ClosedBranch is a branch whose pull request was closed, merged or not.
type ClosedBranch struct {
	Head        string
	PullRequest int
}

// PullRequest is what Publish opens or updates.
type PullRequest struct {
	Branch string
	Head   string // the commit to push
	// Continues is the branch's head the attempt built on, when it
	// continued the branch; "" for a branch it makes.
	Continues string
	Base      string // the default branch, where a new pull request goes
	Title     string
	Body      string
	Draft     bool
	Labels    []string
	Reviewers []string
	// Workflows says the change touches .github/workflows/, which GitHub
	// lets a push change only with the App's workflows permission. (Only a
	// repository that unprotects the path gets this far.)
	Workflows bool
}

// ErrPullRequestClosed is Publish's error when the pull request of a
// branch the attempt continued was closed while it ran: pushed, the
// change would show nowhere, or reopen what was merged or turned down.
var ErrPullRequestClosed = errors.New("the branch's pull request was closed while the attempt ran")

// ErrPullRequestReopened is Publish's error when a pull request was opened
// from a branch the attempt was to replace, as the one a closed pull
// request left, while it ran: it holds someone's work now.
var ErrPullRequestReopened = errors.New("a pull request was opened from the branch while the attempt ran")

// NoPullRequestError is Publish's error once the change is pushed: what
// GitHub answered when its pull request was looked for or opened. The
// branch holds the change, which a retry continues and opens the pull
// request of.
type NoPullRequestError struct{ Err error }

func (e *NoPullRequestError) Error() string {
	return "the change was pushed, but its pull request was not opened: " + e.Err.Error()
}

func (e *NoPullRequestError) Unwrap() error { return e.Err }

// Published is where the change went.
type Published struct {
	URL     string
	Number  int
	Updated bool // an open pull request was updated rather than opened
	// Warnings say what could not be done once the pull request was open,
	// as labels or reviewers GitHub refused, each worded to follow "it"
	// (the pull request): "could not label it bug: ...".
	Warnings []string
}

// Reporter shows a task's progress to people.
type Reporter interface {
	// Update shows the report as it stands. It is called at every step
	// change and must return at once; implementations throttle.
	Update(r Report)
	// Log receives the masked output of the step that runs.
	Log(e sandbox.Event)
	// Finish shows the final report, and returns when it is shown.
	Finish(ctx context.Context, r Report)
}

// ReporterFactory makes the reporter of a task's attempt.
type ReporterFactory func(t *tasks.Task) Reporter

// Pipeline runs task attempts. It implements tasks.Runner.
type Pipeline struct {
	Forge    Forge
	Sandbox  Sandbox
	Agent    AgentFactory
	Reporter ReporterFactory
	// Defaults fill what the repository's configuration leaves open.
	Defaults Defaults
	// TaskURL, when set, is where a task's page lives, for links.
	TaskURL func(taskID string) string
	// LogsURL, when set, is where an attempt's output is shown, for
	// links; "" when it is nowhere.
	LogsURL func(t *tasks.Task) string
}

// Defaults are the operator's choices that a repository may narrow.
type Defaults struct {
	Image string
	// Allowed bounds the images and limits a repository may ask for; nil
	// allows anything, as bot run does on its user's own machine.
	Allowed *config.Sandbox
	// Network bounds the hosts a filtered sandbox may reach, whatever the
	// repository allows: where the agent's secrets may be sent.
	Network config.NetworkBounds
	// PromptTokens is the prompt's budget; 0 means
	// config.DefaultPromptTokens.
	PromptTokens int
	// AgentSecrets are handed to the agent's execs, and only to them.
	AgentSecrets map[string]string
	// Command is the word that starts a comment to the bot, which a pull
	// request's description tells reviewers to use; "" is
	// config.DefaultCommand.
	Command string
}

var _ tasks.Runner = (*Pipeline)(nil)

// now is the pipeline's clock.
var now = time.Now

package config

import (
	"path"
	"strings"
	"time"
)

// RepoPath is where a repository keeps its configuration. The bot reads it
// from the default branch only, never from a branch a task wrote, so a task
// cannot change the rules it is held to. docs/repo-config.md is the
// reference for every key.
const RepoPath = ".github/oneshot.yml"

// Repo is how tasks run in one repository: what prepares the checkout, what
// must pass, and what the pull request looks like.
type Repo struct {
	// Setup runs once after checkout, before the agent, as in "go mod download".
	Setup []string `yaml:"setup"`
	// Verify are the checks that must pass before a pull request is opened.
	Verify []Check `yaml:"verify"`
	// FixRounds is how many more rounds the agent gets after verify fails.
	FixRounds int `yaml:"fix_rounds"`
	// Image is the sandbox image; "" is the operator's sandbox.image.
	Image   string      `yaml:"image"`
	Network RepoNetwork `yaml:"network"`
	Limits  RepoLimits  `yaml:"limits"`
	// Timeout ends the whole task; 0 is the operator's queue.task_timeout,
	// which also caps it.
	Timeout time.Duration `yaml:"timeout"`
	// BranchPrefix starts the name of every branch a task pushes.
	BranchPrefix string             `yaml:"branch_prefix"`
	PullRequest  PullRequestOptions `yaml:"pull_request"`
	// ProtectedPaths are paths a task may not change: see Protected.
	ProtectedPaths []string     `yaml:"protected_paths"`
	Agent          AgentOptions `yaml:"agent"`
}

// Defaults for Repo.
const (
	DefaultFixRounds = 2
	// MaxFixRounds bounds FixRounds: each round is a full agent run and a
	// full verify, and a change that fails five times is not converging.
	MaxFixRounds = 5
	// DefaultRepoImage leaves the choice to the operator's sandbox.image.
	DefaultRepoImage = ""
	// DefaultRepoTimeout leaves the whole task to the operator's
	// queue.task_timeout.
	DefaultRepoTimeout = time.Duration(0)
	// DefaultBranchPrefix keeps the bot's branches apart from people's.
	DefaultBranchPrefix = "oneshot/"
	// DefaultProtectedWorkflows is protected by default: a change to a
	// workflow would run with the repository's secrets once pushed.
	DefaultProtectedWorkflows = ".github/workflows/"
	// DefaultProtectedConfig is protected by default too: merged, a change
	// to it would change the rules tasks are held to, so a task could
	// propose to widen its own network or empty its protected paths.
	DefaultProtectedConfig = RepoPath
	// DefaultProtectedSubmodules is protected by default as well: a
	// submodule's address decides what code a checkout with submodules
	// fetches, and what credentials go with the fetch.
	DefaultProtectedSubmodules = ".gitmodules"
)

// Check is one verify command.
type Check struct {
	// Name labels the check in reports; it defaults to the command's first
	// words, as in "go test" for "go test ./...".
	Name string `yaml:"name"`
	// Run is a shell command, run from the root of the checkout.
	Run string `yaml:"run"`
}

// checkName names a check after the first words of its command, up to
// three and before any path, pattern or shell syntax: "go test" for
// "go test ./...", "npm run lint" for itself. A command that starts with
// a path is named by that path.
func checkName(run string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(run), "\n")
	words := strings.Fields(line)
	for i, w := range words {
		if i == maxCheckNameWords || strings.ContainsAny(w, "/&|;<>()$`'\"\\*?[]{}~#") {
			if i == 0 {
				return w
			}
			return strings.Join(words[:i], " ")
		}
	}
	return strings.Join(words, " ")
}

const maxCheckNameWords = 3

// Network modes a repository may choose. They equal the sandbox's modes of
// the same names; config does not import sandbox, which brings Docker.
const (
	NetworkNone     = "none"
	NetworkFiltered = "filtered"
	// NetworkHost is refused in a repository's file: only an operator may
	// give a sandbox the host's network.
	NetworkHost = "host"
)

// RepoNetwork is what the sandbox may reach.
type RepoNetwork struct {
	// Mode is NetworkNone or NetworkFiltered.
	Mode string `yaml:"mode"`
	// Allow lists host name patterns the filtered proxy lets through, as in
	// "proxy.golang.org" or "*.npmjs.org": path.Match globs on the
	// lower-case name, where "*" also matches dots.
	Allow []string `yaml:"allow"`
	// Deny lists patterns refused even when Allow matches.
	Deny []string `yaml:"deny"`
}

// DefaultNetworkMode gives a task no network at all.
const DefaultNetworkMode = NetworkNone

// RepoLimits bound the sandbox. The fields have the types and meanings of
// sandbox.Spec's.
type RepoLimits struct {
	// Memory is a size such as "512m" or "4g".
	Memory string `yaml:"memory"`
	// Disk is the size of the writable work area.
	Disk string `yaml:"disk"`
	// CPUs may be fractional.
	CPUs float64 `yaml:"cpus"`
	// Pids bounds how many processes and threads may exist at once.
	Pids int64 `yaml:"pids"`
}

// Defaults for RepoLimits; they equal the sandbox's own.
const (
	DefaultRepoMemory = "4g"
	DefaultRepoDisk   = "4g"
	DefaultRepoCPUs   = 2.0
	DefaultRepoPids   = 1024
)

// PullRequestOptions shape the pull request a task opens.
type PullRequestOptions struct {
	// Draft opens the pull request as a draft, so that a person marks it
	// ready after reading it.
	Draft bool `yaml:"draft"`
	// Labels are added to the pull request.
	Labels []string `yaml:"labels"`
	// Reviewers are GitHub logins asked to review, besides the person who
	// asked for the task.
	Reviewers []string `yaml:"reviewers"`
}

// DefaultDraft opens pull requests as drafts.
const DefaultDraft = true

// AgentOptions is how the coding agent is run.
type AgentOptions struct {
	// Command is a shell command template; PromptFile in it is replaced by
	// the path of the prompt inside the sandbox. "" is the operator's agent.
	Command string `yaml:"command"`
	// Timeout ends one round of the agent; 0 is the operator's
	// agent.timeout.
	Timeout time.Duration `yaml:"timeout"`
}

// PromptFile is the placeholder in AgentOptions.Command for the path of
// the prompt inside the sandbox; PromptFileVariable holds the path too,
// in the agent's environment.
const (
	PromptFile         = "{prompt_file}"
	PromptFileVariable = "ONESHOT_PROMPT_FILE"
)

// FindsPrompt says whether an agent command finds its prompt: it names
// the placeholder or the variable. One that names neither is most likely
// an agent told nothing, run until its timeout.
func FindsPrompt(command string) bool {
	return strings.Contains(command, PromptFile) || strings.Contains(command, PromptFileVariable)
}

// NoPrompt says what an agent command that does not find its prompt
// lacks.
const NoPrompt = "names neither " + PromptFile + " nor $" + PromptFileVariable + ", so the agent would never see its prompt"

// Defaults for AgentOptions: both leave the choice to the operator.
const (
	DefaultAgentCommand     = ""
	DefaultRepoAgentTimeout = time.Duration(0)
)

// DefaultRepo is the configuration of a repository without a file, before
// DetectRepo adds setup and verify commands.
func DefaultRepo() Repo {
	return Repo{
		FixRounds:      DefaultFixRounds,
		Image:          DefaultRepoImage,
		Network:        RepoNetwork{Mode: DefaultNetworkMode},
		Limits:         RepoLimits{Memory: DefaultRepoMemory, Disk: DefaultRepoDisk, CPUs: DefaultRepoCPUs, Pids: DefaultRepoPids},
		Timeout:        DefaultRepoTimeout,
		BranchPrefix:   DefaultBranchPrefix,
		PullRequest:    PullRequestOptions{Draft: DefaultDraft},
		ProtectedPaths: []string{DefaultProtectedWorkflows, DefaultProtectedConfig, DefaultProtectedSubmodules},
		Agent:          AgentOptions{Command: DefaultAgentCommand, Timeout: DefaultRepoAgentTimeout},
	}
}

// Protected reports whether a task may not change name, a path relative to
// the repository's root with forward slashes. A pattern in ProtectedPaths
// protects the path it names or, as a path.Match glob, the paths it
// matches, where "*" does not cross a "/", and everything under them, with
// or without a trailing "/". So are the paths above a protected one,
// written out in the pattern (.github, for .github/workflows/). Paths are
// case-sensitive, as git's are. A path that is empty, absolute, or reaches
// outside the repository is protected: it cannot be a legitimate change.
func (r Repo) Protected(name string) bool {
	p, ok := cleanRepoPath(name)
	if !ok {
		return true
	}
	for _, pattern := range r.ProtectedPaths {
		if protects(pattern, p) {
			return true
		}
	}
	return false
}

// protects reports whether pattern covers p, a clean path.
func protects(pattern, p string) bool {
	pat, ok := cleanRepoPath(pattern)
	if !ok {
		return false // validation refuses such a pattern
	}
	// A path above a protected one (.github, above .github/workflows/),
	// as a link or a file in its directory's place, would lead to or
	// replace what is under it.
	if strings.HasPrefix(pat, p+"/") {
		return true
	}
	// A pattern protects what it matches and, as that may be a directory
	// whether or not the pattern ends in a slash, everything under it:
	// compare it with as many leading components of p, so that a glob in
	// it, as in "*/secrets/", still matches one component each.
	n := strings.Count(pat, "/") + 1
	parts := strings.SplitN(p, "/", n+1)
	if len(parts) < n {
		return false
	}
	// The pattern as written matches too: a name holding [ ] (a route
	// such as pages/[id].ts) is a glob's character class to path.Match.
	lead := strings.Join(parts[:n], "/")
	match, _ := path.Match(pat, lead)
	return match || lead == pat
}

// cleanRepoPath is name cleaned as path.Clean does ("./a//b/" is "a/b"),
// or false when it does not name something inside the repository.
func cleanRepoPath(name string) (string, bool) {
	if name == "" || strings.HasPrefix(name, "/") {
		return "", false
	}
	p := path.Clean(name)
	if p == "." || p == ".." || strings.HasPrefix(p, "../") {
		return "", false
	}
	return p, true
}

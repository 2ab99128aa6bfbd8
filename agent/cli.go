// Package agent runs the coding agent. CLI runs an agent program inside the
// sandbox, which is how users plug in claude, codex, opencode, pi or aider:
// the pipeline writes the prompt to a file and the command reads it.
package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/sandbox"
)

// CLI is an agent program run with bash in the checkout.
type CLI struct {
	// Command is the template, as in "aider --message-file {prompt_file}".
	Command string
	Timeout time.Duration
	// Secrets names the session's secrets the agent gets, such as its API
	// key; verify and setup commands never see them.
	Secrets []string
}

var _ pipeline.Agent = (*CLI)(nil)

// Run runs one round. The round number and the prompt's path are also in
// the environment, as ONESHOT_ROUND and ONESHOT_PROMPT_FILE.
func (c *CLI) Run(ctx context.Context, s *sandbox.Session, r pipeline.Round) (pipeline.AgentResult, error) {
	script := withPrompt(c.Command, r.PromptFile)
	res, err := s.Exec(ctx, sandbox.Command{
		Script:  script,
		Dir:     r.Dir,
		Env:     map[string]string{"ONESHOT_ROUND": strconv.Itoa(r.N), config.PromptFileVariable: r.PromptFile},
		Secrets: c.Secrets,
		Timeout: c.Timeout,
		// What the agent leaves running could change the code after the
		// checks passed, or hold its secrets: it ends with the agent.
		KillBackground: true,
		Phase:          r.Phase,
		OnEvent:        r.OnEvent,
	})
	if err != nil {
		return pipeline.AgentResult{}, err
	}
	return pipeline.AgentResult{ExitCode: res.ExitCode, TimedOut: res.TimedOut, OOMKilled: res.OOMKilled, Signal: res.Signal}, nil
}

// Defaults are the operator's agent, used where a repository names none.
type Defaults struct {
	Command string
	Timeout time.Duration
	Secrets []string
	// TrustRepoCommands gives Secrets to a repository's own command too.
	TrustRepoCommands bool
}

// DefaultsOf are the operator's agent as the bot's settings give it.
func DefaultsOf(a config.Agent) Defaults {
	return Defaults{Command: a.Command, Timeout: a.Timeout, Secrets: a.SecretNames(), TrustRepoCommands: a.TrustRepoCommands}
}

// Factory makes the pipeline's agent for a task: the repository's command
// and timeout where it sets them, else the operator's, else
// config.DefaultAgentTimeout for the timeout.
func Factory(d Defaults) pipeline.AgentFactory {
	return func(opts config.AgentOptions) (pipeline.Agent, error) {
		command := cmp.Or(opts.Command, d.Command)
		if command == "" {
			return nil, errors.New("no agent command: set agent.command in .github/oneshot.yml, or ONESHOT_AGENT_COMMAND for the bot (bot run --agent-command for a run)")
		}
		if !config.FindsPrompt(command) {
			return nil, fmt.Errorf("the agent command %q %s", command, config.NoPrompt)
		}
		if command != d.Command && len(d.Secrets) > 0 && !d.TrustRepoCommands {
			return nil, fmt.Errorf("this repository names its own agent.command, and this bot gives its agent secrets (%s) only to its own agent command unless its operator sets agent.trust_repo_commands",
				strings.Join(d.Secrets, ", "))
		}
		timeout := cmp.Or(opts.Timeout, d.Timeout, config.DefaultAgentTimeout)
		return &CLI{Command: command, Timeout: timeout, Secrets: d.Secrets}, nil
	}
}

// withPrompt puts the prompt's path where the command says {prompt_file}.
// The path is the bot's own, of plain characters, so it goes in as it is,
// which works inside the command's own quotes ("{prompt_file}") as well as
// outside them; any other path is quoted.
func withPrompt(command, path string) string {
	if !plainPath.MatchString(path) {
		path = sandbox.Quote(path)
	}
	return strings.ReplaceAll(command, config.PromptFile, path)
}

var plainPath = regexp.MustCompile(`^[A-Za-z0-9/._-]+$`)

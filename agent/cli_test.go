package agent

import (
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
}

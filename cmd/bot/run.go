package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/oneshot-dev/oneshot/agent"
	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/forge"
	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/tasks"
)

// runTask runs the pipeline once on a local repository, without GitHub:
// for trying oneshot out and for debugging a repository's setup.
func runTask(args []string, out io.Writer) error {
	fs := newFlagSet("run")
	repoDir := fs.String("repo-dir", ".", "the repository to work on; it is read, and gets a branch, nothing else")
	task := fs.String("task", "", "what to do, as an issue would say it (required)")
	agentCommand := fs.String("agent-command", os.Getenv("ONESHOT_AGENT_COMMAND"), "the agent to run in the sandbox; {prompt_file} is the prompt's path")
	configFile := fs.String("config", "", "a .github/oneshot.yml to use instead of the repository's")
	image := fs.String("image", sandbox.DefaultImage, "the sandbox image, unless the configuration names one")
	patch := fs.String("patch", "", "where to write the change as a patch (default: oneshot-TASK.patch in the current directory)")
	timeout := fs.Duration("timeout", config.DefaultTaskTimeout, "give up after this long")
	quiet := fs.Bool("quiet", false, "show the steps, not their output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if strings.TrimSpace(*task) == "" {
		return errors.New("run needs --task")
	}
	// Asked as the fetch will ask it, and said here in one line rather
	// than by git in the middle of the setup step.
	repoPath := mustAbs(*repoDir)
	if head, err := exec.Command("git", "ls-remote", "--quiet", repoPath, "HEAD").Output(); err != nil || len(head) == 0 {
		return fmt.Errorf("--repo-dir %s is not a git repository with a commit to start from", *repoDir)
	}
	var override []byte
	if *configFile != "" {
		data, err := os.ReadFile(*configFile)
		if err != nil {
			return err
		}
		override = data
	}
	t := &tasks.Task{ID: tasks.NewID(), Repo: filepath.Base(repoPath), Kind: tasks.KindIssue,
		Requester: os.Getenv("USER"), Attempt: 1, State: tasks.Running}
	if *patch == "" {
		*patch = "oneshot-" + t.ID + ".patch"
	}
	title, body := splitTask(*task)

	engine, err := sandbox.NewEngine(sandbox.Options{Owner: "oneshot-run"})
	if err != nil {
		return err
	}
	defer engine.Close()
	factory := agent.Factory(agent.Defaults{})
	if *agentCommand != "" {
		// The command line wins over the repository's choice.
		repoAgent := factory
		factory = func(opts config.AgentOptions) (pipeline.Agent, error) {
			opts.Command = *agentCommand
			return repoAgent(opts)
		}
	}
	p := &pipeline.Pipeline{
		Forge: &forge.Local{Dir: *repoDir, Title: title, Body: body, PatchFile: *patch,
			Committer: "oneshot <oneshot@localhost>", Config: override},
		Sandbox:  engine,
		Agent:    factory,
		Reporter: func(*tasks.Task) pipeline.Reporter { return pipeline.NewConsole(out, !*quiet) },
		Defaults: pipeline.Defaults{Image: *image, PromptTokens: config.DefaultPromptTokens},
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	go func() {
		if _, ok := <-signals; ok {
			cancel(tasks.ErrCancelled)
		}
	}()
	ctx, stop := context.WithTimeoutCause(ctx, *timeout, tasks.ErrDeadline)
	defer stop()

	state, reason, err := p.Run(ctx, t)
	if err != nil {
		return err
	}
	if state != tasks.Succeeded {
		return fmt.Errorf("%s: %s", state, reason)
	}
	return nil
}

func mustAbs(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return abs
}

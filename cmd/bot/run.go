package main

import (
	"bytes"
	"cmp"
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
	"github.com/oneshot-dev/oneshot/workspace"
)

// runTask runs the pipeline once on a local repository, without GitHub:
// for trying oneshot out and for debugging a repository's setup.
func runTask(args []string, out io.Writer) error {
	fs := newFlagSet("run")
	repoDir := fs.String("repo-dir", ".", "the repository to work on; it is read, and gets a branch, nothing else")
	task := fs.String("task", "", "what to do, as an issue would say it (required)")
	agentCommand := fs.String("agent-command", "", "the agent to run in the sandbox, in place of the repository's; {prompt_file} is the prompt's path (default: the repository's agent.command, else ONESHOT_AGENT_COMMAND)")
	configFile := fs.String("config", "", "a repository's settings file, read in place of its .github/oneshot.yml and checked before anything runs; the bot's own settings, the agent's and the sandbox's, come from the file ONESHOT_CONFIG names and the environment, as for bot serve")
	image := fs.String("image", "", "the sandbox image, unless the repository's configuration names one (default: the bot's sandbox.image)")
	patch := fs.String("patch", "", "where to write the change as a patch, a file that does not exist yet (default: oneshot-TASK.patch in the temporary directory)")
	timeout := fs.Duration("timeout", config.DefaultTaskTimeout, "give up after this long")
	quiet := fs.Bool("quiet", false, "show the steps, not their output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*task) == "" {
		return errors.New("run needs --task")
	}
	if err := checkIssue([]byte(*task), "in --task"); err != nil {
		return err
	}
	if *timeout <= 0 {
		return fmt.Errorf("--timeout is %v; it must be positive", *timeout)
	}
	// The agent and the sandbox as the bot would run them, from its
	// configuration: the agent's secrets, which its API key usually is,
	// and the bounds on where a sandbox may send them.
	bot, err := loadLocal(os.Getenv("ONESHOT_CONFIG"))
	if err != nil {
		return err
	}
	agentCfg := bot.Agent
	secrets, err := agentSecrets(agentCfg)
	if err != nil {
		return err
	}
	// Asked as the fetch will ask it, and said here in one line rather
	// than by git in the middle of the setup step. A directory inside a
	// repository means the repository.
	repoPath, err := repositoryOf(*repoDir)
	if err != nil {
		return err
	}
	if uncommitted(repoPath) {
		fmt.Fprintln(out, "note: the working tree has changes not committed; the task starts from HEAD without them, and leaves them as they are")
	}
	if *patch != "" {
		if _, err := os.Lstat(*patch); err == nil {
			return fmt.Errorf("--patch %s exists; oneshot writes a new file and overwrites none", *patch)
		}
		// Said now, not after the whole task ran.
		if info, err := os.Stat(filepath.Dir(*patch)); err != nil || !info.IsDir() {
			return fmt.Errorf("--patch %s: its directory %s is not there", *patch, filepath.Dir(*patch))
		}
	}
	var override []byte
	if *configFile != "" {
		data, err := os.ReadFile(*configFile)
		if err != nil {
			return fmt.Errorf("--config %s: %w", *configFile, err)
		}
		// The pipeline reads it again, in the sandbox's task; a mistake
		// is said here, before Docker is asked for anything.
		if _, err := config.ParseRepoFile(*configFile, data); err != nil {
			return err
		}
		override = data
	}
	t := &tasks.Task{ID: tasks.NewID(), Repo: filepath.Base(repoPath), Kind: tasks.KindIssue,
		Requester: os.Getenv("USER"), Attempt: 1, State: tasks.Running}
	if *patch == "" {
		// Not in the current directory, which may be the repository's
		// working tree: that stays as it was.
		*patch = filepath.Join(os.TempDir(), "oneshot-"+t.ID+".patch")
	}
	title, body := splitTask(*task)

	engine, err := sandbox.NewEngine(sandbox.Options{Owner: "oneshot-run"})
	if err != nil {
		return err
	}
	defer engine.Close()
	// A bot run killed outright could not remove its sandbox, which
	// stopped as it died; those of bot runs still going are left alone.
	if n, err := engine.ReapEnded(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "bot: could not remove the sandboxes earlier bot runs left:", err)
	} else if n > 0 {
		fmt.Fprintf(os.Stderr, "bot: removed %d sandboxes earlier bot runs left\n", n)
	}
	defaults := agent.DefaultsOf(agentCfg)
	factory := agent.Factory(defaults)
	if *agentCommand != "" {
		// The command line wins over the repository's choice, as the
		// operator's own command, which gets the agent's secrets.
		defaults.Command = *agentCommand
		operators := agent.Factory(defaults)
		factory = func(opts config.AgentOptions) (pipeline.Agent, error) {
			opts.Command = ""
			return operators(opts)
		}
	}
	p := &pipeline.Pipeline{
		Forge: &forge.Local{Dir: repoPath, Title: title, Body: body, PatchFile: *patch,
			Committer: "oneshot <oneshot@localhost>", Config: override, ConfigName: *configFile},
		Sandbox:  engine,
		Agent:    factory,
		Reporter: func(*tasks.Task) pipeline.Reporter { return pipeline.NewConsole(out, !*quiet) },
		Defaults: pipeline.Defaults{Image: cmp.Or(*image, bot.Sandbox.Image), Network: bot.Sandbox.Network,
			PromptTokens: agentCfg.PromptTokens, AgentSecrets: secrets},
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	go func() {
		if _, ok := <-signals; ok {
			// The next Ctrl-C is the system's again, should the task's
			// clean-up hang.
			signal.Stop(signals)
			fmt.Fprintln(os.Stderr, "bot: stopping the task and removing its sandbox; Ctrl-C again quits at once")
			cancel(tasks.ErrCancelled)
		}
	}()
	ctx, stop := context.WithTimeoutCause(ctx, *timeout, &tasks.TimeLimit{Limit: *timeout, Setting: "bot run --timeout"})
	defer stop()

	state, reason, err := p.Run(ctx, t)
	if err != nil {
		return err
	}
	if state != tasks.Succeeded {
		return fmt.Errorf("%s: %s", state.Words(), reason)
	}
	return nil
}

// uncommitted says whether the work tree of the repository at path has
// changes not committed, files git does not ignore among them.
func uncommitted(path string) bool {
	status := exec.Command("git", "--no-optional-locks", "-C", path, "status", "--porcelain")
	status.Env = workspace.HostEnv()
	changed, _ := status.Output()
	return len(bytes.TrimSpace(changed)) > 0
}

// repositoryOf returns the repository dir is in, or is: its top-level
// directory, or a bare repository's own; or an error saying it is none,
// or has no commit to start from.
func repositoryOf(dir string) (string, error) {
	// git's own words say why it will not read a directory (another user's
	// repository: "dubious ownership"); GIT_DIR and its kind in the
	// environment would name another repository.
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Env = workspace.HostEnv()
		out, err := cmd.Output()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if line, _, _ := strings.Cut(strings.TrimSpace(string(exit.Stderr)), "\n"); line != "" {
				err = errors.New(line)
			}
		}
		return strings.TrimSpace(string(out)), err
	}
	notOne := func(err error) error {
		if errors.Is(err, exec.ErrNotFound) {
			return errors.New("bot run reads the repository with git, which is not on PATH")
		}
		return fmt.Errorf("--repo-dir %s is not a git repository with a commit to start from (git: %v)", dir, err)
	}
	path, err := git("-C", dir, "rev-parse", "--show-toplevel")
	if err != nil || path == "" {
		// A bare repository has no top level; it is its own directory.
		if path, err = git("-C", dir, "rev-parse", "--absolute-git-dir"); err != nil {
			return "", notOne(err)
		}
	}
	if format, _ := git("-C", path, "rev-parse", "--show-object-format"); format != "" && format != "sha1" {
		return "", fmt.Errorf("--repo-dir %s is a %s repository; oneshot works with SHA-1 repositories only", dir, strings.ToUpper(format))
	}
	if head, err := git("ls-remote", "--quiet", path, "HEAD"); err != nil || head == "" {
		if err == nil {
			err = errors.New("no commit on HEAD")
		}
		return "", notOne(err)
	}
	return path, nil
}

func mustAbs(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return abs
}

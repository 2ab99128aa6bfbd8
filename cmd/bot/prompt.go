package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/contextgather"
	"github.com/oneshot-dev/oneshot/forge"
	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/tasks"
	"github.com/oneshot-dev/oneshot/workspace"
)

// prompt prints the prompt a task would get: for an issue on GitHub
// (--repo and --number, with the bot's configuration), or for a local
// checkout and an issue file (--dir and --issue).
func prompt(args []string, out io.Writer) error {
	fs := newFlagSet("prompt")
	dir := fs.String("dir", "", "a local checkout (with --issue)")
	issueFile := fs.String("issue", "", "a file holding the issue's text, its title on the first line")
	repoName := fs.String("repo", "", "owner/name of a repository the App is installed on (with --number)")
	number := fs.Int("number", 0, "the issue's number on GitHub")
	configPath := fs.String("config", os.Getenv("ONESHOT_CONFIG"), "the bot's configuration, for --repo (with --dir, ONESHOT_CONFIG's is read for the budget)")
	budget := fs.Int("budget", 0, fmt.Sprintf("the prompt's budget in tokens (default: with --repo, the bot's agent.prompt_tokens; with --dir, agent.prompt_tokens of ONESHOT_CONFIG and the environment, else %d, as bot run takes it)", config.DefaultPromptTokens))
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *budget != 0 && *budget < config.MinPromptTokens {
		// As agent.prompt_tokens: less holds the task and its rules but
		// none of the issue, which the prompt would leave out unsaid.
		return fmt.Errorf("--budget is %d; it must be at least %d, or 0 for the default", *budget, config.MinPromptTokens)
	}
	if *number < 0 {
		return fmt.Errorf("--number is %d; an issue's number is positive", *number)
	}
	if _, _, ok := githubapi.SplitFullName(*repoName); *repoName != "" && !ok {
		return fmt.Errorf("--repo %q is not owner/name", *repoName)
	}
	local, remote := *dir != "" || *issueFile != "", *repoName != "" || *number != 0
	if local && remote {
		return errors.New("prompt takes --dir and --issue, or --repo and --number, not both")
	}
	if local && flagGiven(fs, "config") {
		// Said, not ignored: someone trying a repository's settings out
		// would take the prompt for theirs.
		return errors.New("--config is the bot's configuration, for --repo; with --dir the checkout's own .github/oneshot.yml is read")
	}
	ctx := context.Background()
	switch {
	case *dir != "" && *issueFile != "":
		text, err := readIssue(*issueFile)
		if err != nil {
			return err
		}
		title, body := splitTask(text)
		top, committed := checkoutTop(*dir)
		t := &tasks.Task{ID: tasks.NewID(), Repo: filepath.Base(mustAbs(top)), Requester: os.Getenv("USER")}
		// The budget bot run would give the agent: the bot's.
		bot, err := loadLocal(*configPath)
		if err != nil {
			return err
		}
		files, done, err := checkoutFiles(ctx, top, committed, t)
		if err != nil {
			return fmt.Errorf("--dir %s: %w", *dir, err)
		}
		defer done()
		m := contextgather.Local(t, title, body, files)
		return printPrompt(ctx, out, t, m, files, "the checkout", cmp.Or(*budget, bot.Agent.PromptTokens))
	case *repoName != "" && *number > 0:
		cfg, err := config.Load(*configPath, nil)
		if err != nil {
			return err
		}
		warnOfUnknownVariables(cfg)
		return githubPrompt(ctx, out, cfg, *repoName, *number, cmp.Or(*budget, cfg.Agent.PromptTokens))
	default:
		return errors.New("prompt needs --dir and --issue, or --repo and --number")
	}
}

// settingsInTheTree refuses a checkout whose .github/oneshot.yml, or
// its directory, is a link, as a task refuses it: the prompt would
// otherwise be made with settings no task would run with, or fail with
// the root's bare "path escapes from parent".
func settingsInTheTree(top string) error {
	for _, name := range []string{path.Dir(config.RepoPath), config.RepoPath} {
		info, err := os.Lstat(filepath.Join(top, filepath.FromSlash(name)))
		if err == nil && info.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s in %s is a link, which a task refuses: oneshot reads its settings only from a file in the tree", name, top)
		}
	}
	return nil
}

// checkoutFiles are the files of the checkout at top a task would read
// (see checkoutTree), whose settings file, like a task's, must be one in
// the tree.
func checkoutFiles(ctx context.Context, top string, committed bool, t *tasks.Task) (files fs.FS, done func(), err error) {
	if !committed {
		if err := settingsInTheTree(top); err != nil {
			return nil, nil, err
		}
	}
	return checkoutTree(ctx, top, committed, t, pipeline.SettingsFileInTree)
}

// checkoutTree are the files of the checkout at top a task would read:
// those of HEAD, as bot run starts from it, when top is a repository with
// a commit (files it ignores, such as local settings with keys in them,
// are no part of it), checked by check when it is set; else the
// directory's own. done removes what was written for them.
func checkoutTree(ctx context.Context, top string, committed bool, t *tasks.Task,
	check func(context.Context, *pipeline.Checkout) error) (files fs.FS, done func(), err error) {
	if !committed {
		// A root, not os.DirFS: the checkout's links may not lead out of it.
		root, err := os.OpenRoot(top)
		if err != nil {
			return nil, nil, err
		}
		return root.FS(), func() { root.Close() }, nil
	}
	if uncommitted(top) {
		fmt.Fprintln(os.Stderr, "note: the working tree has changes not committed; a task starts from HEAD, without them, and so does this")
	}
	co, err := (&forge.Local{Dir: top}).Checkout(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	done = func() { os.RemoveAll(co.Dir) }
	if check != nil {
		if err := check(ctx, co); err != nil {
			done()
			return nil, nil, err
		}
	}
	if files, err = pipeline.ExportTree(ctx, co, co.Base); err != nil {
		done()
		return nil, nil, err
	}
	return files, done, nil
}

// checkoutTop is the top of the git repository dir is part of, or dir
// itself: a task sees the whole repository, its guidelines at the root
// too, whichever of its directories it is asked about from. A directory
// the repository has not committed (one it ignores, a project of its own
// kept inside another's work tree) is no part of it, so it stays itself.
// committed says whether the top is a repository's, with a commit.
func checkoutTop(dir string) (top string, committed bool) {
	git := func(args ...string) (string, bool) {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = workspace.HostEnv() // GIT_DIR would name another repository
		out, err := cmd.Output()
		return strings.TrimSuffix(string(out), "\n"), err == nil
	}
	top, ok := git("rev-parse", "--show-toplevel")
	if !ok || top == "" {
		return dir, false
	}
	if held, ok := git("ls-tree", "HEAD", "--", "."); !ok || held == "" {
		if prefix, _ := git("rev-parse", "--show-prefix"); prefix != "" {
			return dir, false
		}
	}
	_, committed = git("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
	return top, committed
}

// githubPrompt gathers an issue's context as a task would: the App's
// installation on the repository, the default branch's head, trusted
// comments, linked issues and guidelines.
func githubPrompt(ctx context.Context, out io.Writer, cfg config.App, repoName string, number, budget int) error {
	clients, err := githubapi.NewClientCreator(cfg.GitHub, version, githubapi.RetryPolicy{})
	if err != nil {
		return err
	}
	owner, name, _ := githubapi.SplitFullName(repoName) // checked with the flags
	app, err := clients.NewAppClient()
	if err != nil {
		return err
	}
	inst, _, err := app.Apps.FindRepositoryInstallation(ctx, owner, name)
	if err != nil {
		return fmt.Errorf("the App's installation on %s: %w", repoName, err)
	}
	t := &tasks.Task{ID: tasks.NewID(), Repo: repoName, InstallationID: inst.GetID(), Issue: number, Kind: tasks.KindIssue}
	f := &forge.GitHub{Clients: clients, App: cfg.GitHub}
	co, err := f.Checkout(ctx, t)
	if err != nil {
		return err
	}
	defer os.RemoveAll(co.Dir)
	checkout, err := pipeline.ExportTree(ctx, co, co.Base)
	if err != nil {
		return err
	}
	m, err := f.Gather(ctx, t, checkout)
	if err != nil {
		return err
	}
	return printPrompt(ctx, out, t, m, checkout, co.DefaultBranch, budget)
}

// printPrompt prints the prompt as the pipeline makes it, with the
// checkout's .github/oneshot.yml or the settings detected without one.
func printPrompt(ctx context.Context, out io.Writer, t *tasks.Task, m contextgather.Material, checkout fs.FS, branch string, budget int) error {
	cfg, _, err := pipeline.RepoConfig(checkout, branch)
	if err != nil {
		return err
	}
	prompt, err := pipeline.Prompt(ctx, m, checkout, cfg, pipeline.Branch(cfg, t), budget)
	if err != nil {
		return err
	}
	_, err = io.WriteString(out, prompt)
	return err
}

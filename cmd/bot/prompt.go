package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/contextgather"
	"github.com/oneshot-dev/oneshot/forge"
	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/tasks"
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
	configPath := fs.String("config", os.Getenv("ONESHOT_CONFIG"), "the bot's configuration, for --repo")
	budget := fs.Int("budget", 0, "the prompt's budget in tokens (default: the bot's agent.prompt_tokens)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	switch {
	case *dir != "" && *issueFile != "":
		text, err := readIssue(*issueFile)
		if err != nil {
			return err
		}
		title, body, _ := strings.Cut(strings.TrimSpace(text), "\n")
		t := &tasks.Task{ID: tasks.NewID(), Repo: filepath.Base(mustAbs(*dir)), Requester: os.Getenv("USER")}
		checkout := os.DirFS(*dir)
		m := contextgather.Local(t, title, body, checkout)
		return printPrompt(out, m, checkout, "oneshot/task-"+t.ID, cmpBudget(*budget, config.DefaultPromptTokens))
	case *repoName != "" && *number > 0:
		cfg, err := config.Load(*configPath, nil)
		if err != nil {
			return err
		}
		return githubPrompt(ctx, out, cfg, *repoName, *number, cmpBudget(*budget, cfg.Agent.PromptTokens))
	default:
		return errors.New("prompt needs --dir and --issue, or --repo and --number")
	}
}

// githubPrompt gathers an issue's context as a task would: the App's
// installation on the repository, the default branch's head, trusted
// comments, linked issues and guidelines.
func githubPrompt(ctx context.Context, out io.Writer, cfg config.App, repoName string, number, budget int) error {
	clients, err := githubapi.NewClientCreator(cfg.GitHub, version, githubapi.RetryPolicy{})
	if err != nil {
		return err
	}
	owner, name, ok := strings.Cut(repoName, "/")
	if !ok {
		return fmt.Errorf("--repo %q is not owner/name", repoName)
	}
	app, err := clients.NewAppClient()
	if err != nil {
		return err
	}
	inst, _, err := app.Apps.FindRepositoryInstallation(ctx, owner, name)
	if err != nil {
		return fmt.Errorf("the App's installation on %s: %w", repoName, err)
	}
	botLogin, err := githubapi.BotLogin(ctx, clients)
	if err != nil {
		return err
	}
	t := &tasks.Task{ID: tasks.NewID(), Repo: repoName, InstallationID: inst.GetID(), Issue: number, Kind: tasks.KindIssue}
	f := &forge.GitHub{Clients: clients, App: cfg.GitHub, BotLogin: botLogin}
	co, err := f.Checkout(ctx, t)
	if err != nil {
		return err
	}
	defer os.RemoveAll(co.Dir)
	tree := filepath.Join(co.Dir, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		return err
	}
	if err := co.Repo.Export(ctx, co.Base, tree); err != nil {
		return err
	}
	checkout := os.DirFS(tree)
	m, err := f.Gather(ctx, t, checkout)
	if err != nil {
		return err
	}
	return printPrompt(out, m, checkout, "oneshot/issue-"+fmt.Sprint(number), budget)
}

// printPrompt ranks the files and assembles the prompt, with the checks
// of the checkout's .github/oneshot.yml or those detected.
func printPrompt(out io.Writer, m contextgather.Material, checkout fs.FS, branch string, budget int) error {
	repoCfg := config.DefaultRepo()
	if data, err := fs.ReadFile(checkout, config.RepoPath); err == nil {
		if repoCfg, err = config.ParseRepo(data); err != nil {
			return err
		}
	} else if detected, _, err := config.DetectRepo(checkout.(config.RepoFiles)); err == nil {
		repoCfg = detected
	}
	text := strings.Join([]string{m.Issue.Title, m.Issue.Body, m.Instructions}, "\n")
	for _, c := range m.Comments {
		text += "\n" + c.Body
	}
	ranked, err := contextgather.Locate(checkout, text)
	if err != nil {
		return err
	}
	var verify []string
	for _, c := range repoCfg.Verify {
		verify = append(verify, c.Run)
	}
	_, err = io.WriteString(out, contextgather.Assemble(contextgather.PromptInput{
		Material: m, Branch: branch, Ranked: ranked, Files: checkout,
		Verify: verify, Protected: repoCfg.ProtectedPaths, Budget: budget,
	}))
	return err
}

func cmpBudget(flag, def int) int {
	if flag > 0 {
		return flag
	}
	return def
}

package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/contextgather"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/tasks"
	"github.com/oneshot-dev/oneshot/workspace"
)

// Where things are inside the sandbox. The state directory holds what the
// pipeline exchanges with the session; the agent could read it, and nothing
// in it is secret.
const (
	repoDir    = "/sandbox/repo"
	stateDir   = "/sandbox/.oneshot"
	inBundle   = stateDir + "/in.bundle"
	outBundle  = stateDir + "/out.bundle"
	commitMsg  = stateDir + "/commit-message"
	configPath = ".github/oneshot.yml"

	// stepLogSize is how much of a step's output is kept to show: GitHub
	// takes at most 65,535 characters of check run text.
	stepLogSize = 48 << 10
	// failureTail is how much of a failing command's output goes into a
	// prompt, a comment or a check run summary.
	failureTail = 6 << 10
	// finishTimeout bounds the final report, which runs after the
	// attempt's own context may have ended.
	finishTimeout = 2 * time.Minute
)

// Run runs one attempt of a task. It reports everything as it goes and
// returns the attempt's end; an error means the pipeline itself broke.
func (p *Pipeline) Run(ctx context.Context, t *tasks.Task) (tasks.State, string, error) {
	r := &run{p: p, task: t, reporter: p.Reporter(t), started: now()}
	r.report = Report{Task: t, Steps: []Step{{Name: "setup"}, {Name: "gather"}, {Name: "implement"}, {Name: "verify"}, {Name: "ship"}}}
	if p.TaskURL != nil {
		r.report.TaskURL = p.TaskURL(t.ID)
	}
	for i := range r.report.Steps {
		r.report.Steps[i].State = StepPending
	}
	r.reporter.Update(r.report.clone())

	out := r.execute(ctx)
	r.report.Final = &out
	finishCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	r.reporter.Finish(finishCtx, r.report.clone())
	return out.State, out.Reason, nil
}

// run is one attempt in progress.
type run struct {
	p        *Pipeline
	task     *tasks.Task
	reporter Reporter
	report   Report
	started  time.Time
	current  int // the running step's index
	stepLog  *sandbox.OutputBuffer

	cfg     config.Repo
	co      *Checkout
	session *sandbox.Session
	agent   Agent
	branch  string
	start   string // the commit the branch starts from
	title   string // the issue's
	prompt  string
}

// execute runs the steps and says how the attempt ended.
func (r *run) execute(ctx context.Context) (out Outcome) {
	stopDeadline := func() {}
	defer func() {
		// Judged before the repository's deadline is released, which
		// would otherwise end ctx on every way out.
		if ctx.Err() != nil {
			out = r.interrupted(ctx)
		}
		stopDeadline()
		r.skipPending()
	}()
	defer r.cleanup()

	for _, step := range []struct {
		name string
		fn   func(context.Context) error
	}{
		{"setup", r.setup},
		{"gather", r.gather},
		{"implement", r.implement},
		{"verify", r.verifyAndFix},
		{"ship", r.ship},
	} {
		if err := r.step(ctx, step.name, step.fn); err != nil {
			var stop *stopError
			if errors.As(err, &stop) {
				return stop.outcome
			}
			return Outcome{State: tasks.Failed, Reason: step.name + " failed: " + err.Error()}
		}
		// A repository may ask for a shorter deadline than the operator's.
		if step.name == "setup" && r.cfg.Timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadlineCause(ctx, r.started.Add(r.cfg.Timeout), tasks.ErrDeadline)
			stopDeadline = cancel
		}
	}
	return r.success()
}

// step runs one step, showing it start and end.
func (r *run) step(ctx context.Context, name string, fn func(context.Context) error) error {
	r.begin(name)
	err := fn(ctx)
	r.end(err == nil, "")
	return err
}

func (r *run) begin(name string) {
	r.current = r.stepIndex(name)
	r.report.Steps[r.current].State = StepRunning
	r.report.Steps[r.current].Started = now()
	r.stepLog = sandbox.NewOutputBuffer(2 * stepLogSize)
	r.report.Log = ""
	r.reporter.Update(r.report.clone())
}

func (r *run) end(passed bool, note string) {
	s := &r.report.Steps[r.current]
	if s.State != StepRunning {
		return
	}
	s.State, s.Duration = StepFailed, now().Sub(s.Started)
	if passed {
		s.State = StepPassed
	}
	if note != "" {
		s.Note = note
	}
	if r.session != nil {
		r.report.Blocked = r.session.Refusals()
	}
	r.report.Log = r.logTail(stepLogSize)
	r.reporter.Update(r.report.clone())
}

// note sets the running step's note.
func (r *run) note(format string, args ...any) {
	r.report.Steps[r.current].Note = fmt.Sprintf(format, args...)
}

// stepIndex finds a step by name, adding it before ship when it is new
// (the fix rounds).
func (r *run) stepIndex(name string) int {
	for i, s := range r.report.Steps {
		if s.Name == name {
			return i
		}
	}
	last := len(r.report.Steps) - 1 // ship stays last
	r.report.Steps = append(r.report.Steps[:last], Step{Name: name, State: StepPending}, r.report.Steps[last])
	return last
}

func (r *run) skipPending() {
	for i := range r.report.Steps {
		switch r.report.Steps[i].State {
		case StepPending:
			r.report.Steps[i].State = StepSkipped
		case StepRunning:
			r.report.Steps[i].State = StepFailed
			r.report.Steps[i].Duration = now().Sub(r.report.Steps[i].Started)
		}
	}
}

// onEvent streams a step's output to the reporter and keeps its tail.
func (r *run) onEvent(e sandbox.Event) {
	r.stepLog.Write(e.Data)
	r.reporter.Log(e)
}

func (r *run) logTail(n int) string {
	if r.stepLog == nil {
		return ""
	}
	b := r.stepLog.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// stopError ends the attempt with an outcome the report already explains.
type stopError struct{ outcome Outcome }

func (e *stopError) Error() string { return e.outcome.Reason }

// fail stops the attempt as failed.
func fail(reason, details string) error {
	return &stopError{Outcome{State: tasks.Failed, Reason: reason, Details: details}}
}

// interrupted says how an attempt whose context ended stopped.
func (r *run) interrupted(ctx context.Context) Outcome {
	step := r.report.Steps[r.current].Name
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, tasks.ErrCancelled):
		return Outcome{State: tasks.Cancelled, Reason: "cancelled during " + step}
	case errors.Is(cause, tasks.ErrDeadline):
		return Outcome{State: tasks.TimedOut, Reason: "the task deadline passed during " + step}
	case errors.Is(cause, tasks.ErrShutdown):
		return Outcome{State: tasks.Queued, Reason: "the bot is restarting; this attempt will run again from the start"}
	default:
		return Outcome{State: tasks.Failed, Reason: fmt.Sprintf("stopped during %s: %v", step, cause)}
	}
}

func (r *run) cleanup() {
	if r.session != nil {
		r.session.Close()
	}
	if r.co != nil && r.co.Dir != "" {
		os.RemoveAll(r.co.Dir)
	}
}

// setup fetches the code, reads the repository's configuration, starts the
// sandbox, checks out the task's branch and runs the setup commands.
func (r *run) setup(ctx context.Context) error {
	var err error
	if r.co, err = r.p.Forge.Checkout(ctx, r.task); err != nil {
		return fmt.Errorf("fetch the repository: %w", err)
	}
	if err := r.loadConfig(ctx); err != nil {
		return err
	}
	if r.agent, err = r.p.Agent(r.cfg.Agent); err != nil {
		return fail("no agent to run", err.Error())
	}
	switch {
	case r.co.Branch != "": // a follow-up continues its pull request's branch
		if !strings.HasPrefix(r.co.Branch, r.cfg.BranchPrefix) {
			return fail(fmt.Sprintf("refused: branch %s is not one of oneshot's (%s...)", r.co.Branch, r.cfg.BranchPrefix), "")
		}
		r.branch = r.co.Branch
	case r.task.Issue == 0: // bot run: there is no issue
		r.branch = r.cfg.BranchPrefix + "task-" + r.task.ID
	default:
		r.branch = fmt.Sprintf("%sissue-%d", r.cfg.BranchPrefix, r.task.Issue)
	}
	if r.start, err = r.p.Forge.FetchBranch(ctx, r.task, r.co, r.branch); err != nil {
		return fmt.Errorf("fetch branch %s: %w", r.branch, err)
	}
	note := "new branch " + r.branch
	if r.start == "" {
		r.start = r.co.Base
	} else {
		note = "continuing branch " + r.branch
	}
	refs := []string{"refs/oneshot/base"}
	if r.start != r.co.Base {
		refs = append(refs, "refs/oneshot/branch")
	}
	bundle := filepath.Join(r.co.Dir, "in.bundle")
	if err := r.co.Repo.Bundle(ctx, bundle, refs...); err != nil {
		return fmt.Errorf("bundle the code: %w", err)
	}
	if r.session, err = r.p.Sandbox.Start(ctx, r.spec(ctx)); err != nil {
		return fmt.Errorf("start the sandbox: %w", err)
	}
	f, err := os.Open(bundle)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := r.session.WriteFile(ctx, inBundle, f, 0o600); err != nil {
		return fmt.Errorf("copy the code into the sandbox: %w", err)
	}
	committer, _, err := r.p.Forge.Identity(ctx, r.task)
	if err != nil {
		return err
	}
	name, email := splitIdentity(committer)
	checkout := fmt.Sprintf(`git init -q %[1]s && cd %[1]s
git fetch -q %[2]s 'refs/oneshot/*:refs/oneshot/*'
git checkout -q -B %[3]s %[4]s
git config user.name %[5]s
git config user.email %[6]s`, repoDir, inBundle, shellQuote(r.branch), r.start, shellQuote(name), shellQuote(email))
	if err := r.exec(ctx, "checkout", checkout, sandbox.WorkDir, time.Minute); err != nil {
		return err
	}
	for _, cmd := range r.cfg.Setup {
		if err := r.exec(ctx, "setup", cmd, repoDir, 0); err != nil {
			return err
		}
	}
	r.note("%s; %d setup commands", note, len(r.cfg.Setup))
	return nil
}

// loadConfig reads .github/oneshot.yml from the base commit on the
// default branch, never from the task's branch, so that a task cannot
// change its own rules; without the file, it detects what it can.
func (r *run) loadConfig(ctx context.Context) error {
	data, err := r.co.Repo.Show(ctx, r.co.Base, configPath)
	if r.co.Config != nil {
		data, err = r.co.Config, nil
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		cfg, notes, err := config.DetectRepo(repoFiles{ctx: ctx, co: r.co})
		if err != nil {
			return fmt.Errorf("detect settings: %w", err)
		}
		r.cfg = cfg
		r.report.Notes = append([]string{"No " + configPath + " on " + r.co.DefaultBranch + ": settings were detected."}, notes...)
	case err != nil:
		return fmt.Errorf("read %s: %w", configPath, err)
	default:
		if r.cfg, err = config.ParseRepo(data); err != nil {
			return fail(configPath+" has problems, so nothing ran", err.Error())
		}
		r.report.Notes = []string{"Settings from " + configPath + " on " + r.co.DefaultBranch + "."}
		if r.co.Config != nil {
			r.report.Notes = []string{"Settings from the configuration given instead of " + configPath + "."}
		}
	}
	return nil
}

// spec turns the configuration into the sandbox's.
func (r *run) spec(ctx context.Context) sandbox.Spec {
	spec := sandbox.Spec{
		Image:   cmp.Or(r.cfg.Image, r.p.Defaults.Image),
		TaskID:  r.task.ID,
		Memory:  r.cfg.Limits.Memory,
		Disk:    r.cfg.Limits.Disk,
		CPUs:    r.cfg.Limits.CPUs,
		Pids:    r.cfg.Limits.Pids,
		Env:     r.p.Defaults.SandboxEnv,
		Secrets: r.p.Defaults.AgentSecrets,
		Network: sandbox.Network{
			Mode:  sandbox.NetworkMode(r.cfg.Network.Mode),
			Allow: r.cfg.Network.Allow,
			Deny:  r.cfg.Network.Deny,
		},
	}
	if deadline, ok := ctx.Deadline(); ok {
		spec.Deadline = time.Until(deadline)
	}
	return spec
}

// exec runs a script and fails the step when it fails.
func (r *run) exec(ctx context.Context, what, script, dir string, timeout time.Duration) error {
	res, err := r.session.Exec(ctx, sandbox.Command{
		Script:  script,
		Dir:     dir,
		Phase:   r.report.Steps[r.current].Name,
		OnEvent: r.onEvent,
		Timeout: timeout,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if res.ExitCode != 0 {
		return fail(fmt.Sprintf("%s command `%s` failed (exit %d)", what, firstLine(script), res.ExitCode), r.logTail(failureTail))
	}
	return nil
}

// gather collects the task's context, ranks the repository's files for
// it, and writes the prompt into the sandbox. The files are read from the
// base commit on the host, the same commit the sandbox holds: ranking them
// costs no exec and no API call.
func (r *run) gather(ctx context.Context) error {
	tree := filepath.Join(r.co.Dir, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		return err
	}
	if err := r.co.Repo.Export(ctx, r.co.Base, tree); err != nil {
		return fmt.Errorf("read the code: %w", err)
	}
	files := os.DirFS(tree)
	m, err := r.p.Forge.Gather(ctx, r.task, files)
	if err != nil {
		return fmt.Errorf("gather the context: %w", err)
	}
	r.title = m.Issue.Title
	ranked, err := contextgather.Locate(files, issueText(m))
	if err != nil {
		return fmt.Errorf("rank the files: %w", err)
	}
	var verify []string
	for _, c := range r.cfg.Verify {
		verify = append(verify, c.Run)
	}
	r.prompt = contextgather.Assemble(contextgather.PromptInput{
		Material: m, Branch: r.branch, Ranked: ranked, Files: files,
		Verify: verify, Protected: r.cfg.ProtectedPaths, Budget: r.p.Defaults.PromptTokens,
	})
	if err := r.session.WriteFile(ctx, stateDir+"/prompt.md", strings.NewReader(r.prompt), 0o644); err != nil {
		return err
	}
	r.note("%d trusted comments, %d linked, about %d tokens", len(m.Comments), len(m.Linked), contextgather.EstimateTokens(r.prompt))
	return nil
}

// issueText is what the files are ranked against: what people said, not
// the prompt's own boilerplate.
func issueText(m contextgather.Material) string {
	parts := []string{m.Issue.Title, m.Issue.Body, m.Instructions}
	for _, c := range m.Comments {
		parts = append(parts, c.Body)
	}
	return strings.Join(parts, "\n")
}

// implement runs the agent's first round.
func (r *run) implement(ctx context.Context) error {
	return r.agentRound(ctx, 0, stateDir+"/prompt.md")
}

func (r *run) agentRound(ctx context.Context, n int, promptFile string) error {
	res, err := r.agent.Run(ctx, r.session, Round{
		N: n, PromptFile: promptFile, Dir: repoDir, Phase: r.report.Steps[r.current].Name, OnEvent: r.onEvent,
	})
	if err != nil {
		return fmt.Errorf("run the agent: %w", err)
	}
	switch {
	case res.TimedOut:
		r.note("the agent ran out of time")
	case res.ExitCode != 0:
		r.note("the agent exited %d", res.ExitCode)
	}
	// An agent that exits badly may still have fixed the code: the checks
	// decide.
	return nil
}

// success is the outcome of an attempt that shipped.
func (r *run) success() Outcome {
	p := r.report.Published
	switch {
	case p.Number == 0:
		return Outcome{State: tasks.Succeeded, Reason: "Made " + p.URL}
	case p.Updated:
		return Outcome{State: tasks.Succeeded, Reason: fmt.Sprintf("Updated pull request #%d", p.Number)}
	default:
		return Outcome{State: tasks.Succeeded, Reason: fmt.Sprintf("Opened pull request #%d", p.Number)}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if len(line) > 80 {
		line = line[:77] + "..."
	}
	return line
}

// shellQuote quotes a word for bash.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// splitIdentity splits "Name <email>".
func splitIdentity(id string) (name, email string) {
	name, email, _ = strings.Cut(id, " <")
	return name, strings.TrimSuffix(email, ">")
}

// repoFiles reads the base commit for detection, as an fs.ReadFileFS and
// fs.ReadDirFS.
type repoFiles struct {
	ctx context.Context
	co  *Checkout
}

func (f repoFiles) ReadFile(path string) ([]byte, error) {
	return f.co.Repo.Show(f.ctx, f.co.Base, path)
}

func (f repoFiles) ReadDir(dir string) ([]fs.DirEntry, error) {
	entries, err := f.co.Repo.ReadDir(f.ctx, f.co.Base, dir)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, len(entries))
	for i, e := range entries {
		out[i] = dirEntry{e}
	}
	return out, nil
}

type dirEntry struct{ e workspace.Entry }

func (d dirEntry) Name() string { return d.e.Name }
func (d dirEntry) IsDir() bool  { return d.e.Dir }
func (d dirEntry) Type() fs.FileMode {
	if d.e.Dir {
		return fs.ModeDir
	}
	return 0
}
func (e dirEntry) Info() (fs.FileInfo, error) { return nil, errors.ErrUnsupported }

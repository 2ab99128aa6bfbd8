package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/contextgather"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/tasks"
)

// Where things are inside the sandbox. The state directory holds what the
// pipeline exchanges with the session; the agent could read it, and nothing
// in it is secret.
const (
	repoDir   = "/sandbox/repo"
	stateDir  = "/sandbox/.oneshot"
	outBundle = stateDir + "/out.bundle"
	// leftOutFile lists, NUL-separated, the repositories with no commit
	// that the ship step left out of what it staged.
	leftOutFile = stateDir + "/left-out"
	promptFile  = stateDir + "/prompt.md"
	// setupTreeFile holds the tree of the checkout as the setup commands
	// left it, when they changed it (a lockfile npm install wrote, say):
	// the agent's change is what changed since.
	setupTreeFile = stateDir + "/setup-tree"

	// failureTail is how much of a failing command's output goes into a
	// prompt, a comment or a check run summary.
	failureTail = 6 << 10
	// finishTimeout bounds the final report, which runs after the
	// attempt's own context may have ended.
	finishTimeout = 2 * time.Minute
	// handBackTimeout bounds it for an attempt handed back at a shutdown,
	// which the bot is waiting on to exit; the next process reports anew.
	handBackTimeout = 20 * time.Second
	// checkoutTimeout and takeTimeout bound the pipeline's own git work in
	// the sandbox: checking out the bundle it brought in, and staging and
	// bundling the agent's files to take out. Either is seconds of work.
	checkoutTimeout = time.Minute
	takeTimeout     = 5 * time.Minute
)

// Run runs one attempt of a task. It reports everything as it goes and
// returns the attempt's end. The error is always nil: a step that breaks
// ends the attempt as failed, with the reason.
func (p *Pipeline) Run(ctx context.Context, t *tasks.Task) (tasks.State, string, error) {
	r := &run{p: p, task: t, reporter: p.Reporter(t), started: now(), mask: sandbox.Masking(p.Defaults.AgentSecrets)}
	r.report = Report{Task: t, Steps: []Step{{Name: "setup"}, {Name: "gather"}, {Name: "implement"}, {Name: "verify"}, {Name: "ship"}}}
	if p.TaskURL != nil {
		r.report.TaskURL = p.TaskURL(t.ID)
	}
	if p.LogsURL != nil {
		r.report.LogsURL = p.LogsURL(t)
	}
	for i := range r.report.Steps {
		r.report.Steps[i].State = StepPending
	}
	r.reporter.Update(r.shown())
	defer r.showPanic(ctx)

	out := r.execute(ctx)
	r.finish(ctx, out)
	return out.State, r.mask(out.Reason), nil
}

// shown is the report as people may see it, with the agent's secrets
// masked in what the pipeline wrote from what the agent left.
func (r *run) shown() Report { return r.report.masked(r.mask) }

// run is one attempt in progress.
type run struct {
	p        *Pipeline
	task     *tasks.Task
	reporter Reporter
	// mask hides the agent's secrets in what the pipeline writes itself.
	mask    func(string) string
	report  Report
	started time.Time
	current int // the running step's index
	stepLog *sandbox.OutputBuffer
	// output joins the running step's execs' output for stepLog and the
	// reporter, masked again: each exec's is masked, but a secret split
	// across the end of one and the start of the next is whole only here.
	output *sandbox.MaskStream
	event  sandbox.Event // the latest event given to output

	cfg     config.Repo
	expire  context.CancelCauseFunc // ends the attempt early
	timer   *time.Timer             // the repository's deadline, once known
	co      *Checkout
	files   fs.FS // the base commit's, on the host: configuration and guidelines
	code    fs.FS // the start commit's, which the prompt ranks and shows
	session *sandbox.Session
	agent   Agent
	branch  string
	start   string // the commit the branch starts from
	// sent are the packs the sandbox was given, of all it holds but
	// what it made: the change it hands back may build on nothing else.
	sent []string
	// continues is the branch's head when the attempt continues the
	// branch, "" when it makes it.
	continues string
	title     string // the issue's
	// gathering is the gather step's host work, begun in setup.
	gathering *beside[gathered]
	// starting is the sandbox's start, until setup takes it as session.
	starting *beside[*sandbox.Session]
	prompt   string
	// promptInput is what the prompt was assembled from, which a fix
	// round assembles again beside what failed.
	promptInput contextgather.PromptInput
	// workflows says the checked change touches .github/workflows/.
	workflows bool
	// pushed says the change is on the branch on GitHub, though its pull
	// request was not opened.
	pushed bool
	// agentEnd says how the agent's last round ended badly, "" when it
	// ended well, and agentTail is that round's output's end: what people
	// need when it changed nothing.
	agentEnd, agentTail string
	// checksWrote says the report notes that the checks wrote files.
	checksWrote bool
}

// execute runs the steps and says how the attempt ended.
func (r *run) execute(ctx context.Context) (out Outcome) {
	// The repository's own deadline is known only once its configuration
	// is read, during setup; it is set on this context then.
	ctx, r.expire = context.WithCancelCause(ctx)
	defer func() {
		// Judged before cleaning up, which may take long enough for a
		// deadline, a cancel or a shutdown to come, and before the
		// context is released, which would end it on every way out: an
		// attempt that finished is not told it was stopped.
		out = r.ending(ctx, out)
		r.cleanup()
		if r.timer != nil {
			r.timer.Stop()
		}
		r.expire(nil)
		r.skipPending()
	}()

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
			// Named by the step that broke, which within verify may
			// be a fix round.
			return errorOutcome(r.report.Steps[r.current].Name, err)
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
	r.stepLog = sandbox.NewOutputBuffer(2 * failureTail)
	r.output = sandbox.NewMaskStream(r.p.Defaults.AgentSecrets, r.showOutput)
	r.reporter.Update(r.shown())
}

func (r *run) end(passed bool, note string) {
	s := &r.report.Steps[r.current]
	if s.State != StepRunning {
		return
	}
	r.output.Flush()
	s.State, s.Duration = StepFailed, now().Sub(s.Started)
	if passed {
		s.State = StepPassed
	}
	if note != "" {
		s.Note = note
	}
	if r.session != nil {
		r.report.Blocked, r.report.Unlisted = r.session.Refusals()
	}
	// Not shown here: the next step's begin, or the attempt's end, which
	// follows at once, shows it. An update of its own would go to GitHub
	// first, and the write throttle would hold the final report a second.
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

// onEvent streams a step's output to the reporter, and keeps its tail for
// the details of a failure.
func (r *run) onEvent(e sandbox.Event) {
	r.event = e
	r.output.Write(e.Data)
}

// showOutput takes the step's output as output masks it.
func (r *run) showOutput(p []byte) {
	r.stepLog.Write(p)
	e := r.event
	e.Data = p
	r.reporter.Log(e)
}

// logTail is the end of the running step's output, fenced for GitHub,
// or "" when there is none. The step's output is over when it is asked.
func (r *run) logTail(n int) string {
	if r.stepLog == nil {
		return ""
	}
	r.output.Flush()
	tail := string(r.stepLog.Tail(n))
	if strings.TrimSpace(tail) == "" {
		return ""
	}
	return contextgather.CodeBlock(tail)
}

func (r *run) cleanup() {
	if r.gathering != nil {
		_, _ = r.gathering.stop()
	}
	if r.starting != nil && r.session == nil {
		// Setup ended before it took the session: the start is cut short
		// (a container Docker is making goes once made), or what it
		// started is closed.
		if s, err := r.starting.stop(); err == nil {
			s.Close()
		}
	}
	if r.session != nil {
		r.session.Close()
	}
	if r.co != nil && r.co.Dir != "" {
		os.RemoveAll(r.co.Dir)
	}
}

// exec runs a script and fails the step when it fails.
func (r *run) exec(ctx context.Context, what, script, dir string, timeout time.Duration) error {
	res, err := r.session.Exec(ctx, sandbox.Command{
		Script:  script,
		Dir:     dir,
		Phase:   r.report.Steps[r.current].Name,
		OnEvent: r.onEvent,
		Timeout: timeout,
		// The repository's commands must not outlive themselves: a process
		// left running could read the agent's secrets from its environment
		// while it runs, or change the code after the checks passed.
		KillBackground: true,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if res.ExitCode != 0 || res.TimedOut {
		// An exit of 137 tells no one why.
		why := fmt.Sprintf("exit %d", res.ExitCode)
		switch {
		case res.TimedOut:
			why = fmt.Sprintf("oneshot stopped it after %v", timeout.Round(time.Second))
		case res.OOMKilled:
			why = "the kernel killed it, or a process it ran, for memory: the sandbox's limits.memory is too small for it"
		case res.ExitCode == 127:
			// What bash answers for a program it cannot find: most often a
			// toolchain the image lacks, which the default image does.
			why = "exit 127: a program it runs is not in the sandbox image; " + r.otherImage()
		}
		return fail(fmt.Sprintf("%s command %s failed (%s)", what, contextgather.CodeSpan(firstLine(script)), why), r.logTail(failureTail))
	}
	return nil
}

// implement runs the agent's first round. An agent that ended badly and
// changed nothing (a refused API key, say) stops the attempt here: no
// check or fix round would go better, and checks that failed on the code
// as it was would take the blame.
func (r *run) implement(ctx context.Context) error {
	if err := r.agentRound(ctx, 0, promptFile); err != nil {
		return err
	}
	if r.agentEnd == "" || !r.nothingNewFails() {
		return nil
	}
	changed, err := r.agentChanged(ctx)
	if err != nil || changed {
		return err
	}
	return r.changedNothing()
}

// agentChanged says whether the checkout differs from where the attempt
// started: a file changed, added or deleted, or a commit made. Ship judges
// finely (it leaves out what cannot be staged); this only spares the
// checks of an agent that plainly did nothing.
func (r *run) agentChanged(ctx context.Context) (bool, error) {
	// Against the tree the setup commands left, which is the start's when
	// they changed nothing, taken through an index of the pipeline's own:
	// the agent's holds what it staged, files it forced past .gitignore
	// among them, which ship takes.
	script := ownGit + fmt.Sprintf(`
test "$(git rev-parse HEAD)" = %[1]s || exit 0
test -z "$(%[6]s)" && exit %[2]d
test -f %[3]s || exit 0
%[4]s
test "$(cat %[5]s/agent-tree)" = "$(cat %[3]s)" && exit %[2]d
exit 0`, r.start, unchangedExit, setupTreeFile, treeOfCheckout(stateDir, stateDir+"/agent-tree"), stateDir, agentStatus)
	res, err := r.session.Exec(ctx, sandbox.Command{Script: script, Dir: repoDir, Phase: "implement", Timeout: takeTimeout, KillBackground: true})
	if err != nil {
		return false, fmt.Errorf("look for the agent's change: %w", err)
	}
	return res.ExitCode != unchangedExit, nil
}

// agentStatus lists what differs in the checkout, as agentChanged sees
// it. A repository the agent made inside it counts by its commit, not its
// files: git would read them by that repository's configuration, the
// agent's, and run a filter it set up there, which ownGit cannot name.
const agentStatus = "git status --porcelain --untracked-files=all --ignore-submodules=dirty"

// nothingNewFails says whether an agent that changed nothing failed: it
// did, unless the attempt continues a branch an earlier attempt pushed
// to and opened no pull request for, which may already hold the change
// (see ship). A follow-up, or a request on an issue whose pull request is
// open, changing nothing did not do what it was asked: the pull request
// already shows the branch as it stands.
func (r *run) nothingNewFails() bool {
	return r.start == r.co.Base || r.co.Branch != "" || r.co.OpenPullRequest != 0
}

func (r *run) agentRound(ctx context.Context, n int, promptFile string) error {
	res, err := r.agent.Run(ctx, r.session, Round{
		N: n, PromptFile: promptFile, Dir: repoDir, Phase: r.report.Steps[r.current].Name, OnEvent: r.onEvent,
	})
	if err != nil {
		return fmt.Errorf("run the agent: %w", err)
	}
	r.agentEnd, r.agentTail = "", ""
	switch {
	case res.TimedOut:
		r.agentEnd = "the agent ran out of the time a round has (agent.timeout)"
	// What bash answers for a command it cannot find (127) or run (126),
	// in the first round: the agent never started, and no round would go
	// better. (In a fix round it ran before: the exit is its own.)
	case n == 0 && res.ExitCode == 127:
		return fail("the agent command could not run: not found in the sandbox image (exit 127)", r.logTail(failureTail))
	case n == 0 && res.ExitCode == 126:
		// Bash answers 126 too for an argument past the kernel's bound,
		// as a long prompt given as "$(cat {prompt_file})" is.
		return fail("the agent command could not run (exit 126: not executable, or its arguments too long; give it the prompt file, not its text)", r.logTail(failureTail))
	// An exit of 137 tells no one why: what ended it is said.
	case res.OOMKilled:
		r.agentEnd = "the kernel killed the agent, or a process it ran, for memory (the sandbox's limits.memory is too small for it)"
	case res.Signal != "":
		r.agentEnd = fmt.Sprintf("a signal ended the agent (%s)", res.Signal)
	case res.ExitCode != 0:
		r.agentEnd = fmt.Sprintf("the agent exited %d", res.ExitCode)
	}
	if r.agentEnd != "" {
		r.note("%s", r.agentEnd)
		r.agentTail = r.logTail(failureTail)
	}
	// An agent that exits badly may still have fixed the code: the checks
	// decide.
	return nil
}

// changedNothing stops an attempt whose agent changed nothing, saying how
// the agent ended when that was badly, with its output.
func (r *run) changedNothing() error {
	why, details := "the agent changed nothing, so there is nothing to propose", ""
	if r.agentEnd != "" {
		why, details = r.agentEnd+" and changed nothing, so there is nothing to propose", r.agentTail
	}
	if n := r.co.OpenPullRequest; n != 0 {
		why += fmt.Sprintf("; pull request #%d stays as it was", n)
	}
	return fail(why, details)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return shorten(line, 80)
}

// shorten cuts s to n characters, the last three "...", when it is
// longer. It counts and cuts characters, not bytes, so that it never
// splits one.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-3]) + "..."
}

// splitIdentity splits "Name <email>".
func splitIdentity(id string) (name, email string) {
	name, email, _ = strings.Cut(id, " <")
	return name, strings.TrimSuffix(email, ">")
}

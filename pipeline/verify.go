package pipeline

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/contextgather"
	"github.com/oneshot-dev/oneshot/sandbox"
)

// verifyAndFix runs the checks and, while they fail and rounds are left,
// gives the agent their output to fix. When they still fail it stops and
// hands the task to people, with the failure shown.
func (r *run) verifyAndFix(ctx context.Context) error {
	if len(r.cfg.Verify) == 0 {
		r.note("no verify commands configured or detected")
		r.report.Notes = append(r.report.Notes, "Nothing verified this change: add verify commands to "+r.settingsFile()+".")
		return nil
	}
	failing, err := r.verify(ctx)
	if err != nil || failing == 0 {
		return err
	}
	for round := 1; round <= r.cfg.FixRounds; round++ {
		r.end(false, fmt.Sprintf("%d of %d checks failed", failing, len(r.report.Checks)))
		r.begin(fmt.Sprintf("fix %d", round))
		r.report.FixRounds = round
		promptFile := fmt.Sprintf("%s/prompt-fix-%d.md", stateDir, round)
		if err := r.session.WriteFile(ctx, promptFile, strings.NewReader(r.fixPrompt()), 0o644); err != nil {
			return err
		}
		if err := r.agentRound(ctx, round, promptFile); err != nil {
			return err
		}
		r.end(true, "")
		r.begin(fmt.Sprintf("verify %d", round))
		if failing, err = r.verify(ctx); err != nil || failing == 0 {
			return err
		}
	}
	r.note("%d of %d checks failed", failing, len(r.report.Checks))
	return fail(fmt.Sprintf("%d of %d checks still fail after %d fix rounds; over to people", failing, len(r.report.Checks), r.cfg.FixRounds),
		failureDetails(r.report.Checks))
}

// detailsRoom bounds what the failing checks' output takes of the final
// check run's summary, which GitHub cuts at 65,535 characters, beside the
// steps and the checks' table. A table so long that the whole would pass
// the limit all the same has the output left to the check run's text,
// which keeps each step's.
const detailsRoom = 40 << 10

// failureDetails shows each failing check with the end of its output,
// the room shared evenly: cut whole by the summary's limit, the text
// would end inside a code block, and the later checks' output would show
// nowhere. With more failing checks than the room holds a useful end of,
// the rest are named.
func failureDetails(checks []CheckResult) string {
	var failed []CheckResult
	for _, c := range checks {
		if !c.Passed {
			failed = append(failed, c)
		}
	}
	const leastTail = 1 << 10
	shown := min(len(failed), detailsRoom/leastTail)
	var b strings.Builder
	for _, c := range failed[:shown] {
		fmt.Fprintf(&b, "%s (%s), exit %d:\n\n%s", c.Name, commandSpan(c.Command), c.ExitCode,
			contextgather.CodeBlock(lastBytes(c.Tail, detailsRoom/shown)))
	}
	if rest := failed[shown:]; len(rest) > 0 {
		names := make([]string, len(rest))
		for i, c := range rest {
			names[i] = contextgather.CodeSpan(c.Name)
		}
		fmt.Fprintf(&b, "And %d more failing checks, left out for room: %s.\n", len(rest), strings.Join(names, ", "))
	}
	return b.String()
}

// lastBytes is the end of s within n bytes, from the start of a line when
// one starts within it, else from the start of a character.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	end := s[len(s)-n:]
	if i := strings.IndexByte(end, '\n'); i >= 0 && i < len(end)-1 {
		return end[i+1:]
	}
	for len(end) > 0 && !utf8.RuneStart(end[0]) {
		end = end[1:]
	}
	return end
}

// verify runs every check, even after one fails, so the agent and people
// see all that is wrong at once. It returns how many failed.
func (r *run) verify(ctx context.Context) (int, error) {
	r.report.Checks = nil
	if err := r.exec(ctx, "record the checkout before the checks", recordBeforeChecks(stateDir), repoDir, takeTimeout); err != nil {
		return 0, err
	}
	failing := 0
	roundEnds := r.checksEnd(ctx)
	for _, check := range r.cfg.Verify {
		out := r.checkOutput()
		started := now()
		timeout := untilEnd(roundEnds)
		res, err := r.session.Exec(ctx, sandbox.Command{
			Script:  check.Run,
			Dir:     repoDir,
			Timeout: timeout,
			Phase:   r.report.Steps[r.current].Name,
			// As setup's: see run.exec.
			KillBackground: true,
			OnEvent: func(e sandbox.Event) {
				out.Write(e.Data)
				r.onEvent(e)
			},
		})
		if err != nil {
			return 0, fmt.Errorf("run check %s: %w", check.Name, err)
		}
		result := CheckResult{Name: check.Name, Command: check.Run, Passed: res.ExitCode == 0 && !res.TimedOut,
			ExitCode: res.ExitCode, Duration: now().Sub(started), Tail: out.tail()}
		// Said where the agent and people read the output: an exit of
		// 137 tells neither.
		switch {
		case res.TimedOut:
			result.Tail += fmt.Sprintf("\n(oneshot stopped it after %v: a round of checks may take half the time the task has left, so that a fix round has the rest)",
				timeout.Round(time.Second))
		case res.OOMKilled:
			result.Tail += "\n(the kernel killed it, or a process it ran, for memory: the sandbox's limits.memory is too small for it, or it leaks)"
		}
		if !result.Passed {
			failing++
		}
		r.report.Checks = append(r.report.Checks, result)
		r.reporter.Update(r.shown())
	}
	if err := r.undoChecksWrites(ctx); err != nil {
		return 0, err
	}
	if failing == 0 {
		r.note("%s passed", checksCount(len(r.report.Checks)))
	}
	return failing, nil
}

// checksCount is "1 check" or "n checks".
func checksCount(n int) string {
	if n == 1 {
		return "1 check"
	}
	return fmt.Sprintf("%d checks", n)
}

// checksCanRun stops the attempt before the agent runs when a check's
// program is not in the sandbox, as settings detected from a go.mod name
// go in an image without Go: the check would fail in every round, which
// no change of the agent's can mend, and the agent's time would be spent
// for nothing. It looks the programs up as the checks would, after the
// setup commands.
func (r *run) checksCanRun(ctx context.Context) error {
	programs, script := checksPrograms(r.cfg.Verify)
	if len(programs) == 0 {
		return nil
	}
	res, err := r.session.Exec(ctx, sandbox.Command{Script: script, Dir: repoDir, Phase: r.report.Steps[r.current].Name, Timeout: takeTimeout})
	if err != nil {
		return fmt.Errorf("look for the checks' programs: %w", err)
	}
	var missing, details []string
	for _, name := range strings.Fields(string(res.Stdout)) {
		missing = append(missing, contextgather.CodeSpan(name))
		for _, check := range programs[name] {
			details = append(details, fmt.Sprintf("- %s: %s\n", contextgather.CodeSpan(check.Name), commandSpan(check.Run)))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fail(fmt.Sprintf("the sandbox image has no %s, which the checks run, so they could never pass; %s",
		strings.Join(missing, ", "), r.otherImage()), "Checks that cannot run:\n\n"+strings.Join(details, ""))
}

// checksPrograms is the programs the checks start with, each with its
// checks, and a script that prints those not found. Only a command's
// first word is looked at, and only when it is a plain name: a path runs a
// file the agent may write, and what follows "cd dir &&" or a variable's
// setting the shell alone can tell.
func checksPrograms(checks []config.Check) (map[string][]config.Check, string) {
	programs := map[string][]config.Check{}
	for _, check := range checks {
		fields := strings.Fields(check.Run)
		if len(fields) == 0 || !plainName(fields[0]) {
			continue
		}
		programs[fields[0]] = append(programs[fields[0]], check)
	}
	names := slices.Sorted(maps.Keys(programs))
	return programs, fmt.Sprintf(`for p in %s; do command -v "$p" >/dev/null || echo "$p"; done`, strings.Join(names, " "))
}

// plainName says whether a command's first word names a program looked up
// on the PATH, and is safe to write unquoted in a script.
func plainName(word string) bool {
	for _, c := range word {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_.+-", c)) {
			return false
		}
	}
	return word != "" && word[0] != '-'
}

// recordBeforeChecks is a script that records the checkout's tree before
// a round of checks, in dir, through an index of the pipeline's own, and
// then stages that tree in the checkout's, as a CI checkout of a commit of
// it has it: a check such as "go generate ./... && git diff --exit-code"
// sees only what the checks wrote, not the agent's change, which the
// agent leaves unstaged. The agent's index is kept, for undoChecks to put
// back. A lock a git command killed in the agent's round left on it goes
// first: nothing else runs between rounds.
func recordBeforeChecks(dir string) string {
	return treeOfCheckout(dir, dir+"/before-checks") + fmt.Sprintf(`
index=$(git rev-parse --git-path index)
rm -f "$index.lock"
%[2]s
cp -p %[1]s/checks-index "$index"`, dir, copyIndex(dir+"/agent-index"))
}

// treeOfCheckout is a script that writes to file the tree of the checkout
// as it is: every file but those git ignores and the repositories made
// inside it with no commit, which cannot be staged. The checkout's index
// seeds its own (see ownIndex), so that only files that changed are read.
func treeOfCheckout(dir, file string) string {
	return ownIndex(dir+"/checks-index") + fmt.Sprintf(`
GIT_INDEX_FILE=%[1]s/checks-index git add -A --ignore-errors >/dev/null 2>&1 || :
GIT_INDEX_FILE=%[1]s/checks-index git write-tree --ignore-cache-tree > %[2]s`, dir, file)
}

// ownGit is script lines after which the pipeline's git commands in the
// checkout, the agent's repository, run none of its hooks and no fsmonitor
// it set, either of which would run its code after the checks, and read
// its files by their content and times as git does by default: set
// otherwise (core.ignoreStat, core.trustctime, core.checkStat), git would
// take a file the agent rewrote, and put back its times, for the one it
// had staged. (An empty fsmonitor is false to every git; "false" older
// ones take for a command to run.) Their trees are written whole
// (write-tree --ignore-cache-tree), not from the trees the agent's index
// may say it holds.
//
// Nor do they run a filter the agent set up, in the checkout's
// configuration or its home's: a clean filter would run its code as the
// change is staged, and stage other files than the checks ran on. Each
// setting of a driver the agent made is put back to what the image's own
// configuration says, a command the agent could not write (git-lfs's,
// say), or to none. (An empty process turns a driver off whole: one the
// agent gave a process the image's has not stops the staging instead.)
const ownGit = `export GIT_CONFIG_COUNT=5 GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0=/dev/null GIT_CONFIG_KEY_1=core.fsmonitor GIT_CONFIG_VALUE_1= ` +
	`GIT_CONFIG_KEY_2=core.ignoreStat GIT_CONFIG_VALUE_2=false GIT_CONFIG_KEY_3=core.trustctime GIT_CONFIG_VALUE_3=true ` +
	`GIT_CONFIG_KEY_4=core.checkStat GIT_CONFIG_VALUE_4=default
n=5
while IFS=$'\t' read -r scope key; do
  case $scope in system|command) continue ;; esac
  value=$(git config --system --get "$key" 2>/dev/null) || { case $key in *.required) value=false ;; *) value= ;; esac; }
  export "GIT_CONFIG_KEY_$n=$key" "GIT_CONFIG_VALUE_$n=$value"
  n=$((n + 1))
done < <(git config --show-scope --name-only --get-regexp '^filter\..*\.(clean|smudge|process|required)$' 2>/dev/null)
export GIT_CONFIG_COUNT=$n`

// copyIndex is a script line that copies the checkout's index to path, or
// removes path when there is none. The copy keeps the index's time (cp
// -p): git trusts an entry's recorded stat only for a file older than the
// index, and a copy made later would take a file changed in the index's
// last second for unchanged.
func copyIndex(path string) string {
	return fmt.Sprintf(`cp -p "$(git rev-parse --git-path index)" %[1]s 2>/dev/null || rm -f %[1]s`, path)
}

// ownIndex is script lines that start the pipeline's own git work in the
// checkout (see ownGit) with an index at path of its own, a copy of the
// checkout's (see copyIndex) in which every file the agent marked for git
// to take as recorded (assume-unchanged, skip-worktree) is entered anew,
// without its mark or its times, for git to read again: what ships is
// the files the checks ran on, not what the agent staged and then put
// back. A marked file not in the checkout (outside a sparse checkout,
// say) keeps its entry and mark, as git leaves it: read again, it would
// be taken for deleted.
func ownIndex(path string) string {
	return ownGit + "\n" + copyIndex(path) + fmt.Sprintf(`
if [ -f %[1]s ]; then
  GIT_INDEX_FILE=%[1]s git ls-files -s -v -z | { grep -z '^[a-zS] ' || :; } | sed -z 's/^. //' |
    while IFS= read -r -d '' e; do p=${e#*$'\t'}; if [ -e "$p" ] || [ -L "$p" ]; then printf '%%s\0' "$e"; fi; done |
    GIT_INDEX_FILE=%[1]s git update-index -z --index-info
fi`, path)
}

// undoChecks is a script that puts back what changed in the checkout
// since recordBeforeChecks, files made removed and others restored, each
// kind at once, and prints how many paths it put back. A path git cannot
// restore with the rest (a file where the checks made a directory) is
// tried alone, and left if it fails.
func undoChecks(dir string) string {
	return treeOfCheckout(dir, dir+"/after-checks") + fmt.Sprintf(`
rm -f "$(git rev-parse --git-path index.lock)" # a check's git command killed, as a restore would fail on it
before=$(cat %[1]s/before-checks) after=$(cat %[1]s/after-checks)
git diff-tree -r --name-only -z --diff-filter=A "$before" "$after" > %[1]s/checks-made
git diff-tree -r --name-only -z --diff-filter=a "$before" "$after" > %[1]s/checks-changed
xargs -0 -r rm -f -- < %[1]s/checks-made 2>/dev/null || :
export GIT_LITERAL_PATHSPECS=1
if [ -s %[1]s/checks-changed ] && ! git restore --source="$before" --worktree --pathspec-from-file=%[1]s/checks-changed --pathspec-file-nul 2>/dev/null; then
  while IFS= read -r -d '' p; do git restore --source="$before" --worktree -- "$p" 2>/dev/null || :; done < %[1]s/checks-changed
fi
# The agent's index as it left it, for its next round to see its change
# as it did.
if [ -f %[1]s/agent-index ]; then cp -p %[1]s/agent-index "$(git rev-parse --git-path index)"; fi
cat %[1]s/checks-made %[1]s/checks-changed | tr -cd '\0' | wc -c`, dir)
}

// undoChecksWrites puts the files the checks wrote in the checkout (a
// binary go build leaves, a report, a regenerated file) back as the agent
// left them: they are not the agent's change, and must not ship as one,
// nor make an agent that changed nothing look as if it had. What git
// ignores is left alone, caches and build directories among it.
func (r *run) undoChecksWrites(ctx context.Context) error {
	script := undoChecks(stateDir)
	res, err := r.session.Exec(ctx, sandbox.Command{Script: script, Dir: repoDir, Phase: r.report.Steps[r.current].Name,
		Timeout: takeTimeout, KillBackground: true})
	if err != nil {
		return fmt.Errorf("put back what the checks wrote: %w", err)
	}
	if res.ExitCode != 0 {
		return fail(fmt.Sprintf("putting back what the checks wrote failed (exit %d)", res.ExitCode), contextgather.CodeBlock(string(res.Stderr)))
	}
	if n, _ := strconv.Atoi(strings.TrimSpace(string(res.Stdout))); n > 0 && !r.checksWrote {
		r.checksWrote = true
		r.report.Notes = append(r.report.Notes, "The checks wrote files in the checkout that git does not ignore (build outputs, say); "+
			"they were put back as the agent left them after each round, and are not part of the change.")
	}
	return nil
}

// checksEnd is when a round of checks must end: half the time the task
// has left ends, so that checks that hang (tests the change sent into a
// loop) leave a fix round the rest, rather than take the task to its
// deadline with nothing to show, however many of them hang; zero, no
// bound, when the task has none.
func (r *run) checksEnd(ctx context.Context) time.Time {
	left := r.timeLeft(ctx)
	if left <= 0 {
		return time.Time{}
	}
	return now().Add(left / 2)
}

// untilEnd is how long a check may run for its round to end at end: 0, no
// bound, for no end; at least a second, so that a check past it still runs
// and fails saying why.
func untilEnd(end time.Time) time.Duration {
	if end.IsZero() {
		return 0
	}
	return max(end.Sub(now()), time.Second)
}

// checkOutput keeps the end of a check's output, stdout and stderr as they
// came. The session masks each stream alone, and joined, the end of a
// secret on one and its start on the other would make it whole: what they
// join into is masked again.
type checkOutput struct {
	buf    *sandbox.OutputBuffer
	masked *sandbox.MaskStream
}

func (r *run) checkOutput() *checkOutput {
	buf := sandbox.NewOutputBuffer(2 * failureTail)
	return &checkOutput{buf: buf, masked: sandbox.NewMaskStream(r.p.Defaults.AgentSecrets, func(b []byte) { buf.Write(b) })}
}

func (o *checkOutput) Write(b []byte) { o.masked.Write(b) }

// tail is the end of the output, once the check has ended, as text: its
// first bytes may be the end of a character cut in two, and a program
// may write what is no UTF-8 at all, which a prompt must not hold.
func (o *checkOutput) tail() string {
	o.masked.Flush()
	return strings.ToValidUTF8(strings.TrimRight(string(o.buf.Tail(failureTail)), "\n"), "\uFFFD")
}

package pipeline

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The final check run's summary holds every failing check's output end,
// each fenced whole, however many fail.
func TestEveryFailingChecksOutputFitsTheFinalSummary(t *testing.T) {
	t.Parallel()
	var checks []CheckResult
	for i := range 50 {
		var tail strings.Builder
		for tail.Len() < failureTail {
			fmt.Fprintf(&tail, "check %d: line %d failed\n", i, tail.Len())
		}
		checks = append(checks, CheckResult{Name: fmt.Sprintf("check-%d", i), Command: "make test", ExitCode: 2, Tail: tail.String()})
	}
	for _, n := range []int{12, 50} {
		details := failureDetails(checks[:n])
		if len(details) > detailsRoom+n*200 {
			t.Errorf("%d failing: %d bytes of details", n, len(details))
		}
		fences := 0
		for line := range strings.SplitSeq(details, "\n") {
			if strings.HasPrefix(line, "```") {
				fences++
			}
		}
		if fences%2 != 0 {
			t.Errorf("%d failing: a code block is left open", n)
		}
		for i := range n {
			if !strings.Contains(details, fmt.Sprintf("check-%d", i)) {
				t.Errorf("%d failing: check-%d is not named", n, i)
			}
		}
	}
	if details := failureDetails(checks[:12]); !strings.Contains(details, "check 11: line") {
		t.Error("the last of 12 failing checks shows none of its output")
	}
}

// The scripts that put back what the checks wrote, run as the sandbox
// runs them (bash -eo pipefail, in the checkout) on a repository on this
// host: what the agent changed stays, whatever the checks did to it; what
// the checks made goes; what git ignores is left alone.
func TestWhatTheChecksWroteIsPutBackAsTheAgentLeftIt(t *testing.T) {
	t.Parallel()
	repo, state := t.TempDir(), t.TempDir()
	sh := func(script string) string {
		t.Helper()
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}
	sh(`git init -q -b main && printf 'cache/\n' > .gitignore && echo a > a.txt && echo one > t.txt && mkdir d && echo x > d/x.txt
git add -A && git commit -qm start`)
	// The agent's round.
	sh(`echo two > t.txt && echo mine > agent.txt && rm d/x.txt`)
	sh(recordBeforeChecks(state))
	// The checks'.
	sh(`echo built > tool && echo three > t.txt && rm a.txt && chmod +x agent.txt && mkdir -p out cache && echo r > out/report.txt
echo c > cache/c.txt && printf 'odd\n' > $'-odd\nname.txt' && echo y > d/x.txt`)
	if n := strings.TrimSpace(sh(undoChecks(state))); n != "7" {
		t.Errorf("put back %s paths, want 7", n)
	}
	status := sh(`git status --porcelain --untracked-files=all`)
	if want := " D d/x.txt\n M t.txt\n?? agent.txt\n"; status != want {
		t.Errorf("status:\n%s\nwant the agent's change alone:\n%s", status, want)
	}
	if got := sh(`cat t.txt; cat cache/c.txt; test -x agent.txt || echo not executable`); got != "two\nc\nnot executable\n" {
		t.Errorf("got %q: want the agent's t.txt and mode, and the ignored cache left", got)
	}
}

// A repository the agent made inside the checkout, staged as a link to
// its commit, has a configuration of its own: looking at what the agent
// changed runs no filter the agent set up there.
func TestLookingForTheAgentsChangeRunsNoFilterOfARepositoryItMadeInside(t *testing.T) {
	t.Parallel()
	repo, marker := t.TempDir(), filepath.Join(t.TempDir(), "ran")
	script := `git init -q -b main && git commit -q --allow-empty -m start
git init -q -b main inner && cd inner && echo x > a && echo '* filter=agents' > .gitattributes && git add -A && git commit -qm inner
git config filter.agents.clean "echo ran >> ` + marker + `; cat" && cd .. && git add inner && sleep 1 && echo y > inner/a
` + ownGit + "\n" + agentStatus
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the filter of the repository the agent made inside the checkout ran")
	}
}

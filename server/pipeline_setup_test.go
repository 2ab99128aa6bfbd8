package server_test

// How a repository's setup commands that fail stop a task, and what they
// show.

import (
	"strings"
	"testing"
)

func TestAFailingSetupCommandStopsTheTaskShowingItsOutput(t *testing.T) {
	t.Parallel()
	// Its output tries to end the code block it is shown in and to mention
	// people, which a comment would notify.
	setup := "printf 'fetching dependencies\\n```\\n@acme/maintainers look\\n'; echo 'E: package libfoo-dev not found' >&2; exit 3"
	config := "setup:\n  - \"" + setup + "\"\n" + testConfig(0)
	b := pipelineBundle(t, goodAgent, config)
	run := b.runTask(t)
	if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, "failed (exit 3)") ||
		!strings.Contains(run.Output.Summary, "libfoo-dev not found") {
		t.Fatalf("check run concluded %q:\n%s\n---\n%s", run.Conclusion, run.Output.Summary, run.Output.Text)
	}
	if n := len(b.gh.PullRequests(b.repo)); n != 0 {
		t.Fatalf("%d pull requests", n)
	}
	comments := b.botComments(1)
	final := comments[len(comments)-1]
	if !strings.Contains(final, "setup command") || !strings.Contains(final, "libfoo-dev not found") ||
		!strings.Contains(final, "/oneshot retry") {
		t.Fatalf("final comment %q", final)
	}
	// The output is inside a fence longer than its own.
	open, mention := strings.Index(final, "````\n"), strings.Index(final, "@acme/maintainers")
	if open < 0 || mention < open || !strings.Contains(final[mention:], "\n````\n") {
		t.Fatalf("the output is not fenced in the final comment:\n%s", final)
	}
}

// A setup command that failed for want of something says what: an exit
// of 137 or 127 tells no one what to change. One the kernel killed for
// memory names the limit; one that runs a program the image lacks, as a
// detected "go mod download" does in an image without Go, says so.
func TestASetupCommandThatFailsForWantOfSomethingSaysWhat(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		config string
		want   []string
	}{
		// tail keeps the whole of an endless line in memory, more than the
		// container has: the processes' limit and its in-memory file areas.
		"memory": {"setup:\n  - head -c 1500m /dev/zero | tail > /dev/null\nlimits:\n  memory: 128m\n  disk: 64m\n",
			[]string{"killed it, or a process it ran, for memory", "limits.memory"}},
		"a program": {"setup:\n  - no-such-toolchain mod download\n",
			[]string{"not in the sandbox image", "no-such-toolchain: command not found"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := pipelineBundle(t, goodAgent, tc.config+testConfig(0))
			run := b.runTask(t)
			if run.Conclusion != "failure" {
				t.Fatalf("check run concluded %q:\n%s", run.Conclusion, run.Output.Summary)
			}
			for _, w := range tc.want {
				if !strings.Contains(run.Output.Summary, w) {
					t.Fatalf("the summary does not say %q:\n%s", w, run.Output.Summary)
				}
			}
		})
	}
}

// Every command runs as on a CI machine: test runners that watch for
// changes unless told otherwise (react-scripts test) end.
func TestSetupChecksAndTheAgentRunWithCISet(t *testing.T) {
	t.Parallel()
	config := "setup:\n  - test \"$CI\" = true\n" + strings.Replace(testConfig(0), "verify:\n", "verify:\n  - name: CI is set\n    run: test \"$CI\" = true\n", 1)
	b := pipelineBundle(t, "test \"$CI\" = true || exit 9\n"+goodAgent, config)
	if run := b.runTask(t); run.Conclusion != "success" {
		t.Fatalf("check run concluded %q:\n%s", run.Conclusion, run.Output.Summary)
	}
}

// A check whose program the sandbox image lacks, as settings detected
// from a go.mod name go in an image without Go, would fail in every round,
// whatever the agent did: the task stops before the agent runs, naming the
// program and its checks, and only those.
func TestACheckWhoseProgramTheImageLacksStopsTheTaskBeforeTheAgent(t *testing.T) {
	t.Parallel()
	config := `image: ` + pipelineImage() + `
verify:
  - name: lint
    run: no-such-linter run ./...
  - name: vet
    run: ./scripts/vet
  - name: test
    run: ` + uuidTests + `
fix_rounds: 0
agent:
  command: bash ` + agentPath + ` {prompt_file}
`
	b := pipelineBundle(t, "echo the agent ran\n"+goodAgent, config)
	run := b.runTask(t)
	if run.Conclusion != "failure" {
		t.Fatalf("check run concluded %q:\n%s", run.Conclusion, run.Output.Summary)
	}
	for _, want := range []string{"has no `no-such-linter`", "`lint`: `no-such-linter run ./...`", "| implement | ⏭️ skipped |"} {
		if !strings.Contains(run.Output.Summary, want) {
			t.Fatalf("the summary does not say %q:\n%s", want, run.Output.Summary)
		}
	}
	if strings.Contains(run.Output.Summary, "`test`:") || strings.Contains(run.Output.Summary, "scripts/vet") {
		t.Fatalf("the summary names checks whose programs are there:\n%s", run.Output.Summary)
	}
	final := b.botComments(1)
	if last := final[len(final)-1]; !strings.Contains(last, "no-such-linter") {
		t.Fatalf("final comment %q", last)
	}
}

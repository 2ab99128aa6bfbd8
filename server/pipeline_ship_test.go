package server_test

import (
	"slices"
	"strings"
	"testing"
)

// A file setup moved (a build that renames its output) and a file setup
// changed and the agent then moved are each read as the two paths they
// are: the first goes back as it was, the second ships as the agent left it.
func TestRenamesBySetupAndByTheAgentShipAsTheAgentLeftThem(t *testing.T) {
	t.Parallel()
	setup := "setup:\n  - mv LICENSE LICENSE.moved && echo rewritten > README.md\n"
	b := pipelineBundle(t, goodAgent+"mv README.md README.txt\n", testConfig(0)+setup)
	if run := b.runTask(t); run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	head := b.gh.Head(t, b.repo, "oneshot/issue-1")
	paths := b.gh.Paths(t, b.repo, head)
	if !slices.Contains(paths, "LICENSE") || slices.Contains(paths, "LICENSE.moved") ||
		slices.Contains(paths, "README.md") || !slices.Contains(paths, "README.txt") {
		t.Fatalf("the pull request's tree lists %q, want LICENSE as on main and README.md moved to README.txt", paths)
	}
	if got, want := b.gh.FileAt(t, b.repo, head, "LICENSE"), b.gh.FileAt(t, b.repo, "main", "LICENSE"); got != want {
		t.Fatal("LICENSE differs from main's")
	}
}

// A lock on the checkout's index, which an agent killed in the middle of
// a git command leaves, does not stop its change from shipping.
func TestALockTheAgentLeftOnTheIndexDoesNotStopTheChange(t *testing.T) {
	t.Parallel()
	b := pipelineBundle(t, goodAgent+"touch .git/index.lock\n", testConfig(0))
	if run := b.runTask(t); run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	head := b.gh.Head(t, b.repo, "oneshot/issue-1")
	if got := b.gh.FileAt(t, b.repo, head, "hello.go"); !strings.Contains(got, "Hello") {
		t.Fatalf("the agent's change did not ship: %q", got)
	}
}

// A change whose objects, compressed, come to more than the bot reads out
// of the sandbox is refused as too large to review, saying so.
func TestAChangeTooLargeToTakeOutIsRefusedAsTooLargeToReview(t *testing.T) {
	t.Parallel()
	b := pipelineBundle(t, goodAgent+"head -c 70000000 /dev/urandom > noise.bin\n", testConfig(0))
	run := b.runTask(t)
	if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, "too large to review") ||
		!strings.Contains(run.Output.Summary, "over 64 MB") {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
}

// The checks see the agent's change staged, as a CI checkout of a commit
// of it would: "git diff --exit-code" after a generator passes unless the
// checks wrote something. And what they wrote is put back even when a git
// command the agent's round killed left a lock on the index.
func TestChecksSeeTheChangeStagedAndWhatTheyWriteGoesBackDespiteALock(t *testing.T) {
	t.Parallel()
	config := strings.Replace(testConfig(0), "verify:\n", `verify:
  - name: generated code is current
    run: git diff --exit-code
  - name: report
    run: echo regenerated > README.md
`, 1)
	b := pipelineBundle(t, goodAgent+"echo '// edited' >> uuid.go\ntouch .git/index.lock\n", config)
	if run := b.runTask(t); run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	head := b.gh.Head(t, b.repo, "oneshot/issue-1")
	if got, want := b.gh.FileAt(t, b.repo, head, "README.md"), b.gh.FileAt(t, b.repo, "main", "README.md"); got != want {
		t.Fatalf("README.md is %q in the pull request, want it as on main", got)
	}
	if got := b.gh.FileAt(t, b.repo, head, "uuid.go"); !strings.HasSuffix(got, "// edited\n") {
		t.Fatal("the agent's edit of a tracked file did not ship")
	}
}

// Looking at whether an agent that ended badly changed anything leaves
// what it staged alone: a file it forced past .gitignore ships.
func TestAFileTheAgentForcedPastGitignoreShipsThoughItEndedBadly(t *testing.T) {
	t.Parallel()
	setup := "setup:\n  - echo lock > setup.lock\n"
	agent := goodAgent + "printf '*.log\\n' > .gitignore\nmkdir -p testdata && echo case > testdata/case.log\ngit add -f testdata/case.log\nexit 3\n"
	b := pipelineBundle(t, agent, testConfig(0)+setup)
	if run := b.runTask(t); run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	head := b.gh.Head(t, b.repo, "oneshot/issue-1")
	if paths := b.gh.Paths(t, b.repo, head); !slices.Contains(paths, "testdata/case.log") {
		t.Fatalf("the pull request's tree lists %q, want testdata/case.log", paths)
	}
}

// The checkout's repository is the agent's: what it staged and then put
// back, marked for git to take as recorded, does not ship in place of the
// files the checks ran on, and a hook it wrote does not run when the bot's
// git commands do.
func TestWhatShipsIsWhatTheChecksRanOnWhateverTheAgentStaged(t *testing.T) {
	t.Parallel()
	tampered := "printf 'package uuid\\n\\nfunc Hello() string { return \"tampered\" }\\n' > hello.go\ngit add hello.go\n"
	hook := "printf '#!/bin/sh\\necho ran >> hook.txt\\n' > .git/hooks/post-index-change\nchmod +x .git/hooks/post-index-change\n"
	for _, mark := range []string{"--assume-unchanged", "--skip-worktree"} {
		t.Run(mark, func(t *testing.T) {
			t.Parallel()
			b := pipelineBundle(t, tampered+goodAgent+"git update-index "+mark+" hello.go\n"+hook, testConfig(0))
			if run := b.runTask(t); run.Conclusion != "success" {
				t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
			}
			head := b.gh.Head(t, b.repo, "oneshot/issue-1")
			if got := b.gh.FileAt(t, b.repo, head, "hello.go"); strings.Contains(got, "tampered") || !strings.Contains(got, "hello") {
				t.Fatalf("hello.go ships as %q, not as the checks ran on it", got)
			}
			if slices.Contains(b.gh.Paths(t, b.repo, head), "hook.txt") {
				t.Fatal("the agent's hook ran when the bot's git commands did")
			}
		})
	}
}

// A filter the agent set up, in the checkout's configuration or its
// home's, does not run when the bot's git commands stage the change: what
// ships is the files the checks ran on.
func TestAFilterTheAgentSetUpDoesNotChangeWhatShips(t *testing.T) {
	t.Parallel()
	filters := "printf 'hello.go filter=x\\nhello_test.go filter=y\\n' > .git/info/attributes\n" +
		"git config filter.x.clean 'sed s/hello/tampered/'\n" +
		"git config --global filter.y.clean 'sed s/TestHello/TestTampered/'\n" +
		"git config --global filter.y.required true\n"
	b := pipelineBundle(t, goodAgent+filters, testConfig(0))
	if run := b.runTask(t); run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	head := b.gh.Head(t, b.repo, "oneshot/issue-1")
	if got := b.gh.FileAt(t, b.repo, head, "hello.go"); strings.Contains(got, "tampered") || !strings.Contains(got, `"hello"`) {
		t.Fatalf("hello.go ships as %q, not as the checks ran on it", got)
	}
	if got := b.gh.FileAt(t, b.repo, head, "hello_test.go"); !strings.Contains(got, "TestHello") {
		t.Fatalf("hello_test.go ships as %q, not as the checks ran on it", got)
	}
}

// A file left out of the checkout the way a sparse checkout leaves it,
// marked skip-worktree, is not shipped as deleted.
func TestAFileASparseCheckoutLeavesOutDoesNotShipAsDeleted(t *testing.T) {
	t.Parallel()
	b := pipelineBundle(t, goodAgent+"git update-index --skip-worktree README.md\nrm README.md\n", testConfig(0))
	if run := b.runTask(t); run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	head := b.gh.Head(t, b.repo, "oneshot/issue-1")
	if got, want := b.gh.FileAt(t, b.repo, head, "README.md"), b.gh.FileAt(t, b.repo, "main", "README.md"); got != want {
		t.Fatalf("README.md ships as %q, want it as on main", got)
	}
}

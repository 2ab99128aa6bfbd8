package server_test

// The pipeline's safety: what must not ship, cancel and deadlines, secrets
// that must not leak, and a bad configuration that must stop everything.

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/oneshot-dev/oneshot/sandbox"
)

func TestChangesThatMustNotShipAreRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, script, reason string
	}{
		{"empty diff", "true\n", "changed nothing"},
		{"a workflow change", goodAgent + "mkdir -p .github/workflows && echo 'on: push' > .github/workflows/ci.yml\n", "protected paths"},
		{"a change to its own settings", goodAgent + "echo 'fix_rounds: 5' >> .github/oneshot.yml\n", "protected paths"},
		{"a committed AWS key", goodAgent + "printf 'AWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD\\n' > deploy.env\n", "credential"},
		// A NUL byte makes git take the file for binary.
		{"an AWS key after a NUL byte", goodAgent + "printf '\\0\\nAWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD\\n' > deploy.dat\n", "credential"},
		// The refusal names the file, and must not publish the key.
		{"a key in a key file's name", goodAgent + "printf 'AWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD\\n' > AKIAZ7VRSQ4TLWXJ3KPD.env\n", "credential"},
		{"a key in a workflow's name", goodAgent + "mkdir -p .github/workflows && echo 'on: push' > .github/workflows/AKIAZ7VRSQ4TLWXJ3KPD.yml\n", "protected paths"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := pipelineBundle(t, tc.script, testConfig(0))
			run := b.runTask(t)
			if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, tc.reason) ||
				strings.Contains(run.Output.Summary+run.Output.Text, "AKIAZ7VRSQ4TLWXJ3KPD") {
				t.Fatalf("check run %q: %s\n%s", run.Conclusion, run.Output.Summary, run.Output.Text)
			}
			if n := len(b.gh.PullRequests(b.repo)); n != 0 {
				t.Fatalf("%d pull requests", n)
			}
			if branches := b.gh.Branches(t, b.repo); len(branches) != 1 {
				t.Fatalf("something was pushed: %v", branches)
			}
			comments := b.botComments(1)
			if why := comments[len(comments)-1]; !strings.Contains(why, tc.reason) || strings.Contains(why, "AKIAZ7VRSQ4TLWXJ3KPD") {
				t.Fatalf("final comment %q", why)
			}
		})
	}
}

func TestAWorkflowChangeARepositoryAllowsShipsOnlyWithTheAppsWorkflowsPermission(t *testing.T) {
	t.Parallel()
	script := goodAgent + "mkdir -p .github/workflows && echo 'on: push' > .github/workflows/ci.yml\n"
	unprotected := testConfig(0) + "protected_paths: [.github/oneshot.yml]\n"

	t.Run("granted", func(t *testing.T) {
		t.Parallel()
		b := pipelineBundle(t, script, unprotected)
		b.gh.GrantApp("workflows", "write")
		run := b.runTask(t)
		if run.Conclusion != "success" {
			t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
		}
		prs := b.gh.PullRequests(b.repo)
		if len(prs) != 1 || b.gh.FileAt(t, b.repo, prs[0].HeadSHA, ".github/workflows/ci.yml") != "on: push\n" {
			t.Fatalf("pull requests %+v", prs)
		}
	})
	t.Run("not granted", func(t *testing.T) {
		t.Parallel()
		b := pipelineBundle(t, script, unprotected)
		run := b.runTask(t)
		if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, "the App's workflows permission") {
			t.Fatalf("check run %q: %s", run.Conclusion, run.Output.Summary)
		}
		if branches := b.gh.Branches(t, b.repo); len(branches) != 1 {
			t.Fatalf("something was pushed: %v", branches)
		}
	})
}

func TestASettingsFileThatIsALinkIsRefusedNotTakenForAbsent(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ link, target, want string }{
		"the file":      {".github/oneshot.yml", "../shared/oneshot.yml", ".github/oneshot.yml is not a plain file"},
		"its directory": {".github", "shared", ".github is not a plain directory"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := pipelineBundle(t, goodAgent, "")
			// The settings the link leads to would protect secrets/;
			// detected settings in their place would not.
			b.gh.CommitFiles(t, b.repo, "main", "Shared settings", map[string]string{"shared/oneshot.yml": testConfig(0) + "protected_paths: [secrets/]\n"})
			b.gh.CommitLinks(t, b.repo, "main", "Link the settings", map[string]string{tc.link: tc.target})
			run := b.runTask(t)
			if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, tc.want) {
				t.Fatalf("check run %q: %s", run.Conclusion, run.Output.Summary)
			}
			if n := len(b.gh.PullRequests(b.repo)); n != 0 {
				t.Fatalf("%d pull requests", n)
			}
		})
	}
}

func TestOnlyTheAgentsFinalFilesShipInOneCommitOfTheBots(t *testing.T) {
	t.Parallel()
	// The agent commits as someone else, and adds a key in one commit to
	// take it away in the next: neither the history nor the key may ship.
	// (The script, which is in the repository, spells the key in two.)
	script := `git config user.name mallory
git config user.email mallory@example.invalid
` + goodAgent + `git add -A && git commit -qm "Add Hello"
printf 'AWS_ACCESS_KEY_ID=AKIA%s\n' Z7VRSQ4TLWXJ3KPD > deploy.env
git add deploy.env && git commit -qm "Deploy settings"
git rm -q deploy.env && git commit -qm "No deploy settings after all"
`
	b := pipelineBundle(t, script, testConfig(0))
	run := b.runTask(t)
	if run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	head := b.gh.Head(t, b.repo, "oneshot/issue-1")
	b.wantBotCommit(t, head, b.gh.Head(t, b.repo, "main"))
	if got := b.gh.FileAt(t, b.repo, head, "hello.go"); !strings.Contains(got, "Hello") {
		t.Fatalf("the agent's change did not ship: %q", got)
	}
	if found := b.gh.ObjectsContaining(t, b.repo, "AKIAZ7VRSQ4TLWXJ3KPD"); len(found) != 0 {
		t.Fatalf("the key was pushed, in objects %v", found)
	}
}

// What the setup commands change (a lockfile an install writes, a file it
// rewrites) is not the agent's change: it does not ship, and it does not
// pass for a change of an agent that made none.
func TestWhatSetupChangedDoesNotShipNorPassForTheAgentsChange(t *testing.T) {
	t.Parallel()
	setup := "setup:\n  - echo lock > setup.lock && echo rewritten > README.md\n"
	b := pipelineBundle(t, goodAgent, testConfig(0)+setup)
	if run := b.runTask(t); run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	head := b.gh.Head(t, b.repo, "oneshot/issue-1")
	paths := b.gh.Paths(t, b.repo, head)
	if !slices.Contains(paths, "hello.go") || slices.Contains(paths, "setup.lock") {
		t.Fatalf("the pull request's tree lists %q, want hello.go and not setup.lock", paths)
	}
	if got, want := b.gh.FileAt(t, b.repo, head, "README.md"), b.gh.FileAt(t, b.repo, "main", "README.md"); got != want {
		t.Fatalf("README.md is %q in the pull request, want it as on main", got)
	}

	idle := pipelineBundle(t, "true\n", testConfig(0)+setup)
	if run := idle.runTask(t); run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, "changed nothing") {
		t.Fatalf("an agent that changed nothing beside setup concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
}

// What the checks write (a binary go build leaves, a report, a file they
// regenerate) is not the agent's change either: it does not ship, and it
// does not pass for a change of an agent that made none.
func TestWhatTheChecksWriteDoesNotShipNorPassForTheAgentsChange(t *testing.T) {
	t.Parallel()
	config := `image: ` + pipelineImage() + `
verify:
  - name: test
    run: ` + uuidTests + `
  - name: report
    run: echo report > checks-report.txt && echo regenerated > README.md && go build -o uuid-tool .
agent:
  command: bash ` + agentPath + ` {prompt_file}
`
	b := pipelineBundle(t, goodAgent, config)
	run := b.runTask(t)
	if run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	head := b.gh.Head(t, b.repo, "oneshot/issue-1")
	paths := b.gh.Paths(t, b.repo, head)
	if !slices.Contains(paths, "hello.go") || slices.Contains(paths, "checks-report.txt") || slices.Contains(paths, "uuid-tool") {
		t.Fatalf("the pull request's tree lists %q, want hello.go and nothing the checks wrote", paths)
	}
	if got, want := b.gh.FileAt(t, b.repo, head, "README.md"), b.gh.FileAt(t, b.repo, "main", "README.md"); got != want {
		t.Fatalf("README.md is %q in the pull request, want it as on main", got)
	}
	if !strings.Contains(run.Output.Summary, "The checks wrote files in the checkout") {
		t.Errorf("the check run does not say the checks' files were left out:\n%s", run.Output.Summary)
	}

	idle := pipelineBundle(t, "true\n", config)
	if run := idle.runTask(t); run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, "changed nothing") {
		t.Fatalf("an agent that changed nothing beside the checks concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
}

func TestAChangeThatDeletesAKeyFileShips(t *testing.T) {
	t.Parallel()
	// A .p12 file is a key by its name alone, to gitleaks; deleting one
	// publishes no name that was not public.
	files := libraryFiles(t)
	files["testdata/client.p12"] = "a test certificate\n"
	b := unstartedPipelineBundleOf(t, files, goodAgent+"rm testdata/client.p12\n", testConfig(0))
	b.srv = b.start(t)
	b.runFirstTask(t)
	prs := b.gh.PullRequests(b.repo)
	if len(prs) != 1 {
		t.Fatalf("pull requests %+v", prs)
	}
	if paths := b.gh.Paths(t, b.repo, prs[0].HeadSHA); slices.Contains(paths, "testdata/client.p12") || !slices.Contains(paths, "hello.go") {
		t.Fatalf("the pull request holds %v, want hello.go and no key file", paths)
	}
}

func TestRepositoriesTheAgentMadeInsideTheCheckoutAreLeftOutAndNamed(t *testing.T) {
	t.Parallel()
	// The agent clones a reference into the checkout, puts another in a
	// tracked file's place, and starts a third it never commits to: git
	// would record the first two as links to commits only the sandbox has,
	// and cannot stage the third. Their names are the agent's to choose,
	// and a key in one is not shown.
	const key = "AKIAZ7VRSQ4TLWXJ3KPD"
	repository := func(dir string) string {
		return "git init -q '" + dir + "'\necho notes > '" + dir + "/notes.txt'\ngit -C '" + dir + "' add notes.txt\n" +
			"git -C '" + dir + "' -c user.name=agent -c user.email=agent@example.invalid commit -qm notes\n"
	}
	script := goodAgent + repository("vendor/"+key) + "rm README.md\n" + repository("README.md") +
		"git init -q scratch-" + key + "\necho draft > scratch-" + key + "/draft.txt\n"
	b := pipelineBundle(t, script, testConfig(0))
	run := b.runTask(t)
	if run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	prs := b.gh.PullRequests(b.repo)
	if len(prs) != 1 {
		t.Fatalf("%d pull requests", len(prs))
	}
	paths := b.gh.Paths(t, b.repo, prs[0].HeadSHA)
	if !slices.Contains(paths, "hello.go") || slices.ContainsFunc(paths, func(p string) bool {
		return strings.HasPrefix(p, "vendor/") || strings.HasPrefix(p, "scratch")
	}) {
		t.Fatalf("the pull request's tree lists %q, want hello.go and nothing under vendor/ or scratch/", paths)
	}
	if got, want := b.gh.FileAt(t, b.repo, prs[0].HeadSHA, "README.md"), b.gh.FileAt(t, b.repo, "main", "README.md"); got != want {
		t.Fatalf("README.md is %q in the pull request, want it as on main", got)
	}
	for what, text := range map[string]string{"pull request": prs[0].Body, "check run": run.Output.Summary} {
		for _, name := range []string{"`vendor/***`", "`README.md`", "`scratch-***`"} {
			if !strings.Contains(text, "Left out of the change") || !strings.Contains(text, name) {
				t.Errorf("the %s does not name %s as left out:\n%s", what, name, text)
			}
		}
		if strings.Contains(text, key) {
			t.Errorf("the %s shows the key:\n%s", what, text)
		}
	}
}

func TestCancelDuringImplementRemovesTheContainerQuickly(t *testing.T) {
	t.Parallel()
	b := pipelineBundle(t, "echo agent started; sleep 600\n", testConfig(0))
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, pipelineWait, "the agent to run", func() bool {
		runs := b.gh.CheckRuns(b.repo)
		return len(runs) == 1 && runs[0].Output.Title == "Running: implement"
	})
	docker := dockerClient(t)
	owner := b.env["ONESHOT_SANDBOX_OWNER"]
	if n := len(containersOf(t, docker, owner)); n != 1 {
		t.Fatalf("%d sandboxes run during implement", n)
	}

	cancelled := time.Now()
	b.deliver(t, "issue_comment", "issue_comment.created", commented("/oneshot cancel", "writer"))
	waitFor(t, 10*time.Second, "the container to go", func() bool { return len(containersOf(t, docker, owner)) == 0 })
	t.Logf("the container was gone %v after the cancel arrived", time.Since(cancelled).Round(time.Millisecond))
	if run := b.waitConcluded(t, 1); run.Conclusion != "cancelled" || !strings.Contains(run.Output.Summary, "cancelled during implement") {
		t.Fatalf("check run %q: %s", run.Conclusion, run.Output.Summary)
	}
}

func TestTheGitHubTokenNeverReachesTheSandboxLogsOrGitHub(t *testing.T) {
	t.Parallel()
	// The agent records everything a process inside could find: every
	// environment and command line it may read, and every file that
	// mentions a GitHub token's prefix, plain or as the start of a git
	// "x-access-token:" basic credential in base64. The record is
	// committed, so the test can read it from the pushed branch.
	script := goodAgent + `mkdir -p proof
env > proof/env.txt
for p in /proc/[0-9]*; do { tr '\0' '\n' < $p/environ; tr '\0' ' ' < $p/cmdline; } 2>/dev/null || true; echo; done > proof/proc.txt
ps -eo pid,args > proof/ps.txt
{ grep -rIl -e 'ghs_' -e 'eC1hY2Nlc3MtdG9rZW46Z2hz' /sandbox /tmp /dev/shm /etc 2>/dev/null || true; } | grep -v -e '^/sandbox/repo/proof/' -e '^/sandbox/repo/.oneshot-test/' > proof/files.txt || true
`
	b := pipelineBundle(t, script, testConfig(0))
	run := b.runTask(t)
	if run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	head := b.gh.Head(t, b.repo, "oneshot/issue-1")
	proof := ""
	for _, f := range []string{"proof/env.txt", "proof/proc.txt", "proof/ps.txt", "proof/files.txt"} {
		proof += b.gh.FileAt(t, b.repo, head, f)
	}
	if !strings.Contains(proof, "ONESHOT_ROUND") {
		t.Fatalf("the proof is empty: %q", proof)
	}
	if strings.Contains(proof, "ghs_") {
		t.Fatalf("a token is visible inside the sandbox:\n%s", proof)
	}
	// files.txt names the files that hold one, this script and its proof aside.
	if files := b.gh.FileAt(t, b.repo, head, "proof/files.txt"); strings.TrimSpace(files) != "" {
		t.Fatalf("files inside the sandbox hold a token:\n%s", files)
	}

	var everything []string
	everything = append(everything, b.logs.String())
	for _, c := range b.gh.Comments(b.repo, 1) {
		everything = append(everything, c.Body)
		everything = append(everything, c.History...)
	}
	for _, r := range b.gh.CheckRuns(b.repo) {
		for _, h := range r.History {
			everything = append(everything, h.Output.Title, h.Output.Summary, h.Output.Text)
		}
	}
	for _, pr := range b.gh.PullRequests(b.repo) {
		everything = append(everything, pr.Title, pr.Body)
	}
	tokens := b.gh.Tokens()
	if len(tokens) < 3 {
		t.Fatalf("only %d tokens were issued", len(tokens))
	}
	all := strings.Join(everything, "\n")
	for _, tok := range tokens {
		if strings.Contains(all, tok.Value) {
			t.Fatalf("token %s... appears in logs or GitHub text", tok.Value[:8])
		}
	}
}

func TestABadConfigurationGetsACommentNamingTheLineAndNoSandbox(t *testing.T) {
	t.Parallel()
	final := stopsBeforeAnySandbox(t, "verify:\n  - name: test\n    run: go test ./...\nfix_rounds: 9\nverfy: oops\n"+
		"pull_request:\n  reviewers: [\"@octo-team\"]\n")
	if !strings.Contains(final, "line 4") || !strings.Contains(final, "line 5") || !strings.Contains(final, `"verfy"`) || !strings.Contains(final, "line 7") {
		t.Fatalf("final comment does not name the lines: %q", final)
	}
	// Shown as code: quoted from the file, "@octo-team" mentions no one.
	if fence := strings.Index(final, "```\n"); fence < 0 || fence > strings.Index(final, "line 4") {
		t.Fatalf("final comment does not show the problems as code: %q", final)
	}
}

func TestSettingsBeyondWhatTheOperatorAllowsStartNoSandbox(t *testing.T) {
	t.Parallel()
	final := stopsBeforeAnySandbox(t, "verify:\n  - name: test\n    run: go test ./...\n"+
		"image: internal/deploy-tools:latest\nlimits:\n  memory: 64g\n")
	for _, want := range []string{
		`image: "internal/deploy-tools:latest" is not an image this bot allows`,
		"limits.memory: 64g is more than this bot allows, 8g (sandbox.max_limits.memory)",
	} {
		if !strings.Contains(final, want) {
			t.Errorf("final comment lacks %q: %q", want, final)
		}
	}
}

// stopsBeforeAnySandbox runs a task on a repository whose settings are
// oneshotYML, checks that it failed without creating a container, and
// returns the final comment.
func stopsBeforeAnySandbox(t *testing.T, oneshotYML string) string {
	t.Helper()
	b := pipelineBundle(t, goodAgent, oneshotYML)
	started := time.Now()
	if run := b.runTask(t); run.Conclusion != "failure" {
		t.Fatalf("check run concluded %q", run.Conclusion)
	}
	docker := dockerClient(t)
	msgs, errs := docker.Events(context.Background(), events.ListOptions{
		Since:   started.Format(time.RFC3339Nano),
		Until:   time.Now().Format(time.RFC3339Nano),
		Filters: filters.NewArgs(filters.Arg("type", "container"), filters.Arg("event", "create"), filters.Arg("label", sandbox.LabelOwner+"="+b.env["ONESHOT_SANDBOX_OWNER"])),
	})
	for done := false; !done; {
		select {
		case m, ok := <-msgs:
			if !ok {
				done = true
				break
			}
			t.Fatalf("a sandbox was created: %+v", m)
		case err := <-errs:
			if err != nil && !strings.Contains(err.Error(), "EOF") {
				t.Fatal(err)
			}
			done = true
		}
	}
	comments := b.botComments(1)
	return comments[len(comments)-1]
}

func dockerClient(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func containersOf(t *testing.T, docker *client.Client, owner string) []container.Summary {
	t.Helper()
	list, err := docker.ContainerList(context.Background(), container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelOwner+"="+owner)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func TestTheRepositorysTimeoutEndsTheTaskAsTimedOut(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ step, agent, config string }{
		{"implement", "sleep 600\n", ""},
		// The deadline counts from the start: it holds while the setup
		// commands it was read alongside still run.
		{"setup", "", "setup:\n  - sleep 600\n"},
	} {
		t.Run(tc.step, func(t *testing.T) {
			t.Parallel()
			b := pipelineBundle(t, tc.agent, testConfig(0)+"timeout: 15s\n"+tc.config)
			run := b.runTask(t)
			const limit = "the time limit of 15s (timeout in .github/oneshot.yml) ran out during "
			if run.Conclusion != "timed_out" || !strings.Contains(run.Output.Summary, limit+tc.step) {
				t.Fatalf("check run %q: %s", run.Conclusion, run.Output.Summary)
			}
			comments := b.botComments(1)
			if why := comments[len(comments)-1]; !strings.Contains(why, limit+tc.step) || !strings.Contains(why, "/oneshot retry") {
				t.Fatalf("final comment %q", why)
			}
		})
	}
}

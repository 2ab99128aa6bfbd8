package main

import (
	"bytes"
	"cmp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oneshot-dev/oneshot/sandbox"
)

// TestRunMakesABranchAndAPatchOnALocalClone runs bot run on a local clone
// of a real library (github.com/google/uuid, from the module cache) with a
// scripted agent, in a real sandbox.
func TestRunMakesABranchAndAPatchOnALocalClone(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/google/uuid").Output()
	if err != nil {
		t.Fatalf("find the test library: %v", err)
	}
	repo := filepath.Join(t.TempDir(), "uuid")
	if err := os.CopyFS(repo, os.DirFS(strings.TrimSpace(string(out)))); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string { return runGit(t, repo, args...) }
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "import")
	image := os.Getenv("ONESHOT_TEST_GO_IMAGE")
	if image == "" {
		image = "oneshot/sandbox:with-go"
	}
	cfg := filepath.Join(t.TempDir(), "oneshot.yml")
	// All the library's tests but TestVersion6, which fails now and then
	// on a loaded machine (github.com/google/uuid/issues/199).
	os.WriteFile(cfg, []byte("image: "+image+"\nverify:\n  - go test -run '^(Test([^V]|V[^e]|Version[^6])|Example|Fuzz)' ./...\n"), 0o644)
	patch := filepath.Join(t.TempDir(), "change.patch")
	// The agent's key, as the bot's operator would give it.
	t.Setenv("ONESHOT_AGENT_SECRETS", "LLM_KEY")
	t.Setenv("LLM_KEY", "sk-test-0123456789")
	agent := `test "$LLM_KEY" = sk-test-0123456789 || exit 3; cat {prompt_file} > /dev/null; printf 'package uuid\n\n// Nil2 is Nil again.\nvar Nil2 = Nil\n' > nil2.go`

	var log bytes.Buffer
	err = run([]string{"run", "--repo-dir", repo, "--task", "Add Nil2", "--agent-command", agent,
		"--config", cfg, "--patch", patch, "--quiet"}, &log)
	if err != nil {
		t.Fatalf("bot run: %v\n%s", err, log.String())
	}
	data, err := os.ReadFile(patch)
	if err != nil || !strings.Contains(string(data), "+var Nil2 = Nil") {
		t.Fatalf("patch %q, %v", data, err)
	}
	branches := git("branch", "--list", "oneshot/*")
	if !strings.Contains(branches, "oneshot/task-") {
		t.Fatalf("no branch was made: %q\n%s", branches, log.String())
	}
	if status := git("status", "--porcelain"); status != "" {
		t.Fatalf("the working tree was touched: %q", status)
	}
	if !strings.Contains(log.String(), "verify: passed") {
		t.Fatalf("log:\n%s", log.String())
	}
}

func TestRunRefusesADirectoryThatIsNotARepository(t *testing.T) {
	dir := t.TempDir()
	err := runTask([]string{"--repo-dir", dir, "--task", "Fix it", "--patch", filepath.Join(dir, "out.patch")}, &bytes.Buffer{})
	// In git's own words too, which say why (another user's repository,
	// say), where oneshot's cannot.
	if err == nil || !strings.Contains(err.Error(), "not a git repository with a commit") || !strings.Contains(err.Error(), "(git: fatal:") {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("it left %v", entries)
	}
}

func TestRunRefusesASHA256RepositoryBeforeRunningAnything(t *testing.T) {
	dir := t.TempDir()
	runGit(t, dir, "init", "-q", "--object-format=sha256", "-b", "main")
	runGit(t, dir, "commit", "-q", "--allow-empty", "-m", "start")
	err := runTask([]string{"--repo-dir", dir, "--task", "Fix it"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "is a SHA256 repository") {
		t.Fatalf("err = %v, want SHA-256 refused", err)
	}
}

// runGit runs git in dir as a test's author, and returns what it printed.
func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// gitRepo makes a repository with one commit in a new directory.
func gitRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	runGit(t, dir, "init", "-q", "-b", "main")
	runGit(t, dir, "commit", "-q", "--allow-empty", "-m", "start")
	top, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func TestRunWorksOnTheRepositoryADirectoryIsIn(t *testing.T) {
	repo := gitRepo(t)
	sub := filepath.Join(repo, "pkg", "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := repositoryOf(sub); err != nil || got != repo {
		t.Errorf("repositoryOf(a subdirectory) = %q, %v; want %q", got, err, repo)
	}
	bare := filepath.Join(t.TempDir(), "bare.git")
	if out, err := exec.Command("git", "clone", "-q", "--bare", repo, bare).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got, err := repositoryOf(bare); err != nil || filepath.Base(got) != "bare.git" {
		t.Errorf("repositoryOf(a bare repository) = %q, %v", got, err)
	}
}

func TestRunOverwritesNoFileWithItsPatch(t *testing.T) {
	repo := gitRepo(t)
	taken := filepath.Join(repo, "README.md")
	if err := os.WriteFile(taken, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := runTask([]string{"--repo-dir", repo, "--task", "Fix it", "--patch", taken}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("err = %v", err)
	}
	if data, _ := os.ReadFile(taken); string(data) != "mine\n" {
		t.Fatalf("the file holds %q", data)
	}
}

func TestRunRefusesWhatItCouldNotDoBeforeRunningAnything(t *testing.T) {
	repo := gitRepo(t)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"words after the flags":   {[]string{"--repo-dir", repo, "--task", "fix", "the", "bug"}, `unexpected "the"`},
		"a patch in no directory": {[]string{"--repo-dir", repo, "--task", "Fix it", "--patch", filepath.Join(repo, "missing", "out.patch")}, "is not there"},
		"no time to run":          {[]string{"--repo-dir", repo, "--task", "Fix it", "--timeout", "0"}, "--timeout is 0s; it must be positive"},
		"a task that is hidden":   {[]string{"--repo-dir", repo, "--task", "<!-- fix the parser -->"}, "in --task is empty"},
		"a task of no letters":    {[]string{"--repo-dir", repo, "--task", "\u200b"}, "in --task is empty"},
		"a --config not there":    {[]string{"--repo-dir", repo, "--task", "Fix it", "--config", filepath.Join(repo, "missing.yml")}, "--config " + filepath.Join(repo, "missing.yml")},
	} {
		if err := runTask(tc.args, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to say %q", name, err, tc.want)
		}
	}
}

func TestRunSaysThatChangesNotCommittedAreLeftOut(t *testing.T) {
	repo := gitRepo(t)
	if err := os.WriteFile(filepath.Join(repo, "draft.go"), []byte("package x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	// A patch in no directory stops it before any sandbox.
	_ = runTask([]string{"--repo-dir", repo, "--task", "Fix it", "--patch", filepath.Join(repo, "missing", "p.patch")}, &out)
	if !strings.Contains(out.String(), "changes not committed") {
		t.Fatalf("output %q", out.String())
	}
}

func TestRunTakesTheAgentsSettingsAsTheBotDoesAndChecksThemFirst(t *testing.T) {
	repo := gitRepo(t)
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"a secret not set":     {map[string]string{"ONESHOT_AGENT_SECRETS": "LLM_KEY"}, "agent.secrets names LLM_KEY, which is not set"},
		"a secret too short":   {map[string]string{"ONESHOT_AGENT_SECRETS": "LLM_KEY", "LLM_KEY": "abc"}, "shorter than 6 characters"},
		"a timeout that fails": {map[string]string{"ONESHOT_AGENT_TIMEOUT": "soon"}, "agent.timeout (ONESHOT_AGENT_TIMEOUT) is not a duration"},
	} {
		t.Run(name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			if err := runTask([]string{"--repo-dir", repo, "--task", "Fix it"}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

// TestRunTakesTheSandboxImageAsTheBotDoes: the README has people build
// their agent's image and name it in ONESHOT_SANDBOX_IMAGE.
func TestRunTakesTheSandboxImageAsTheBotDoes(t *testing.T) {
	repo := gitRepo(t)
	t.Setenv("ONESHOT_SANDBOX_IMAGE", "oneshot-test/never-built:none")
	var log bytes.Buffer
	err := runTask([]string{"--repo-dir", repo, "--task", "Fix it", "--agent-command", "cat {prompt_file}"}, &log)
	if err == nil || !strings.Contains(err.Error()+log.String(), "oneshot-test/never-built:none") {
		t.Fatalf("err = %v, log:\n%s\nwant the image ONESHOT_SANDBOX_IMAGE names", err, log.String())
	}
}

// The operator's bound on where a sandbox may reach holds for bot run as
// for the bot: it is what keeps the agent's key from going elsewhere.
func TestRunKeepsTheSandboxWithinTheBotsNetworkBounds(t *testing.T) {
	repo := gitRepo(t)
	cfg := filepath.Join(t.TempDir(), "oneshot.yml")
	if err := os.WriteFile(cfg, []byte("network:\n  mode: filtered\n  allow: [\"127.0.0.1\"]\nverify:\n  - \"true\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bot := filepath.Join(t.TempDir(), "bot.yml")
	if err := os.WriteFile(bot, []byte("sandbox:\n  image: "+cmp.Or(os.Getenv("ONESHOT_TEST_IMAGE"), sandbox.DefaultImage)+"\n  network:\n    allow: models.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ONESHOT_CONFIG", bot)
	var out bytes.Buffer
	agent := "curl -s -o /dev/null --noproxy '' http://127.0.0.1/ || true; echo changed > changed.txt; true {prompt_file}"
	if err := runTask([]string{"--repo-dir", repo, "--task", "Fix it", "--agent-command", agent, "--config", cfg, "--quiet"}, &out); err != nil {
		t.Fatalf("bot run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), `note: the network filter refused "127.0.0.1:80": host is outside what the bot's operator allows`) {
		t.Errorf("output:\n%s\nwant the request refused by the bot's bound", out.String())
	}
}

// The file --config names is checked before Docker is asked for
// anything: a Docker that is not there would otherwise be said first.
func TestRunNamesTheSettingsFileItWasGivenInItsErrors(t *testing.T) {
	repo := gitRepo(t)
	cfg := filepath.Join(t.TempDir(), "candidate.yml")
	if err := os.WriteFile(cfg, []byte("fix_rounds: 99\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	var out bytes.Buffer
	var err error
	stderr := stderrOf(t, func() {
		err = runTask([]string{"--repo-dir", repo, "--task", "Fix it", "--agent-command", "true {prompt_file}", "--config", cfg}, &out)
	})
	if err == nil || !strings.HasPrefix(err.Error(), cfg+": line 1: fix_rounds is 99") || strings.Contains(stderr, "sandboxes") {
		t.Fatalf("err %v, output:\n%s\nstderr:\n%s", err, out.String(), stderr)
	}
}

// What a run's messages tell to change is in the file --config names,
// not in a .github/oneshot.yml that was not read.
func TestRunsAdviceNamesTheSettingsFileItWasGiven(t *testing.T) {
	repo := gitRepo(t)
	cfg := filepath.Join(t.TempDir(), "candidate.yml")
	if err := os.WriteFile(cfg, []byte("image: "+cmp.Or(os.Getenv("ONESHOT_TEST_IMAGE"), sandbox.DefaultImage)+"\nverify:\n  - no-such-linter ./...\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := runTask([]string{"--repo-dir", repo, "--task", "Fix it", "--agent-command", "true {prompt_file}", "--config", cfg, "--quiet"}, &out)
	if want := "the sandbox image has no `no-such-linter`, which the checks run, so they could never pass; `image` in " + cfg + " names one that has it"; err == nil || !strings.Contains(out.String(), want) {
		t.Fatalf("err %v, output:\n%s\nwant %q", err, out.String(), want)
	}
}

// bot run's --config is a repository's settings, where serve's is the
// bot's own: its help says where those come from.
func TestRunsHelpSaysWhereTheBotsOwnSettingsComeFrom(t *testing.T) {
	var err error
	stderr := stderrOf(t, func() { err = runTask([]string{"-h"}, new(bytes.Buffer)) })
	if !strings.Contains(stderr, "in place of its .github/oneshot.yml") || !strings.Contains(stderr, "the file ONESHOT_CONFIG names and the environment") {
		t.Errorf("err %v, help:\n%s", err, stderr)
	}
}

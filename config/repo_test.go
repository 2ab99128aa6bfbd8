package config

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/sandbox"
)

func TestEmptyRepoFileIsTheDefaults(t *testing.T) {
	t.Parallel()
	for name, file := range map[string]string{
		"empty":            "",
		"comments only":    "# nothing to say\n",
		"document marker":  "---\n",
		"empty mapping":    "{}\n",
		"empty sections":   "network:\nlimits: ~\npull_request: {}\n",
		"null lists":       "setup:\nverify: ~\nprotected_paths:\nnetwork:\n  allow: ~\n",
		"null leaves":      "fix_rounds:\nbranch_prefix: ~\nagent:\n  timeout:\n",
		"zero timeouts":    "timeout: 0s\nagent:\n  timeout: 0s\n",
		"null merge":       "limits:\n  <<: ~\n",
		"empty second doc": "---\nlimits: {}\n---\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRepo([]byte(file))
			if err != nil {
				t.Fatal(err)
			}
			if want := DefaultRepo(); !reflect.DeepEqual(got, want) {
				t.Errorf("ParseRepo = %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestDefaultRepoIsValidAndProtectsWorkflows(t *testing.T) {
	t.Parallel()
	r := DefaultRepo()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if !r.Protected(".github/workflows/ci.yml") {
		t.Error("the default leaves .github/workflows/ci.yml unprotected")
	}
	// Each call is a fresh list, so a caller cannot change the next one's.
	r.ProtectedPaths[0] = "x"
	if DefaultRepo().ProtectedPaths[0] != DefaultProtectedPath {
		t.Error("DefaultRepo shares its protected paths between calls")
	}
}

// config does not import sandbox, so the equal defaults are kept equal here.
func TestRepoDefaultsAreTheSandboxDefaults(t *testing.T) {
	t.Parallel()
	r := DefaultRepo()
	got := sandbox.Spec{
		Memory:  r.Limits.Memory,
		Disk:    r.Limits.Disk,
		CPUs:    r.Limits.CPUs,
		Pids:    r.Limits.Pids,
		Network: sandbox.Network{Mode: sandbox.NetworkMode(r.Network.Mode)},
	}
	want := sandbox.Spec{
		Memory:  sandbox.DefaultMemory,
		Disk:    sandbox.DefaultDisk,
		CPUs:    sandbox.DefaultCPUs,
		Pids:    sandbox.DefaultPids,
		Network: sandbox.Network{Mode: sandbox.DefaultNetwork},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("repo defaults %+v\nsandbox defaults %+v", got, want)
	}
	for _, mode := range []sandbox.NetworkMode{sandbox.NetworkNone, sandbox.NetworkFiltered, sandbox.NetworkHost} {
		if !slices.Contains([]string{NetworkNone, NetworkFiltered, NetworkHost}, string(mode)) {
			t.Errorf("config has no network mode %q", mode)
		}
	}
}

func TestFullRepoFileSetsEverything(t *testing.T) {
	t.Parallel()
	got, err := ParseRepo([]byte(`
setup:
  - go mod download
verify:
  - go vet ./...
  - name: test
    run: go test -race ./...
  - run: |
      ./scripts/check-generated.sh
      echo done
fix_rounds: 0
image: ghcr.io/example/sandbox:1.2
network:
  mode: filtered
  allow: [proxy.golang.org, "*.npmjs.org"]
  deny: [evil.npmjs.org]
limits:
  memory: 8g
  disk: 512m
  cpus: 1.5
  pids: 256
timeout: 45m
branch_prefix: bots/oneshot/
pull_request:
  draft: false
  labels: [oneshot, needs review]
  reviewers: [alice, bob-2]
protected_paths:
  - .github/workflows/
  - "*.pem"
  - go.sum
agent:
  command: my-agent --prompt-file {prompt_file}
  timeout: 10m
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Repo{
		Setup: []string{"go mod download"},
		Verify: []Check{
			{Name: "go vet", Run: "go vet ./..."},
			{Name: "test", Run: "go test -race ./..."},
			{Name: "./scripts/check-generated.sh", Run: "./scripts/check-generated.sh\necho done\n"},
		},
		FixRounds:      0, // an explicit 0 is no fix rounds, not "use the default"
		Image:          "ghcr.io/example/sandbox:1.2",
		Network:        RepoNetwork{Mode: "filtered", Allow: []string{"proxy.golang.org", "*.npmjs.org"}, Deny: []string{"evil.npmjs.org"}},
		Limits:         RepoLimits{Memory: "8g", Disk: "512m", CPUs: 1.5, Pids: 256},
		Timeout:        45 * time.Minute,
		BranchPrefix:   "bots/oneshot/",
		PullRequest:    PullRequestOptions{Draft: false, Labels: []string{"oneshot", "needs review"}, Reviewers: []string{"alice", "bob-2"}},
		ProtectedPaths: []string{".github/workflows/", "*.pem", "go.sum"},
		Agent:          AgentOptions{Command: "my-agent --prompt-file {prompt_file}", Timeout: 10 * time.Minute},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseRepo = %+v\nwant %+v", got, want)
	}
}

func TestEmptyListReplacesTheDefault(t *testing.T) {
	t.Parallel()
	got, err := ParseRepo([]byte("protected_paths: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ProtectedPaths) != 0 || got.Protected(".github/workflows/ci.yml") {
		t.Errorf("protected_paths: [] left %q protected", got.ProtectedPaths)
	}
}

func TestAnchorsAndMergesWorkInARepoFile(t *testing.T) {
	t.Parallel()
	got, err := ParseRepo([]byte(`
setup: &cmds [make deps]
verify:
  - &vet {name: vet, run: go vet ./...}
  - <<: *vet
    name: vet again
limits:
  <<: {cpus: 4}
  pids: 10
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Check{{Name: "vet", Run: "go vet ./..."}, {Name: "vet again", Run: "go vet ./..."}}
	if !reflect.DeepEqual(got.Verify, want) || got.Limits.CPUs != 4 || got.Limits.Pids != 10 || got.Setup[0] != "make deps" {
		t.Errorf("ParseRepo = %+v", got)
	}
}

func TestCheckIsNamedAfterTheFirstWordsOfItsCommand(t *testing.T) {
	t.Parallel()
	tests := []struct{ run, want string }{
		{"go vet ./...", "go vet"},
		{"go test -race ./...", "go test -race"},
		{"npm run lint", "npm run lint"},
		{"python3 -m pytest -x", "python3 -m pytest"},
		{"make test", "make test"},
		{"cargo test", "cargo test"},
		{"./scripts/check.sh --all", "./scripts/check.sh"},
		{"golangci-lint run && go test", "golangci-lint run"},
		{"  pytest\n  --cov\n", "pytest"},
	}
	for _, tt := range tests {
		if got := checkName(tt.run); got != tt.want {
			t.Errorf("checkName(%q) = %q, want %q", tt.run, got, tt.want)
		}
	}
}

func TestRepoFileProblemIsNamedWithItsLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file string
		want       []string // after ".github/oneshot.yml: "
	}{
		{"unknown key at the top", "verify: [make]\nfix_round: 3\n",
			[]string{`line 2: unknown key "fix_round" (known: setup, verify, fix_rounds, image, network, limits, timeout, branch_prefix, pull_request, protected_paths, agent)`}},
		{"unknown key in a section", "network:\n  mod: filtered\n",
			[]string{`line 2: unknown key "mod" in network (known: mode, allow, deny)`}},
		{"unknown key in a check", "verify:\n  - name: test\n    command: go test\n",
			[]string{
				`line 2: verify[0].run is missing; a check is a command, or a mapping of name and run`,
				`line 3: unknown key "command" in verify[0] (known: name, run)`,
			}},
		{"key given twice", "limits:\n  cpus: 1\n  cpus: 2\n",
			[]string{`line 3: key "cpus" in limits is already set on line 2`}},
		{"word for a number", "fix_rounds: two\n",
			[]string{`line 1: fix_rounds "two" is not a whole number`}},
		{"fraction for a whole number", "limits:\n  pids: 1.5\n",
			[]string{`line 2: limits.pids "1.5" is not a whole number`}},
		{"word for a fraction", "limits:\n  cpus: many\n",
			[]string{`line 2: limits.cpus "many" is not a number`}},
		{"word for true or false", "pull_request:\n  draft: maybe\n",
			[]string{`line 2: pull_request.draft "maybe" is not true or false`}},
		{"one command for a list", "setup: go mod download\n",
			[]string{`line 1: setup is a single value, not a list`}},
		{"mapping for a list", "verify:\n  run: go test ./...\n",
			[]string{`line 2: verify is a mapping, not a list`}},
		{"list for a command", "setup:\n  - [go, mod, download]\n",
			[]string{`line 2: setup[0] is a list, not a string`}},
		{"list for a check", "verify:\n  - go vet ./...\n  - [go, test]\n",
			[]string{`line 3: verify[1] is a list, not a command or a mapping of name and run`}},
		{"value for a section", "limits: 4g\n",
			[]string{`line 1: limits is a single value, not a mapping`}},
		{"not a mapping at all", "- go test ./...\n",
			[]string{`line 1: the file is a list, not a mapping`}},
		{"fix rounds above the maximum", "# oneshot\nsetup: [make deps]\nverify: [make test]\n\n\n\nfix_rounds: 9\n",
			[]string{`line 7: fix_rounds is 9; it must be between 0 and 5`}},
		{"fix rounds negative", "fix_rounds: -1\n",
			[]string{`line 1: fix_rounds is -1; it must be between 0 and 5`}},
		{"duration in words", "timeout: 1 hour\n",
			[]string{`line 1: timeout "1 hour" is not a duration such as 30s or 1h`}},
		{"duration without a unit", "agent:\n  timeout: 30\n",
			[]string{`line 2: agent.timeout "30" is not a duration such as 30s or 1h`}},
		{"timeout negative", "timeout: -1h\n",
			[]string{`line 1: timeout is -1h0m0s; it must be positive, or 0 for the operator's queue.task_timeout`}},
		{"agent timeout negative", "agent:\n  timeout: -1m\n",
			[]string{`line 2: agent.timeout is -1m0s; it must be positive, or 0 for the operator's agent.timeout`}},
		{"size in words", "limits:\n  memory: lots\n",
			[]string{`line 2: limits.memory "lots" is not a size such as 512m or 4g`}},
		{"size too small to start", "limits:\n  memory: 16m\n",
			[]string{`line 2: limits.memory "16m" is below the minimum of 32m`}},
		{"size zero", "limits:\n  disk: \"0\"\n",
			[]string{`line 2: limits.disk "0" is not a size such as 512m or 4g`}},
		{"no CPU", "limits:\n  cpus: 0\n",
			[]string{`line 2: limits.cpus is 0; it must be more than 0`}},
		{"no process", "limits:\n  pids: 0\n",
			[]string{`line 2: limits.pids is 0; it must be at least 1`}},
		{"host network", "network:\n  mode: host\n",
			[]string{`line 2: network.mode is host, which only the bot's operator may choose; use none, or filtered with an allow list`}},
		{"unknown network mode", "network:\n  mode: open\n",
			[]string{`line 2: network.mode "open" is not one of none, filtered`}},
		{"allow without filtered", "network:\n  allow: [proxy.golang.org]\n",
			[]string{`line 2: network.allow applies only to network.mode filtered, not none`}},
		{"deny without filtered", "network:\n  mode: none\n  deny:\n    - example.com\n",
			[]string{`line 3: network.deny applies only to network.mode filtered, not none`}},
		{"host pattern that does not compile", "network:\n  mode: filtered\n  allow:\n    - proxy.golang.org\n    - \"[a\"\n",
			[]string{`line 5: network.allow[1] "[a" does not compile: syntax error in pattern`}},
		{"host pattern with a scheme", "network:\n  mode: filtered\n  deny: [\"https://x.org\"]\n",
			[]string{`line 3: network.deny[0] "https://x.org" is not a host name pattern such as proxy.golang.org or *.npmjs.org`}},
		{"host pattern in capitals", "network:\n  mode: filtered\n  allow: [Proxy.golang.org]\n",
			[]string{`line 3: network.allow[0] "Proxy.golang.org" has capitals; host names are matched in lower case`}},
		{"protected glob that does not compile", "protected_paths:\n  - .github/workflows/\n  - \"secrets/[\"\n",
			[]string{`line 3: protected_paths[1] "secrets/[" does not compile: syntax error in pattern`}},
		{"protected path with **", "protected_paths: [\".github/**\"]\n",
			[]string{`line 1: protected_paths[0] ".github/**" uses **, which matches no more than *; end a directory with / to protect everything under it`}},
		{"protected path absolute", "protected_paths: [/etc/passwd]\n",
			[]string{`line 1: protected_paths[0] "/etc/passwd" is absolute; paths are relative to the repository's root, as in .github/workflows/`}},
		{"protected path outside", "protected_paths: [../other/]\n",
			[]string{`line 1: protected_paths[0] "../other/" is not a path inside the repository`}},
		{"protected path empty", "protected_paths: [\"\"]\n",
			[]string{`line 1: protected_paths[0] "" is empty`}},
		{"check without run", "verify:\n  - go vet ./...\n  - name: test\n",
			[]string{`line 3: verify[1].run is missing; a check is a command, or a mapping of name and run`}},
		{"check with a null run", "verify:\n  - name: test\n    run: ~\n",
			[]string{`line 3: verify[0].run is missing; a check is a command, or a mapping of name and run`}},
		{"check that is null", "verify:\n  - go vet ./...\n  -\n",
			[]string{`line 3: verify[1] is empty`}},
		{"command that is null", "setup: [~]\n",
			[]string{`line 1: setup[0] is empty`}},
		{"check with an empty name", "verify:\n  - name: \" \"\n    run: make\n",
			[]string{`line 2: verify[0].name is empty`}},
		{"checks of the same name", "verify:\n  - name: test\n    run: go test ./a/...\n  - name: test\n    run: go test ./b/...\n",
			[]string{`line 4: verify[1].name "test" is also the name of verify[0]; give each check its own name`}},
		{"checks named alike by their commands", "verify:\n  - go test ./a/...\n  - go vet ./...\n  - go test ./b/...\n",
			[]string{`line 4: verify[2].name "go test" is also the name of verify[0]; give each check its own name`}},
		{"empty setup command", "setup:\n  - go mod download\n  - \"  \"\n",
			[]string{`line 3: setup[1] is empty`}},
		{"agent command without the prompt", "agent:\n  command: my-agent --prompt prompt.md\n",
			[]string{`line 2: agent.command does not contain {prompt_file}, where the path of the prompt goes`}},
		{"branch prefix empty", "branch_prefix: \"\"\n",
			[]string{`line 1: branch_prefix is empty; it must be a name ending in / such as oneshot/`}},
		{"branch prefix without a slash", "branch_prefix: oneshot-\n",
			[]string{`line 1: branch_prefix "oneshot-" does not end in /; it must be a name ending in / such as oneshot/`}},
		{"branch prefix with a space", "branch_prefix: one shot/\n",
			[]string{`line 1: branch_prefix "one shot/" contains a space, a control character or one of ~^:?*[\, which git refuses in a branch name`}},
		{"branch prefix with ..", "branch_prefix: a..b/\n",
			[]string{`line 1: branch_prefix "a..b/" contains .., which git refuses in a branch name`}},
		{"branch prefix starting with a dash", "branch_prefix: -x/\n",
			[]string{`line 1: branch_prefix "-x/" starts with "-", which git refuses in a branch name`}},
		{"branch prefix with a hidden component", "branch_prefix: bots/.x/\n",
			[]string{`line 1: branch_prefix "bots/.x/" has a component starting with . or ending in .lock, which git refuses`}},
		{"branch prefix with a .lock component", "branch_prefix: x.lock/\n",
			[]string{`line 1: branch_prefix "x.lock/" has a component starting with . or ending in .lock, which git refuses`}},
		{"branch prefix with two slashes", "branch_prefix: a//\n",
			[]string{`line 1: branch_prefix "a//" has an empty component between slashes`}},
		{"branch prefix with @{", "branch_prefix: a@{b/\n",
			[]string{`line 1: branch_prefix "a@{b/" contains @{, which git refuses in a branch name`}},
		{"reviewer with @", "pull_request:\n  reviewers: [\"@alice\"]\n",
			[]string{`line 2: pull_request.reviewers[0] "@alice" starts with @; write the login alone, as in alice`}},
		{"reviewer not a login", "pull_request:\n  reviewers: [alice, my-org/team]\n",
			[]string{`line 2: pull_request.reviewers[1] "my-org/team" is not a GitHub login`}},
		{"label with a space around it", "pull_request:\n  labels:\n    - \"oneshot \"\n",
			[]string{`line 3: pull_request.labels[0] "oneshot " has whitespace around it or other than spaces inside it`}},
		{"image with a space", "image: my image\n",
			[]string{`line 1: image "my image" is not an image such as oneshot/sandbox:latest`}},
		{"second document", "fix_rounds: 1\n---\nfix_rounds: 2\n",
			[]string{`line 2: a second YAML document; the file holds one`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseRepo([]byte(tt.file))
			wantLines(t, err, RepoPath, tt.want)
		})
	}
}

func TestEveryRepoProblemIsReportedAtOnceInLineOrder(t *testing.T) {
	t.Parallel()
	_, err := ParseRepo([]byte(`setup:
  - go mod download
  - [oops]
  - ""
verify:
  - name: test
fix_rounds: 7
network:
  mode: host
limits:
  memory: 4 gigs
  cpus: 1
  cpu: 2
branch_prefix: oneshot
agent:
  command: my-agent
  timeout: soon
`))
	want := []string{
		// The walk's problem with setup[1] hides setup[2], whose index the
		// yaml package shifts when it drops setup[1].
		`line 3: setup[1] is a list, not a string`,
		`line 6: verify[0].run is missing; a check is a command, or a mapping of name and run`,
		`line 7: fix_rounds is 7; it must be between 0 and 5`,
		`line 9: network.mode is host, which only the bot's operator may choose; use none, or filtered with an allow list`,
		`line 11: limits.memory "4 gigs" is not a size such as 512m or 4g`,
		`line 13: unknown key "cpu" in limits (known: memory, disk, cpus, pids)`,
		`line 14: branch_prefix "oneshot" does not end in /; it must be a name ending in / such as oneshot/`,
		`line 16: agent.command does not contain {prompt_file}, where the path of the prompt goes`,
		`line 17: agent.timeout "soon" is not a duration such as 30s or 1h`,
	}
	wantLines(t, err, RepoPath, want)
}

func TestRepoSyntaxErrorKeepsItsLine(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, file, want string }{
		{"unclosed list", "setup:\n  - go mod download\nverify: [\n", "line 3: did not find expected node content"},
		{"bad indentation", "fix_rounds: 1\n  timeout: 1h\n", "line 2: mapping values are not allowed in this context"},
		{"tab for indentation", "network:\n\tmode: none\n", "line 2: found character that cannot start any token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseRepo([]byte(tt.file))
			wantLines(t, err, RepoPath, []string{tt.want})
		})
	}
}

func TestValidateNamesKeysWithoutAFile(t *testing.T) {
	t.Parallel()
	r := DefaultRepo()
	r.FixRounds = 9
	r.Verify = []Check{{Run: "make test"}}
	want := []string{
		"verify[0].name is empty",
		"fix_rounds is 9; it must be between 0 and 5",
	}
	if got := lines(r.Validate()); !reflect.DeepEqual(got, want) {
		t.Errorf("Validate = %q, want %q", got, want)
	}
}

func TestProtectedPaths(t *testing.T) {
	t.Parallel()
	r := DefaultRepo()
	r.ProtectedPaths = []string{".github/workflows/", "go.sum", "*.pem", "deploy/*.yml", "*/secrets/", "./scripts/release.sh"}
	tests := []struct {
		path string
		want bool
	}{
		{".github/workflows/ci.yml", true},
		{".github/workflows/nested/x.yml", true},
		{".github/workflows", true}, // a file replacing the directory
		{".github/dependabot.yml", false},
		{".github/workflowsx/ci.yml", false},
		{"go.sum", true},
		{"sub/go.sum", false}, // exact: only the root's
		{"go.sum.bak", false},
		{"key.pem", true},
		{"certs/key.pem", false}, // * does not cross a slash
		{"deploy/prod.yml", true},
		{"deploy/prod/x.yml", false},
		{"app/secrets/token", true},
		{"app/secrets", true},
		{"secrets/token", false},
		{"scripts/release.sh", true},
		{"./.github/workflows/ci.yml", true},
		{".//.github/workflows//ci.yml", true},
		{"docs/../.github/workflows/ci.yml", true},
		{".github/workflows/../../main.go", false}, // cleans to main.go
		{"../x", true},
		{"a/../../x", true},
		{"..", true},
		{"/etc/passwd", true},
		{"", true},
		{".", true},
		{"main.go", false},
		{".GitHub/Workflows/ci.yml", false}, // case-sensitive, as git is
		{"KEY.PEM", false},
		{"Go.sum", false},
	}
	for _, tt := range tests {
		if got := r.Protected(tt.path); got != tt.want {
			t.Errorf("Protected(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

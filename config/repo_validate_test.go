package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestRepoValueProblemIsNamedWithItsLine(t *testing.T) {
	t.Parallel()
	testRepoProblems(t, []repoProblemCase{
		{"fix rounds above the maximum", "# oneshot\nsetup: [make deps]\nverify: [make test]\n\n\n\nfix_rounds: 9\n",
			[]string{`line 7: fix_rounds is 9; it must be between 0 and 5`}},
		{"fix rounds negative", "fix_rounds: -1\n",
			[]string{`line 1: fix_rounds is -1; it must be between 0 and 5`}},
		{"timeout negative", "timeout: -1h\n",
			[]string{`line 1: timeout is -1h0m0s; it must be positive, or 0 for the operator's queue.task_timeout`}},
		{"agent timeout negative", "agent:\n  timeout: -1m\n",
			[]string{`line 2: agent.timeout is -1m0s; it must be positive, or 0 for the operator's agent.timeout`}},
		{"size in words", "limits:\n  memory: lots\n",
			[]string{`line 2: limits.memory "lots" is not a size such as 512m or 4g`}},
		{"size too small to start", "limits:\n  memory: 16m\n",
			[]string{`line 2: limits.memory "16m" is below the minimum of 32m`}},
		{"size past what a size holds", "limits:\n  memory: 9000000000g\n",
			[]string{`line 2: limits.memory "9000000000g" is not a size such as 512m or 4g`}},
		{"size zero", "limits:\n  disk: \"0\"\n",
			[]string{`line 2: limits.disk "0" is not a size such as 512m or 4g`}},
		{"size without a unit", "limits:\n  disk: 2048\n",
			[]string{`line 2: limits.disk "2048" has no unit; a size is a number and a unit, as in 512m or 4g`}},
		{"memory without a unit", "limits:\n  memory: 512\n",
			[]string{`line 2: limits.memory "512" has no unit; a size is a number and a unit, as in 512m or 4g`}},
		{"no CPU", "limits:\n  cpus: 0\n",
			[]string{`line 2: limits.cpus is 0; it must be at least 0.01`}},
		{"too little CPU to limit", "limits:\n  cpus: 0.0000000001\n",
			[]string{`line 2: limits.cpus is 1e-10; it must be at least 0.01`}},
		{"infinite CPU", "limits:\n  cpus: .inf\n",
			[]string{`line 2: limits.cpus is infinite; it must be a number of processors such as 2`}},
		{"more CPUs than a count can hold", "limits:\n  cpus: 1e10\n",
			[]string{`line 2: limits.cpus is 1e+10; it must be at most 1024`}},
		{"no process", "limits:\n  pids: 0\n",
			[]string{`line 2: limits.pids is 0; it must be at least 64, as the sandbox's own daemon takes some thirty threads of them`}},
		{"host network", "network:\n  mode: host\n",
			[]string{`line 2: network.mode is host, which no task may use: it would give the sandbox the bot's own network; use none, or filtered with an allow list`}},
		{"unknown network mode", "network:\n  mode: open\n",
			[]string{`line 2: network.mode "open" is not one of none, filtered`}},
		{"allow without filtered", "network:\n  allow: [proxy.golang.org]\n",
			[]string{`line 2: network.allow applies only to network.mode filtered, not none`}},
		{"deny without filtered", "network:\n  mode: none\n  deny:\n    - example.com\n",
			[]string{`line 3: network.deny applies only to network.mode filtered, not none`}},
		{"host pattern that does not compile", "network:\n  mode: filtered\n  allow:\n    - proxy.golang.org\n    - \"[a\"\n",
			[]string{`line 5: network.allow[1] "[a" does not compile: syntax error in pattern`}},
		{"host pattern with a scheme", "network:\n  mode: filtered\n  deny: [\"https://x.org\"]\n",
			[]string{`line 3: network.deny[0] "https://x.org" is not a host name pattern such as proxy.golang.org, *.npmjs.org or registry.example.com:8443`}},
		{"host pattern with a port that is not a number", "network:\n  mode: filtered\n  allow: [\"proxy.golang.org:https\"]\n",
			[]string{`line 3: network.allow[0] "proxy.golang.org:https" port "https" is neither a number from 1 to 65535 nor *`}},
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
		{"check with an empty name", "verify:\n  - name: \" \"\n    run: make\n",
			[]string{`line 2: verify[0].name is empty`}},
		{"checks of the same name", "verify:\n  - name: test\n    run: go test ./a/...\n  - name: test\n    run: go test ./b/...\n",
			[]string{`line 4: verify[1].name "test" is also the name of verify[0]; give each check its own name`}},
		{"checks named alike by their commands", "verify:\n  - go test ./a/...\n  - go vet ./...\n  - go test ./b/...\n",
			[]string{`line 4: verify[2].name "go test" is also the name of verify[0]; give each check its own name`}},
		{"empty setup command", "setup:\n  - go mod download\n  - \"  \"\n",
			[]string{`line 3: setup[1] is empty`}},
		{"agent command without the prompt", "agent:\n  command: my-agent --prompt prompt.md\n",
			[]string{`line 2: agent.command names neither {prompt_file} nor $ONESHOT_PROMPT_FILE, so the agent would never see its prompt`}},
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
		{"reviewer not a login", "pull_request:\n  reviewers: [alice, mona_acme, my-org/team]\n",
			[]string{`line 2: pull_request.reviewers[2] "my-org/team" is not a GitHub login`}},
		{"label with a space around it", "pull_request:\n  labels:\n    - \"oneshot \"\n",
			[]string{`line 3: pull_request.labels[0] "oneshot " has whitespace around it or other than spaces inside it`}},
		{"label with a control character", "pull_request:\n  labels:\n    - \"one\\u0001shot\"\n",
			[]string{`line 3: pull_request.labels[0] "one\x01shot" has a control character in it`}},
		{"label too long", "pull_request:\n  labels: [" + strings.Repeat("é", 51) + "]\n",
			[]string{`line 2: pull_request.labels[0] "` + strings.Repeat("é", 51) + `" is longer than the 50 characters GitHub allows a label`}},
		{"image with a space", "image: my image\n",
			[]string{`line 1: image "my image" is not an image such as oneshot/sandbox:latest`}},
	})
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

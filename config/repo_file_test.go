package config

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
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
  allow: [proxy.golang.org, "*.npmjs.org", "registry.example.com:8443"]
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
		Network:        RepoNetwork{Mode: "filtered", Allow: []string{"proxy.golang.org", "*.npmjs.org", "registry.example.com:8443"}, Deny: []string{"evil.npmjs.org"}},
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
  pids: 100
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Check{{Name: "vet", Run: "go vet ./..."}, {Name: "vet again", Run: "go vet ./..."}}
	if !reflect.DeepEqual(got.Verify, want) || got.Limits.CPUs != 4 || got.Limits.Pids != 100 || got.Setup[0] != "make deps" {
		t.Errorf("ParseRepo = %+v", got)
	}
}

func TestAKeySetBesideAMergeIsNamedOnItsOwnLine(t *testing.T) {
	t.Parallel()
	_, err := ParseRepo([]byte(`verify:
  - &base
    name: test
    run: go test ./...
  - name: test
    <<: *base
`))
	if err == nil || !strings.Contains(err.Error(), "line 5: verify[1].name") {
		t.Fatalf("err = %v, want the second check's name named on line 5, where it is set", err)
	}
	// So is a list's item set beside a merge that brings the list again.
	_, err = ParseRepo([]byte("setup:\n  - go mod download\n  - \" \"\n<<:\n  setup:\n    - a\n    - b\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3: setup[1]") {
		t.Fatalf("err = %v, want the blank command named on line 3, where it is set", err)
	}
}

// A value that is right where its anchor stands and wrong where an alias
// takes it is wrong on the alias's line.
func TestAValueWrongWhereAnAliasTakesItIsNamedOnTheAliassLine(t *testing.T) {
	t.Parallel()
	_, err := ParseRepo([]byte("limits:\n  memory: &m 1g\nfix_rounds: 1\nagent:\n  timeout: *m\n"))
	wantLines(t, err, RepoPath, []string{"line 5: agent.timeout is not a duration such as 30s or 1h"})
}

func TestRepoSyntaxErrorKeepsItsLine(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, file, want string }{
		{"unclosed list", "setup:\n  - go mod download\nverify: [\n", "line 3: did not find expected node content"},
		{"bad indentation", "fix_rounds: 1\n  timeout: 1h\n", "line 2: mapping values are not allowed in this context"},
		{"tab for indentation", "network:\n\tmode: none\n", "line 2: found character that cannot start any token"},
		// The yaml package names no line for the first.
		{"on the first line", "image: @latest\n", "line 1: found character that cannot start any token"},
		// The yaml package names where the block starts, a line before.
		{"key indented too little", "fix_rounds: 1\nlimits:\n  cpus: 2\n cpus: 3\n", "line 4: did not find expected key"},
		{"list item indented too little", "fix_rounds: 1\nnetwork:\n  mode: filtered\n  allow:\n    - a.example\n   - b.example\n",
			"line 6: did not find expected key"},
		{"unclosed list on its line", "fix_rounds: 1\nsetup: [a, b\nimage: x\n", "line 2: did not find expected ',' or ']'"},
		{"unclosed mapping on its line", "fix_rounds: 1\nagent: {command: x, timeout: 5m\n", "line 2: did not find expected ',' or '}'"},
		{"a second colon on the first line", "image: x: y\n", "line 1: mapping values are not allowed in this context"},
		// YAML reads *x as an alias: a host pattern needs quotes.
		{"host pattern without quotes in a list", "network:\n  mode: filtered\n  allow: [proxy.golang.org, *.npmjs.org]\n",
			`line 3: did not find expected alphabetic or numeric character; a value that starts with * is read as an alias: quote it, as in "*.npmjs.org"`},
		{"host pattern without quotes as an item", "network:\n  mode: filtered\n  allow:\n    - *npmjs\n",
			`line 4: unknown anchor 'npmjs' referenced; a value that starts with * is read as an alias: quote it, as in "*.npmjs.org"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseRepo([]byte(tt.file))
			wantLines(t, err, RepoPath, []string{tt.want})
		})
	}
}

func TestRepoFileKeyOrTypeProblemIsNamedWithItsLine(t *testing.T) {
	t.Parallel()
	testRepoProblems(t, []repoProblemCase{
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
			[]string{`line 1: fix_rounds is not a whole number`}},
		{"fraction for a whole number", "limits:\n  pids: 1.5\n",
			[]string{`line 2: limits.pids is not a whole number`}},
		{"word for a fraction", "limits:\n  cpus: many\n",
			[]string{`line 2: limits.cpus is not a number`}},
		{"word for true or false", "pull_request:\n  draft: maybe\n",
			[]string{`line 2: pull_request.draft is not true or false`}},
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
		{"duration in words", "timeout: 1 hour\n",
			[]string{`line 1: timeout is not a duration such as 30s or 1h`}},
		{"duration without a unit", "agent:\n  timeout: 30\n",
			[]string{`line 2: agent.timeout is not a duration such as 30s or 1h`}},
		{"check that is null", "verify:\n  - go vet ./...\n  -\n",
			[]string{`line 3: verify[1] is empty`}},
		{"command that is null", "setup: [~]\n",
			[]string{`line 1: setup[0] is empty`}},
		{"second document", "fix_rounds: 1\n---\nfix_rounds: 2\n",
			[]string{`line 2: another YAML document; the file holds one`}},
		{"third document behind an empty one", "fix_rounds: 1\n---\n---\nfix_rounds: 2\n",
			[]string{`line 3: another YAML document; the file holds one`}},
		{"broken third document", "fix_rounds: 1\n---\n---\nsetup: `a\n",
			[]string{`line 4: found character that cannot start any token`}},
	})
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
		`line 9: network.mode is host, which no task may use: it would give the sandbox the bot's own network; use none, or filtered with an allow list`,
		`line 11: limits.memory "4 gigs" is not a size such as 512m or 4g`,
		`line 13: unknown key "cpu" in limits (known: memory, disk, cpus, pids)`,
		`line 14: branch_prefix "oneshot" does not end in /; it must be a name ending in / such as oneshot/`,
		`line 16: agent.command names neither {prompt_file} nor $ONESHOT_PROMPT_FILE, so the agent would never see its prompt`,
		`line 17: agent.timeout is not a duration such as 30s or 1h`,
	}
	wantLines(t, err, RepoPath, want)
}

func TestARepoFileThatExpandsPastItsBoundIsRefusedQuickly(t *testing.T) {
	// Each anchor merges the one before ten times: seven levels, ten
	// million values, in a few hundred bytes.
	var b strings.Builder
	b.WriteString("x0: &a0 {fix_rounds: 1}\n")
	for level := 1; level <= 7; level++ {
		fmt.Fprintf(&b, "x%d: &a%d {<<: [%s]}\n", level, level, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", level-1), 10), ","))
	}
	b.WriteString("<<: *a7\n")
	done := make(chan error, 1)
	go func() {
		_, err := ParseRepo([]byte(b.String()))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "expands to more than") {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still parsing after 10 s")
	}
}

func TestARepoFileWhoseTextExpandsToMegabytesIsRefused(t *testing.T) {
	// A value of 50,000 bytes, named two hundred times: under the bound on
	// values, ten megabytes of commands.
	data := "setup:\n  - &long " + strings.Repeat("x", 50_000) + "\n" + strings.Repeat("  - *long\n", 200)
	if _, err := ParseRepo([]byte(data)); err == nil || !strings.Contains(err.Error(), "expands to more than 1 MB of text") {
		t.Fatalf("err = %v", err)
	}
}

func TestALargeRepoFileIsRefused(t *testing.T) {
	data := "verify:\n" + strings.Repeat("  - go test ./...\n", MaxRepoFileSize/16)
	if _, err := ParseRepo([]byte(data)); err == nil || !strings.Contains(err.Error(), RepoPath+": 73736 bytes; it may take at most 65536 (64 KB)") {
		t.Fatalf("err = %v", err)
	}
	// bot run --config names its own file.
	if _, err := ParseRepoFile("try.yml", []byte(data)); err == nil || !strings.HasPrefix(err.Error(), "try.yml: 73736 bytes") {
		t.Fatalf("from another file: err = %v, want it named", err)
	}
}

func TestARepoFileOfOneKeyRepeatedIsRefusedInLittleMemory(t *testing.T) {
	// The yaml package compares every key of a mapping with every other:
	// thousands of keys alike, kept, would take it gigabytes.
	for _, line := range []string{"fix_rounds: 1\n", "nonsense: 1\n"} {
		data := strings.Repeat(line, MaxRepoFileSize/len(line))
		err := refusedInLittleMemory(t, data)
		problems := strings.Split(err.Error(), "\n")
		if len(problems) != maxProblems+1 || !strings.HasSuffix(problems[maxProblems], "more problems") {
			t.Errorf("%q repeated: %d lines of error ending %q, want %d problems and a count of the rest",
				line, len(problems), problems[len(problems)-1], maxProblems)
		}
	}
	// So are the keys of a mapping where a value of another kind belongs,
	// and each alias of it. (Read by the yaml package, 4,000 keys alike
	// would take hundreds of megabytes, the whole file's worth gigabytes.)
	for data, want := range map[string]string{
		"fix_rounds: {" + strings.Repeat("a,", 4000) + "}\n":                                  "line 1: fix_rounds is a mapping, not a whole number",
		"setup: [&m {" + strings.Repeat("a,", 400) + "}" + strings.Repeat(", *m", 40) + "]\n": "line 1: setup[40] is a mapping, not a string",
		"pull_request: [{" + strings.Repeat("a,", 4000) + "}]\n":                              "line 1: pull_request is a list, not a mapping",
		"verify: {" + strings.Repeat("a,", 4000) + "}\n":                                      "line 1: verify is a mapping, not a list",
	} {
		if err := refusedInLittleMemory(t, data); !strings.Contains(err.Error(), want) {
			t.Errorf("%.40q...: %.300v, want %q", data, err, want)
		}
	}
}

// refusedInLittleMemory parses data, which it must refuse allocating less
// than 100 MB, and returns the error.
func refusedInLittleMemory(t *testing.T, data string) error {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ParseRepo([]byte(data))
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatalf("%.40q...: no error", data)
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 100<<20 {
		t.Errorf("%.40q...: parsing allocated %d MB, want less than 100", data, allocated>>20)
	}
	return err
}

// A key written empty keeps its default, and so must beside a merge,
// which would otherwise set it. A key must be a name: an alias would be
// checked by its anchor's name and decoded by its value, and a key tagged
// a merge, which the decoding does not take for one, skipped.
func TestAKeyEmptyBesideAMergeOrNotANameIsRefused(t *testing.T) {
	for file, want := range map[string]string{
		"<<: {protected_paths: [], fix_rounds: 5}\nprotected_paths: ~\n":  "line 2: protected_paths is empty beside a merge (<<), which would set it",
		"pull_request:\n  labels: [&setup protected_paths]\n*setup: []\n": "line 3: a key is an alias (*setup), not a name",
		"pull_request:\n  labels: [&setup fix_round]\n*setup: [x]\n":      "line 3: a key is an alias (*setup), not a name",
		"!!merge x:\n  fix_rounds: 3\n":                                   "line 1: key \"x\" is tagged !!merge: a key is a plain name",
		"? [fix_rounds]\n: 3\n":                                           "line 1: a key is a list",
	} {
		if _, err := ParseRepo([]byte(file)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", file, err, want)
		}
	}
}

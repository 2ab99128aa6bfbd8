package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/sandbox"
)

func TestDefaultsFillWhatNothingSets(t *testing.T) {
	t.Parallel()
	for name, path := range map[string]string{
		"no file":          "",
		"empty file":       writeConfig(t, ""),
		"comments only":    writeConfig(t, "# nothing here\n"),
		"empty sections":   writeConfig(t, "server:\nqueue: ~\n"),
		"null leaves":      writeConfig(t, "server:\n  listen:\n  public_url: ~\n"),
		"null merge":       writeConfig(t, "server:\n  <<: ~\n"),
		"document marker":  writeConfig(t, "---\n"),
		"empty second doc": writeConfig(t, "---\nserver: {}\n---\n"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := Load(path, envOf(required(nil)))
			if err != nil {
				t.Fatal(err)
			}
			if want := valid(); !reflect.DeepEqual(got, want) {
				t.Errorf("Load = %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestEnvironmentWinsOverFileWhichWinsOverDefaults(t *testing.T) {
	t.Parallel()
	file := `
github:
  v3_api_url: https://ghe.example.com/api/v3/
  app:
    integration_id: 42
server:
  listen: ":9000"
  shutdown_timeout: 5s
queue:
  concurrency: 4
  task_timeout: 90m
limits:
  tasks_per_repo_per_hour: 0
log:
  level: debug
`
	tests := []struct {
		name string
		env  map[string]string
		want func(*App)
	}{{
		name: "file only",
		want: func(a *App) {
			a.GitHub.V3APIURL = "https://ghe.example.com/api/v3/"
			a.GitHub.App.IntegrationID = 42
			a.Server.Listen = ":9000"
			a.Server.ShutdownTimeout = 5 * time.Second
			a.Queue.Concurrency = 4
			a.Queue.TaskTimeout = 90 * time.Minute
			a.Limits.TasksPerRepoPerHour = 0 // an explicit 0 is no limit, not "use the default"
			a.Log.Level = "debug"
		},
	}, {
		name: "environment over file",
		env: map[string]string{
			"GITHUB_V3_API_URL":         "https://other.example.com/api/v3/",
			"GITHUB_APP_INTEGRATION_ID": "7",
			"ONESHOT_LISTEN":            ":9100",
			"ONESHOT_SHUTDOWN_TIMEOUT":  "1m",
			"ONESHOT_CONCURRENCY":       "8",
			"ONESHOT_LOG_FORMAT":        "text",
		},
		want: func(a *App) {
			a.GitHub.V3APIURL = "https://other.example.com/api/v3/"
			a.GitHub.App.IntegrationID = 7
			a.Server.Listen = ":9100"
			a.Server.ShutdownTimeout = time.Minute
			a.Queue.Concurrency = 8
			a.Queue.TaskTimeout = 90 * time.Minute
			a.Limits.TasksPerRepoPerHour = 0
			a.Log.Level = "debug"
			a.Log.Format = "text"
		},
	}}
	path := writeConfig(t, file)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := required(tt.env)
			if _, ok := tt.env["GITHUB_APP_INTEGRATION_ID"]; !ok {
				delete(env, "GITHUB_APP_INTEGRATION_ID") // let the file's stand
			}
			got, err := Load(path, envOf(env))
			if err != nil {
				t.Fatal(err)
			}
			want := valid()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Load = %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestEmptyVariableSetsEmptyValue(t *testing.T) {
	t.Parallel()
	_, err := Load("", envOf(required(map[string]string{"ONESHOT_TRIGGER_LABEL": ""})))
	if got, want := lines(err), []string{"triggers.label (ONESHOT_TRIGGER_LABEL) is empty"}; !reflect.DeepEqual(got, want) {
		t.Errorf("errors = %q, want %q", got, want)
	}
}

func TestUnknownKeyIsNamedWithItsLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file string
		want       []string // after "config PATH: "
	}{{
		name: "top level",
		file: "server:\n  listen: \":8080\"\nqeue:\n  concurrency: 2\n",
		want: []string{`line 3: unknown key "qeue" (known: github, server, database, triggers, queue, limits, sandbox, agent, git, log)`},
	}, {
		name: "in a section",
		file: "# oneshot\n\nserver:\n  listn: \":8080\"\n",
		want: []string{`line 4: unknown key "listn" in server (known: listen, public_url, shutdown_timeout, drain)`},
	}, {
		name: "in go-githubapp's part",
		file: "github:\n  app:\n    id: 5\n",
		want: []string{`line 3: unknown key "id" in github.app (known: integration_id, webhook_secret, private_key)`},
	}, {
		// The yaml package would take these for true; the environment
		// takes only true and false, and so does the file.
		name: "word for true",
		file: "agent:\n  trust_repo_commands: yes\n",
		want: []string{`line 2: agent.trust_repo_commands is not true or false`},
	}, {
		name: "every one at once",
		file: "server:\n  listn: x\nlog:\n  levl: debug\n  fromat: text\n",
		want: []string{
			`line 2: unknown key "listn" in server (known: listen, public_url, shutdown_timeout, drain)`,
			`line 4: unknown key "levl" in log (known: level, format)`,
			`line 5: unknown key "fromat" in log (known: level, format)`,
		},
	}, {
		name: "given twice",
		file: "queue:\n  concurrency: 2\n  concurrency: 3\n",
		want: []string{`line 3: key "concurrency" in queue is already set on line 2`},
	}, {
		name: "in a merged mapping",
		file: "server:\n  <<: {listn: x}\n",
		want: []string{`line 2: unknown key "listn" in server (known: listen, public_url, shutdown_timeout, drain)`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, tt.file)
			_, err := Load(path, envOf(required(nil)))
			wantLines(t, err, "config "+path, tt.want)
		})
	}
}

func TestFileValueOfWrongTypeIsNamedWithItsLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file string
		want       []string // after "config PATH: "
	}{{
		name: "malformed duration",
		file: "queue:\n  task_timeout: 4x\n",
		want: []string{`line 2: queue.task_timeout is not a duration such as 30s or 1h`},
	}, {
		name: "duration without a unit",
		file: "server:\n  shutdown_timeout: 30\n",
		want: []string{`line 2: server.shutdown_timeout is not a duration such as 30s or 1h`},
	}, {
		name: "word for a number",
		file: "queue:\n  concurrency: two\n",
		want: []string{`line 2: queue.concurrency is not a whole number`},
	}, {
		name: "list for a section",
		file: "server:\n  - listen\n",
		want: []string{`line 2: server is a list, not a mapping`},
	}, {
		name: "mapping for a string",
		file: "log:\n  level:\n    name: info\n",
		want: []string{`line 3: log.level is a mapping, not a string`},
	}, {
		name: "mapping for a list",
		file: "agent:\n  secrets:\n    LLM_KEY: sk-1\n",
		want: []string{`line 3: agent.secrets is a mapping, not a list of strings, or one string of them comma-separated`},
	}, {
		name: "mapping in a list",
		file: "sandbox:\n  images:\n    - my/sandbox:1\n    - {name: my/sandbox:2}\n",
		want: []string{`line 4: sandbox.images[1] is a mapping, not a string`},
	}, {
		name: "not a mapping at all",
		file: "just words\n",
		want: []string{`line 1: the file is a single value, not a mapping`},
	}, {
		// The yaml package would take these for true; the environment
		// takes only true and false, and so does the file.
		name: "word for true",
		file: "agent:\n  trust_repo_commands: yes\n",
		want: []string{`line 2: agent.trust_repo_commands is not true or false`},
	}, {
		name: "every one at once",
		file: "queue:\n  concurrency: two\n  task_timeout: 4x\nlimits:\n  tasks_per_repo_per_hour: 1.5\n",
		want: []string{
			`line 2: queue.concurrency is not a whole number`,
			`line 3: queue.task_timeout is not a duration such as 30s or 1h`,
			`line 5: limits.tasks_per_repo_per_hour is not a whole number`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, tt.file)
			_, err := Load(path, envOf(required(nil)))
			wantLines(t, err, "config "+path, tt.want)
		})
	}
}

// The settings of several items take a YAML list in the file, as a
// repository's file writes its lists, or the variables' comma-separated
// form.
func TestASettingOfSeveralItemsTakesAListOrCommas(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "agent:\n  secrets: [LLM_KEY, OTHER_KEY]\nsandbox:\n  images:\n    - my/sandbox:1\n    - my/sandbox:2\n  network:\n    allow: models.example, proxy.golang.org\n")
	app, err := Load(path, envOf(required(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if got := app.Agent.SecretNames(); !slices.Equal(got, []string{"LLM_KEY", "OTHER_KEY"}) {
		t.Errorf("secrets %q", got)
	}
	if got := app.Sandbox.ImageNames(); !slices.Equal(got, []string{"oneshot/sandbox:latest", "my/sandbox:1", "my/sandbox:2"}) {
		t.Errorf("images %q", got)
	}
	if got := app.Sandbox.Network.AllowList(); !slices.Equal(got, []string{"models.example", "proxy.golang.org"}) {
		t.Errorf("network allow %q", got)
	}
}

func TestADurationOfZeroIsWrittenAsTheDocsSay(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "git:\n  cache_max_age: 0\n")
	cfg, err := Load(path, envOf(required(nil)))
	if err != nil || cfg.Git.CacheMaxAge != 0 {
		t.Fatalf("git.cache_max_age: 0 gives %v, %v; want 0, kept for ever", cfg.Git.CacheMaxAge, err)
	}
	repo, err := ParseRepo([]byte("timeout: 0\nagent:\n  timeout: 0\n"))
	if err != nil || repo.Timeout != 0 || repo.Agent.Timeout != 0 {
		t.Fatalf("timeout: 0 in a repository gives %v and %v, %v; want 0, the operator's", repo.Timeout, repo.Agent.Timeout, err)
	}
}

func TestAnchorsAndMergesDecodeLikeYAML(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, `
limits:
  tasks_per_repo_per_hour: &same 5
  tasks_per_actor_per_hour: *same
queue:
  concurrency: 3
server:
  <<: {listen: ":7000"}
  shutdown_timeout: 1s
`)
	got, err := Load(path, envOf(required(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if got.Limits.TasksPerRepoPerHour != 5 || got.Limits.TasksPerActorPerHour != 5 || got.Server.Listen != ":7000" || got.Server.ShutdownTimeout != time.Second {
		t.Errorf("Load = %+v %+v", got.Limits, got.Server)
	}
}

func TestBrokenFileIsAnError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name, path, want string
	}{{
		name: "missing",
		path: filepath.Join(dir, "absent.yml"),
		want: "config " + filepath.Join(dir, "absent.yml") + ": no such file or directory",
	}, {
		name: "not YAML",
		path: writeConfig(t, "server:\n  listen: [\n"),
		want: "did not find expected node content",
	}, {
		name: "two documents",
		path: writeConfig(t, "server: {}\n---\nqueue: {}\n"),
		want: "holds more than one YAML document",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(tt.path, envOf(required(nil)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v, want an error containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "config "+tt.path+": ") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	_, err := Load(filepath.Join(dir, "absent.yml"), envOf(required(nil)))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v is not fs.ErrNotExist", err)
	}
}

func TestMalformedVariableIsNamed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, value, want string
	}{
		{"ONESHOT_TASK_TIMEOUT", "4x", `queue.task_timeout (ONESHOT_TASK_TIMEOUT) is not a duration such as 30s or 1h`},
		{"ONESHOT_SHUTDOWN_TIMEOUT", "30", `server.shutdown_timeout (ONESHOT_SHUTDOWN_TIMEOUT) is not a duration such as 30s or 1h`},
		{"ONESHOT_GIT_CACHE_MAX_AGE", "14d", `git.cache_max_age (ONESHOT_GIT_CACHE_MAX_AGE) is not a duration such as 30s or 1h`},
		{"ONESHOT_CONCURRENCY", "two", `queue.concurrency (ONESHOT_CONCURRENCY) is not a whole number`},
		{"ONESHOT_TASKS_PER_REPO_PER_HOUR", " 3", `limits.tasks_per_repo_per_hour (ONESHOT_TASKS_PER_REPO_PER_HOUR) is not a whole number`},
		{"ONESHOT_TASKS_PER_ACTOR_PER_HOUR", "", `limits.tasks_per_actor_per_hour (ONESHOT_TASKS_PER_ACTOR_PER_HOUR) is not a whole number`},
		// As in the file: 1 or True reads one way here and another elsewhere.
		{"ONESHOT_AGENT_TRUST_REPO_COMMANDS", "1", `agent.trust_repo_commands (ONESHOT_AGENT_TRUST_REPO_COMMANDS) is not true or false`},
		{"ONESHOT_AGENT_TRUST_REPO_COMMANDS", "True", `agent.trust_repo_commands (ONESHOT_AGENT_TRUST_REPO_COMMANDS) is not true or false`},
		// go-githubapp ignores this; a typo must not leave the file's ID in force.
		{"GITHUB_APP_INTEGRATION_ID", "12a", `github.app.integration_id (GITHUB_APP_INTEGRATION_ID) is not a whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Exactly one line: the value the variable failed to replace,
			// from the file or a default, stands, so validation has nothing
			// more to say.
			path := writeConfig(t, "github:\n  app:\n    integration_id: 42\n")
			_, err := Load(path, envOf(required(map[string]string{tt.name: tt.value})))
			if got, want := lines(err), []string{tt.want}; !reflect.DeepEqual(got, want) {
				t.Errorf("errors = %q, want %q", got, want)
			}
		})
	}
}

// A variable that does not parse leaves its setting as it was, which may
// be missing or invalid: the error is said once, about the variable.
func TestAVariableThatDoesNotParseIsReportedOnce(t *testing.T) {
	t.Parallel()
	tooSmall := writeConfig(t, "agent:\n  prompt_tokens: 5\n")
	tests := []struct {
		name string
		load func(string, func(string) (string, bool)) (App, error)
		path string
		env  map[string]string
		want string
	}{
		{"a required setting", Load, "", map[string]string{"GITHUB_APP_INTEGRATION_ID": "12345678901234567890"},
			"github.app.integration_id (GITHUB_APP_INTEGRATION_ID) is not a whole number"},
		{"a setting the file gets wrong", Load, tooSmall, map[string]string{"ONESHOT_AGENT_PROMPT_TOKENS": "lots"},
			"agent.prompt_tokens (ONESHOT_AGENT_PROMPT_TOKENS) is not a whole number"},
		{"a setting the file gets wrong, read locally", LoadLocal, tooSmall, map[string]string{"ONESHOT_AGENT_PROMPT_TOKENS": "lots"},
			"agent.prompt_tokens (ONESHOT_AGENT_PROMPT_TOKENS) is not a whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.load(tt.path, envOf(required(tt.env)))
			if got, want := lines(err), []string{tt.want}; !reflect.DeepEqual(got, want) {
				t.Errorf("errors = %q, want %q", got, want)
			}
		})
	}
}

func TestDatabaseDriverAndPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url, driver, path string
	}{
		{"sqlite:oneshot.db", "sqlite", "oneshot.db"},
		{"sqlite:/var/lib/oneshot/oneshot.db", "sqlite", "/var/lib/oneshot/oneshot.db"},
		{"sqlite::memory:", "sqlite", ":memory:"},
		{"SQLite:data.db", "", ""}, // the drivers take lower case only
		{"postgres://u:p@db/oneshot", "postgres", ""},
		{"postgresql://db/oneshot?sslmode=require", "postgres", ""},
		{"mysql://db/oneshot", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			d := Database{URL: tt.url}
			if got := d.Driver(); got != tt.driver {
				t.Errorf("Driver() = %q, want %q", got, tt.driver)
			}
			if got := d.SQLitePath(); got != tt.path {
				t.Errorf("SQLitePath() = %q, want %q", got, tt.path)
			}
		})
	}
}

func TestDefaultSandboxImageIsTheOneImagesBuildMakes(t *testing.T) {
	t.Parallel()
	if DefaultSandboxImage != sandbox.DefaultImage {
		t.Errorf("DefaultSandboxImage = %q, sandbox.DefaultImage = %q", DefaultSandboxImage, sandbox.DefaultImage)
	}
}

func TestARepositoryMayAskForNoMoreThanTheOperatorAllows(t *testing.T) {
	t.Parallel()
	s := Sandbox{Image: "oneshot/sandbox:latest", Images: "oneshot/sandbox:with-go, team/node ",
		MaxLimits: RepoLimits{Memory: "8g", Disk: "8g", CPUs: 4, Pids: 4096}}
	tests := []struct {
		name   string
		mutate func(*Repo)
		want   []string
	}{
		{"the defaults", func(*Repo) {}, nil},
		{"the operator's image by name", func(r *Repo) { r.Image = "oneshot/sandbox:latest" }, nil},
		{"a listed image", func(r *Repo) { r.Image = "team/node" }, nil},
		{"everything at the most", func(r *Repo) { r.Limits = RepoLimits{Memory: "8192m", Disk: "8g", CPUs: 4, Pids: 4096} }, nil},
		{"an image not listed", func(r *Repo) { r.Image = "internal/deploy-tools:latest" }, []string{
			`image: "internal/deploy-tools:latest" is not an image this bot allows (sandbox.image and sandbox.images: oneshot/sandbox:latest, oneshot/sandbox:with-go, team/node)`}},
		{"everything over the most", func(r *Repo) { r.Limits = RepoLimits{Memory: "64g", Disk: "9g", CPUs: 4.5, Pids: 100000} }, []string{
			"limits.memory: 64g is more than this bot allows, 8g (sandbox.max_limits.memory)",
			"limits.disk: 9g is more than this bot allows, 8g (sandbox.max_limits.disk)",
			"limits.cpus: 4.5 is more than this bot allows, 4 (sandbox.max_limits.cpus)",
			"limits.pids: 100000 is more than this bot allows, 4096 (sandbox.max_limits.pids)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := DefaultRepo()
			tt.mutate(&r)
			if got := s.Refusals(r); !slices.Equal(got, tt.want) {
				t.Errorf("Refusals =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestNoErrorQuotesASecretPutUnderTheWrongName(t *testing.T) {
	t.Parallel()
	// An alias carries the webhook secret to a number's key, and a
	// variable holds it where the App ID should be.
	path := writeConfig(t, "github:\n  app:\n    webhook_secret: &s hunter2\n    integration_id: *s\n")
	if _, err := Load(path, envOf(nil)); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v", err)
	}
	_, err := Load("", envOf(required(map[string]string{"GITHUB_APP_INTEGRATION_ID": testWebhookSecret})))
	if err == nil || strings.Contains(err.Error(), testWebhookSecret) {
		t.Errorf("err = %v", err)
	}
}

func TestAWebhookSecretWithWhiteSpaceAtItsEndsIsRefused(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{"  ", testWebhookSecret + "\n", " " + testWebhookSecret} {
		_, err := Load("", envOf(required(map[string]string{"GITHUB_APP_WEBHOOK_SECRET": secret})))
		if err == nil || !strings.Contains(err.Error(), "github.app.webhook_secret") {
			t.Errorf("secret %q: err = %v", secret, err)
		}
	}
}

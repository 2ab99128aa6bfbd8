// Package config loads the bot's configuration: a strict YAML file, then
// the environment over it, then validation that reports every problem at
// once. docs/configuration.md is the reference for every setting.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/palantir/go-githubapp/githubapp"
	"go.yaml.in/yaml/v3"
)

// App is the bot's configuration.
type App struct {
	// GitHub is go-githubapp's own configuration, so it can be handed to
	// githubapp.NewDefaultCachingClientCreator unchanged.
	GitHub   githubapp.Config `yaml:"github"`
	Server   Server           `yaml:"server"`
	Database Database         `yaml:"database"`
	Triggers Triggers         `yaml:"triggers"`
	Queue    Queue            `yaml:"queue"`
	Limits   Limits           `yaml:"limits"`
	Sandbox  Sandbox          `yaml:"sandbox"`
	Agent    Agent            `yaml:"agent"`
	Git      Git              `yaml:"git"`
	Log      Log              `yaml:"log"`
}

// Git is the bot's own git work on its host.
type Git struct {
	// CacheDir keeps a copy of each repository's history, topped up by
	// each task's fetch.
	CacheDir string `yaml:"cache_dir"`
	// CacheMaxAge is how long a repository's copy stays in the cache
	// with no task fetching into it; 0 keeps it for ever.
	CacheMaxAge time.Duration `yaml:"cache_max_age"`
}

// Defaults for App.Git: the cache is beside the bot, like its database,
// and a repository no task used for two weeks leaves it.
const (
	DefaultGitCacheDir    = "oneshot-git-cache"
	DefaultGitCacheMaxAge = 14 * 24 * time.Hour
)

// Defaults for App.GitHub: github.com. GitHub Enterprise Server sets all three.
const (
	DefaultGitHubWebURL   = "https://github.com"
	DefaultGitHubV3APIURL = "https://api.github.com/"
	DefaultGitHubV4APIURL = "https://api.github.com/graphql"
)

// Server is the HTTP server that receives webhooks and serves task pages and health checks.
type Server struct {
	// Listen is the address to listen on, as in ":8080" or "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// PublicURL is where GitHub and people reach the bot; check runs link
	// to it for details, so it must be reachable from a browser.
	PublicURL string `yaml:"public_url"`
	// ShutdownTimeout bounds how long a stopping bot waits for requests in
	// flight before it closes their connections.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// Drain is how long a stopping bot goes on answering, /readyz saying
	// it is stopping, before it stops listening: the time a load balancer
	// takes to send deliveries elsewhere, which GitHub does not send again.
	Drain time.Duration `yaml:"drain"`
}

// Defaults for Server.
const (
	DefaultListen          = ":8080"
	DefaultPublicURL       = "http://localhost:8080"
	DefaultShutdownTimeout = 30 * time.Second
)

// Database is where the durable task queue lives.
type Database struct {
	// URL is "sqlite:" followed by a file path ("sqlite::memory:" for
	// tests), or a "postgres://" or "postgresql://" URL when several
	// replicas share the work.
	URL string `yaml:"url"`
}

// DefaultDatabaseURL keeps the queue in a file beside the bot, so a single
// instance needs no database server.
const DefaultDatabaseURL = "sqlite:oneshot.db"

// Database drivers that Driver reports.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Driver reports which database URL names: DriverSQLite, DriverPostgres, or
// "" for a scheme Validate rejects.
func (d Database) Driver() string {
	// Lower case only, as the drivers take them.
	scheme, _, _ := strings.Cut(d.URL, ":")
	switch scheme {
	case "sqlite":
		return DriverSQLite
	case "postgres", "postgresql":
		return DriverPostgres
	}
	return ""
}

// SQLitePath is what follows "sqlite:" in URL: a file path, or ":memory:".
// It is "" for other drivers.
func (d Database) SQLitePath() string {
	if d.Driver() != DriverSQLite {
		return ""
	}
	return d.URL[len("sqlite:"):]
}

// Triggers are what a maintainer does on an issue to start a task.
type Triggers struct {
	// Label starts a task when it is added to an issue.
	Label string `yaml:"label"`
	// Command starts a task when a comment begins with it, as in
	// "/oneshot fix this".
	Command string `yaml:"command"`
}

// Defaults for Triggers.
const (
	DefaultLabel   = "agent"
	DefaultCommand = "/oneshot"
)

// Queue is how tasks are run.
type Queue struct {
	// Concurrency is how many tasks run at once; each holds a sandbox.
	Concurrency int `yaml:"concurrency"`
	// TaskTimeout ends a whole task, whatever step it is in.
	TaskTimeout time.Duration `yaml:"task_timeout"`
}

// Defaults for Queue.
const (
	DefaultConcurrency = 2
	DefaultTaskTimeout = time.Hour
)

// Limits cap how many tasks may start, so that a busy repository or one
// eager person cannot use up the bot. Zero means no limit.
type Limits struct {
	TasksPerRepoPerHour  int `yaml:"tasks_per_repo_per_hour"`
	TasksPerActorPerHour int `yaml:"tasks_per_actor_per_hour"`
}

// Defaults for Limits.
const (
	DefaultTasksPerRepoPerHour  = 20
	DefaultTasksPerActorPerHour = 10
)

// Sandbox is the container each task runs in.
type Sandbox struct {
	// Image is a sandbox image built by images/build.
	Image string `yaml:"image"`
	// Owner labels this instance's containers, so that at start it removes
	// only what it left behind itself. It defaults to the host name;
	// instances sharing a Docker engine need distinct owners.
	Owner string `yaml:"owner"`
	// Images names, comma-separated, the other images a repository may
	// choose with its image setting. Any image on the Docker host could
	// hold what its owner baked in, so none is allowed unless listed.
	Images List `yaml:"images"`
	// MaxLimits are the most a repository may ask for with its limits
	// setting: one repository must not take the whole host.
	MaxLimits RepoLimits `yaml:"max_limits"`
	// Network bounds the hosts a filtered sandbox may reach, whatever a
	// repository's allow-list says.
	Network NetworkBounds `yaml:"network"`
}

// NetworkBounds are the operator's host name patterns, comma-separated,
// in the form of a repository's network patterns.
type NetworkBounds struct {
	// Allow, when set, is what a host must also match to be reached.
	Allow List `yaml:"allow"`
	// Deny is refused in every sandbox.
	Deny List `yaml:"deny"`
}

// AllowList and DenyList are the bounds as lists.
func (n NetworkBounds) AllowList() []string { return splitList(n.Allow) }
func (n NetworkBounds) DenyList() []string  { return splitList(n.Deny) }

// Defaults for Sandbox.MaxLimits: room above a repository's defaults,
// well short of a whole host.
const (
	DefaultMaxMemory = "8g"
	DefaultMaxDisk   = "8g"
	DefaultMaxCPUs   = 4.0
	DefaultMaxPids   = 4096
)

// ImageNames lists the images a repository may choose: Image and those in
// Images.
func (s Sandbox) ImageNames() []string {
	return append([]string{s.Image}, splitList(s.Images)...)
}

// Refusals lists what a repository's settings ask for beyond what this
// bot allows, one problem a line, each naming the setting; none when
// everything is allowed.
func (s Sandbox) Refusals(r Repo) []string {
	var out []string
	if r.Image != "" && !slices.Contains(s.ImageNames(), r.Image) {
		out = append(out, fmt.Sprintf("image: %q is not an image this bot allows (sandbox.image and sandbox.images: %s)",
			r.Image, strings.Join(s.ImageNames(), ", ")))
	}
	over := func(key, asked, most string) {
		out = append(out, fmt.Sprintf("limits.%s: %s is more than this bot allows, %s (sandbox.max_limits.%s)", key, asked, most, key))
	}
	if asked, most := ramBytes(r.Limits.Memory), ramBytes(s.MaxLimits.Memory); asked > most {
		over("memory", r.Limits.Memory, s.MaxLimits.Memory)
	}
	if asked, most := ramBytes(r.Limits.Disk), ramBytes(s.MaxLimits.Disk); asked > most {
		over("disk", r.Limits.Disk, s.MaxLimits.Disk)
	}
	if r.Limits.CPUs > s.MaxLimits.CPUs {
		over("cpus", strconv.FormatFloat(r.Limits.CPUs, 'g', -1, 64), strconv.FormatFloat(s.MaxLimits.CPUs, 'g', -1, 64))
	}
	if r.Limits.Pids > s.MaxLimits.Pids {
		over("pids", strconv.FormatInt(r.Limits.Pids, 10), strconv.FormatInt(s.MaxLimits.Pids, 10))
	}
	return out
}

// ramBytes is a valid size's bytes; Validate has refused any other.
func ramBytes(size string) int64 {
	n, _ := units.RAMInBytes(size)
	return n
}

// DefaultSandboxImage is the image images/build makes. It equals
// sandbox.DefaultImage; config does not import sandbox, which brings Docker.
const DefaultSandboxImage = "oneshot/sandbox:latest"

// Agent is the coding agent for repositories whose .github/oneshot.yml
// names none. It runs inside the sandbox with the prompt in a file.
type Agent struct {
	// Command is run with bash in the checkout; {prompt_file} becomes the
	// prompt's path, as in "claude -p < {prompt_file}" (a prompt given as
	// one argument may be past the kernel's bound on one, 128 KB).
	Command string `yaml:"command"`
	// Timeout bounds one round of the agent.
	Timeout time.Duration `yaml:"timeout"`
	// Secrets names, comma-separated, the bot's environment variables whose
	// values the agent gets, such as its API key. Only the agent's execs
	// receive them, and they are masked in all output.
	Secrets List `yaml:"secrets"`
	// PromptTokens is the prompt's budget, by contextgather.CountTokens.
	PromptTokens int `yaml:"prompt_tokens"`
	// TrustRepoCommands lets a repository's own agent.command have
	// Secrets. Off, such a command is refused while there are secrets:
	// whoever can change a repository's settings could otherwise send
	// them anywhere its network allows.
	TrustRepoCommands bool `yaml:"trust_repo_commands"`
}

// DefaultAgentTimeout bounds one round of the agent when neither the
// operator nor the repository says otherwise.
const DefaultAgentTimeout = 30 * time.Minute

// DefaultPromptTokens leaves most of a large model's window for its work.
const DefaultPromptTokens = 32_000

// MinPromptTokens is the least budget that holds a task, its checks and
// its rules with some of the issue.
const MinPromptTokens = 1_000

// SecretNames lists the names in Secrets.
func (a Agent) SecretNames() []string { return splitList(a.Secrets) }

// splitList splits a comma-separated setting, dropping empty items.
// List is a setting of several items, written comma-separated, as a
// variable holds them, or in the file as a YAML list too.
type List string

// UnmarshalYAML takes a string or a list of strings.
func (l *List) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*l = List(s)
		return nil
	}
	var items []string
	if err := n.Decode(&items); err != nil {
		return err
	}
	*l = List(strings.Join(items, ","))
	return nil
}

func splitList[S ~string](s S) []string {
	var items []string
	for item := range strings.SplitSeq(string(s), ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// Log is how the bot logs.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is json, for a log collector, or text, for a terminal.
	Format string `yaml:"format"`
}

// Defaults for Log.
const (
	DefaultLogLevel  = "info"
	DefaultLogFormat = "json"
)

// Load reads the configuration: defaults, then the YAML file at path (none
// when path is ""), then the environment as env reports it (os.LookupEnv
// when env is nil), then Validate. It reports every problem it finds, one a
// line. The file is set over the defaults rather than defaults filling
// zero values afterwards, so that an explicit 0, as in a limit, stays 0.
func Load(path string, env func(string) (string, bool)) (App, error) {
	if env == nil {
		env = os.LookupEnv
	}
	app := defaults()
	if err := readFile(path, &app); err != nil {
		return App{}, err
	}
	refused := map[string]bool{}
	if err := errors.Join(overlayEnv(&app, env, "", refused), app.validate(refused)); err != nil {
		return App{}, err
	}
	return app, nil
}

// readFile sets the settings of the YAML file at path over app; no path
// sets none.
func readFile(path string, app *App) error {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		err = pathErr.Err // the path is already in the message below
	}
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return decodeFile(path, data, app)
}

// LoadLocal reads the configuration as Load does and checks only what the
// commands run on one machine use of it, the agent's and the sandbox's
// settings: bot run, prompt and doctor take these as the bot would, on a
// machine that may hold none of the App's secrets. The rest of the file
// must still be well formed.
func LoadLocal(path string, env func(string) (string, bool)) (App, error) {
	if env == nil {
		env = os.LookupEnv
	}
	app := defaults()
	if err := readFile(path, &app); err != nil {
		return App{}, err
	}
	refused := map[string]bool{}
	errs := []error{overlayEnv(&app, env, "agent.", refused), overlayEnv(&app, env, "sandbox.", refused)}
	bad := skipping(refused, collect(&errs))
	app.Agent.validate(bad)
	app.Sandbox.validate(bad)
	if err := errors.Join(errs...); err != nil {
		return App{}, err
	}
	return app, nil
}

// defaults is the configuration before any file or variable is read.
func defaults() App {
	var a App
	a.GitHub.WebURL = DefaultGitHubWebURL
	a.GitHub.V3APIURL = DefaultGitHubV3APIURL
	a.GitHub.V4APIURL = DefaultGitHubV4APIURL
	a.Server = Server{Listen: DefaultListen, PublicURL: DefaultPublicURL, ShutdownTimeout: DefaultShutdownTimeout}
	a.Database = Database{URL: DefaultDatabaseURL}
	a.Triggers = Triggers{Label: DefaultLabel, Command: DefaultCommand}
	a.Queue = Queue{Concurrency: DefaultConcurrency, TaskTimeout: DefaultTaskTimeout}
	a.Limits = Limits{TasksPerRepoPerHour: DefaultTasksPerRepoPerHour, TasksPerActorPerHour: DefaultTasksPerActorPerHour}
	a.Sandbox = Sandbox{Image: DefaultSandboxImage, MaxLimits: RepoLimits{
		Memory: DefaultMaxMemory, Disk: DefaultMaxDisk, CPUs: DefaultMaxCPUs, Pids: DefaultMaxPids}}
	// Without a host name Owner stays empty, and Validate says so.
	a.Sandbox.Owner, _ = os.Hostname()
	a.Agent = Agent{Timeout: DefaultAgentTimeout, PromptTokens: DefaultPromptTokens}
	a.Git = Git{CacheDir: DefaultGitCacheDir, CacheMaxAge: DefaultGitCacheMaxAge}
	a.Log = Log{Level: DefaultLogLevel, Format: DefaultLogFormat}
	return a
}

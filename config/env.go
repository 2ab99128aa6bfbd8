package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// envVar is an environment variable Load reads and the setting it
// overrides. The GITHUB_* names are go-githubapp's, as its
// SetValuesFromEnv("") reads them, so a deployment made for another
// go-githubapp bot carries over.
type envVar struct {
	name  string
	key   string         // the setting's YAML path
	field func(*App) any // a pointer to the setting
}

// envVars is every variable Load reads. ONESHOT_CONFIG is not one of them:
// it names the file, so the command reads it before Load.
var envVars = []envVar{
	{"GITHUB_WEB_URL", "github.web_url", func(a *App) any { return &a.GitHub.WebURL }},
	{"GITHUB_V3_API_URL", "github.v3_api_url", func(a *App) any { return &a.GitHub.V3APIURL }},
	{"GITHUB_V4_API_URL", "github.v4_api_url", func(a *App) any { return &a.GitHub.V4APIURL }},
	{"GITHUB_APP_INTEGRATION_ID", "github.app.integration_id", func(a *App) any { return &a.GitHub.App.IntegrationID }},
	{"GITHUB_APP_WEBHOOK_SECRET", "github.app.webhook_secret", func(a *App) any { return &a.GitHub.App.WebhookSecret }},
	{"GITHUB_APP_PRIVATE_KEY", "github.app.private_key", func(a *App) any { return &a.GitHub.App.PrivateKey }},
	{"GITHUB_OAUTH_CLIENT_ID", "github.oauth.client_id", func(a *App) any { return &a.GitHub.OAuth.ClientID }},
	{"GITHUB_OAUTH_CLIENT_SECRET", "github.oauth.client_secret", func(a *App) any { return &a.GitHub.OAuth.ClientSecret }},

	{"ONESHOT_LISTEN", "server.listen", func(a *App) any { return &a.Server.Listen }},
	{"ONESHOT_PUBLIC_URL", "server.public_url", func(a *App) any { return &a.Server.PublicURL }},
	{"ONESHOT_SHUTDOWN_TIMEOUT", "server.shutdown_timeout", func(a *App) any { return &a.Server.ShutdownTimeout }},
	{"ONESHOT_DRAIN", "server.drain", func(a *App) any { return &a.Server.Drain }},
	{"ONESHOT_DATABASE_URL", "database.url", func(a *App) any { return &a.Database.URL }},
	{"ONESHOT_TRIGGER_LABEL", "triggers.label", func(a *App) any { return &a.Triggers.Label }},
	{"ONESHOT_COMMAND", "triggers.command", func(a *App) any { return &a.Triggers.Command }},
	{"ONESHOT_CONCURRENCY", "queue.concurrency", func(a *App) any { return &a.Queue.Concurrency }},
	{"ONESHOT_TASK_TIMEOUT", "queue.task_timeout", func(a *App) any { return &a.Queue.TaskTimeout }},
	{"ONESHOT_TASKS_PER_REPO_PER_HOUR", "limits.tasks_per_repo_per_hour", func(a *App) any { return &a.Limits.TasksPerRepoPerHour }},
	{"ONESHOT_TASKS_PER_ACTOR_PER_HOUR", "limits.tasks_per_actor_per_hour", func(a *App) any { return &a.Limits.TasksPerActorPerHour }},
	{"ONESHOT_SANDBOX_IMAGE", "sandbox.image", func(a *App) any { return &a.Sandbox.Image }},
	{"ONESHOT_SANDBOX_OWNER", "sandbox.owner", func(a *App) any { return &a.Sandbox.Owner }},
	{"ONESHOT_SANDBOX_IMAGES", "sandbox.images", func(a *App) any { return &a.Sandbox.Images }},
	{"ONESHOT_SANDBOX_MAX_MEMORY", "sandbox.max_limits.memory", func(a *App) any { return &a.Sandbox.MaxLimits.Memory }},
	{"ONESHOT_SANDBOX_MAX_DISK", "sandbox.max_limits.disk", func(a *App) any { return &a.Sandbox.MaxLimits.Disk }},
	{"ONESHOT_SANDBOX_MAX_CPUS", "sandbox.max_limits.cpus", func(a *App) any { return &a.Sandbox.MaxLimits.CPUs }},
	{"ONESHOT_SANDBOX_MAX_PIDS", "sandbox.max_limits.pids", func(a *App) any { return &a.Sandbox.MaxLimits.Pids }},
	{"ONESHOT_SANDBOX_NETWORK_ALLOW", "sandbox.network.allow", func(a *App) any { return &a.Sandbox.Network.Allow }},
	{"ONESHOT_SANDBOX_NETWORK_DENY", "sandbox.network.deny", func(a *App) any { return &a.Sandbox.Network.Deny }},
	{"ONESHOT_AGENT_COMMAND", "agent.command", func(a *App) any { return &a.Agent.Command }},
	{"ONESHOT_AGENT_TIMEOUT", "agent.timeout", func(a *App) any { return &a.Agent.Timeout }},
	{"ONESHOT_AGENT_SECRETS", "agent.secrets", func(a *App) any { return &a.Agent.Secrets }},
	{"ONESHOT_AGENT_PROMPT_TOKENS", "agent.prompt_tokens", func(a *App) any { return &a.Agent.PromptTokens }},
	{"ONESHOT_AGENT_TRUST_REPO_COMMANDS", "agent.trust_repo_commands", func(a *App) any { return &a.Agent.TrustRepoCommands }},
	{"ONESHOT_GIT_CACHE_DIR", "git.cache_dir", func(a *App) any { return &a.Git.CacheDir }},
	{"ONESHOT_GIT_CACHE_MAX_AGE", "git.cache_max_age", func(a *App) any { return &a.Git.CacheMaxAge }},
	{"ONESHOT_LOG_LEVEL", "log.level", func(a *App) any { return &a.Log.Level }},
	{"ONESHOT_LOG_FORMAT", "log.format", func(a *App) any { return &a.Log.Format }},
}

// envByKey maps a setting's YAML path to its variable, for messages.
var envByKey = func() map[string]string {
	m := make(map[string]string, len(envVars))
	for _, v := range envVars {
		m[v.key] = v.name
	}
	return m
}()

// overlayEnv sets every variable env has over app. A variable that is set
// but empty sets an empty value, as go-githubapp does; Validate then names
// it. Unlike go-githubapp, a value that does not parse is an error rather
// than ignored, so a typo cannot leave the file's value silently in force.
// Only the settings under prefix are read ("agent.", say; "" for all).
// Their keys are added to refused, for validation to leave them to the
// error: a setting left as it was may be empty, and "is missing" would
// only repeat it.
func overlayEnv(app *App, env func(string) (string, bool), prefix string, refused map[string]bool) error {
	var errs []error
	for _, v := range envVars {
		if !strings.HasPrefix(v.key, prefix) {
			continue
		}
		s, ok := env(v.name)
		if !ok {
			continue
		}
		if err := setFromString(v.field(app), s); err != nil {
			// The value is not quoted: a secret set in the wrong variable
			// would be shown to whoever reads the error.
			errs = append(errs, fmt.Errorf("%s (%s) is not %v", v.key, v.name, err))
			refused[v.key] = true
		}
	}
	return errors.Join(errs...)
}

// setFromString parses s into what p points to, leaving it as it was if s
// does not parse. Its error says what s should have been.
func setFromString(p any, s string) error {
	switch p := p.(type) {
	case *string:
		*p = s
		return nil
	case *List:
		*p = List(s)
		return nil
	case *int:
		return parseInto(p, s, strconv.Atoi)
	case *int64:
		return parseInto(p, s, func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) })
	case *float64:
		return parseInto(p, s, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
	case *time.Duration:
		return parseInto(p, s, time.ParseDuration)
	case *bool:
		return parseInto(p, s, parseSwitch)
	}
	panic(fmt.Sprintf("config: no parser for %T", p))
}

// parseSwitch takes true or false only, as the file does: a value such as
// 1, T or True reads one way here and another in a neighbouring tool.
func parseSwitch(s string) (bool, error) {
	switch s {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errors.New("not true or false")
}

func parseInto[T any](p *T, s string, parse func(string) (T, error)) error {
	v, err := parse(s)
	if err != nil {
		return errors.New(describeType(reflect.TypeFor[T]()))
	}
	*p = v
	return nil
}

// otherVariables are the ONESHOT_ variables that are no setting of the
// bot's but are read elsewhere: the file Load reads, and images/build's.
// (The tests' own are ONESHOT_TEST_*.)
var otherVariables = []string{"ONESHOT_CONFIG", "ONESHOT_BUILD_DIR", "ONESHOT_DEBIAN_MIRROR", "ONESHOT_DEBIAN_KEYRING", "ONESHOT_REQUIRE_CMARK_GFM", "ONESHOT_FUZZTIME"}

// UnknownVariables says, a line each, which of the ONESHOT_ variables in
// environ ("NAME=value", as os.Environ gives them) neither a setting nor
// anything else of oneshot's reads, and which setting each may have been
// meant for: a misspelt one leaves a default in force without a word.
// Variables the agent's secrets name (secrets) are the operator's own.
func UnknownVariables(environ, secrets []string) []string {
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "ONESHOT_") || strings.HasPrefix(name, "ONESHOT_TEST_") ||
			slices.Contains(otherVariables, name) || slices.Contains(secrets, name) ||
			slices.ContainsFunc(envVars, func(v envVar) bool { return v.name == name }) {
			continue
		}
		line := name + " is set, but is no setting of oneshot's, so it changes nothing"
		if near := nearestVariable(name); near != "" {
			line += "; did you mean " + near + "?"
		}
		out = append(out, line)
	}
	return out
}

// nearestVariable is the setting's variable a few typing slips away from
// name, or "".
func nearestVariable(name string) string {
	best, bestDistance := "", 4 // more slips than that is another word
	for _, v := range envVars {
		if d := editDistance(name, v.name); d < bestDistance {
			best, bestDistance = v.name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

package config

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oneshot-dev/oneshot/sandbox/hostpattern"
	"github.com/palantir/go-githubapp/githubapp"
)

// problem reports what is wrong with a setting, given by its YAML path.
type problem func(key, format string, args ...any)

// collect returns a problem that adds each report to errs, naming the
// setting and the variable that sets it.
func collect(errs *[]error) problem {
	return func(key, format string, args ...any) {
		*errs = append(*errs, fmt.Errorf("%s (%s) %s", key, envByKey[key], fmt.Sprintf(format, args...)))
	}
}

// skipping is bad, but for the settings in refused.
func skipping(refused map[string]bool, bad problem) problem {
	return func(key, format string, args ...any) {
		if !refused[key] {
			bad(key, format, args...)
		}
	}
}

// Validate reports every problem with a at once, one a line, each naming
// the setting and the variable that sets it. No message quotes a secret,
// nor a URL's password.
func (a App) Validate() error { return a.validate(nil) }

// validate is Validate, saying nothing of the settings in refused, whose
// variables did not parse, which was said already.
func (a App) validate(refused map[string]bool) error {
	var errs []error
	reported := map[string]bool{}
	report := skipping(refused, collect(&errs))
	bad := func(key, format string, args ...any) {
		reported[key] = true
		report(key, format, args...)
	}
	validateGitHub(a.GitHub, bad)
	a.Server.validate(bad)
	a.Database.validate(bad)
	a.Triggers.validate(bad)
	a.Queue.validate(bad)
	a.Limits.validate(bad)
	a.Sandbox.validate(bad)
	a.Agent.validate(bad)
	if strings.TrimSpace(a.Git.CacheDir) == "" {
		bad("git.cache_dir", "is empty; it is a directory the bot may write, %s by default", DefaultGitCacheDir)
	}
	if a.Git.CacheMaxAge < 0 {
		bad("git.cache_max_age", "is %v; it must be 0 (keep for ever) or more", a.Git.CacheMaxAge)
	}
	a.Log.validate(bad)
	a.validateEdges(bad, reported)
	return errors.Join(errs...)
}

// atEdge is what validateEdges refuses at a text setting's ends.
func atEdge(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// validateEdges refuses a text setting that starts or ends with white
// space or a control character: a line break or a space left by the tool
// that set it, which would otherwise name a file "oneshot.db\r", link
// tasks under "https://x/ /tasks", or fail every webhook's signature
// without a word. The App's key (PEM, lines and all) and the agent's
// command (a YAML block ends in a line break) may. A setting reported
// already is left to that report. Values are not quoted: some are secrets.
func (a App) validateEdges(bad problem, reported map[string]bool) {
	for _, v := range envVars {
		if list, ok := v.field(&a).(*List); ok && *list != "" && !reported[v.key] {
			// " " or "," would empty the list, a bound among them,
			// without a word: "" is how that is said.
			for item := range strings.SplitSeq(string(*list), ",") {
				if strings.TrimSpace(item) == "" {
					bad(v.key, "has an empty item (a lone comma, or only white space): leave it out, or set the list to \"\" to empty it")
					break
				}
			}
			continue
		}
		value, ok := v.field(&a).(*string)
		if !ok || reported[v.key] || v.key == "github.app.private_key" || v.key == "agent.command" || *value == "" {
			continue
		}
		first, _ := utf8.DecodeRuneInString(*value)
		last, _ := utf8.DecodeLastRuneInString(*value)
		if atEdge(first) || atEdge(last) {
			bad(v.key, "starts or ends with white space or a control character, such as a line break")
		}
	}
}

func validateGitHub(c githubapp.Config, bad problem) {
	checkURL(bad, "github.web_url", c.WebURL, DefaultGitHubWebURL)
	checkURL(bad, "github.v3_api_url", c.V3APIURL, DefaultGitHubV3APIURL)
	checkURL(bad, "github.v4_api_url", c.V4APIURL, DefaultGitHubV4APIURL)
	switch id := c.App.IntegrationID; {
	case id == 0:
		bad("github.app.integration_id", "is missing; it is the App ID on the GitHub App's settings page")
	case id < 0:
		bad("github.app.integration_id", "%d is not a GitHub App ID", id)
	}
	switch secret := c.App.WebhookSecret; {
	case secret == "":
		bad("github.app.webhook_secret", "is missing")
	case strings.TrimSpace(secret) == "":
		bad("github.app.webhook_secret", "is blank")
	case strings.TrimSpace(secret) != secret:
		// A newline a secrets file or an env file left at its end: every
		// delivery's signature would fail to check.
		bad("github.app.webhook_secret", "starts or ends with white space, which GitHub's secret does not")
	}
	if c.App.PrivateKey == "" {
		bad("github.app.private_key", "is missing")
	} else if p := privateKeyProblem(c.App.PrivateKey); p != "" {
		bad("github.app.private_key", "%s", p)
	}
}

// privateKeyProblem says what keeps key from being a GitHub App's private
// key, which is RSA in PKCS#1 or PKCS#8 PEM, or returns "". It describes the
// key and never quotes it.
func privateKeyProblem(key string) string {
	block, _ := pem.Decode([]byte(key))
	if block == nil {
		if strings.Contains(key, `\n`) {
			// An env file or a CI secret that flattened the PEM to one line.
			return `is not a PEM-encoded private key: it holds "\n" where line breaks belong`
		}
		if k := strings.TrimSpace(key); !strings.ContainsAny(k, " \n") && (strings.HasPrefix(k, "/") || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".pem")) {
			// go-githubapp's variable holds the key, not where it is.
			return `is not a PEM-encoded private key but looks like a file's path: it holds the key itself, as in GITHUB_APP_PRIVATE_KEY="$(cat key.pem)", or in the file a block (private_key: |) of the PEM's lines`
		}
		return "is not a PEM-encoded private key"
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return ""
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return fmt.Sprintf("holds a PEM %q block that is not an RSA private key in PKCS#1 or PKCS#8", block.Type)
	}
	switch k.(type) {
	case *rsa.PrivateKey:
		return ""
	case *ecdsa.PrivateKey:
		return "holds an ECDSA key, not the RSA key GitHub makes for an App"
	case ed25519.PrivateKey:
		return "holds an Ed25519 key, not the RSA key GitHub makes for an App"
	}
	return fmt.Sprintf("holds a %T, not the RSA key GitHub makes for an App", k)
}

// checkURL reports raw unless it is an absolute http or https URL with a
// host, a port from 1 to 65535 if it names one, and no user name or
// password: the bot signs in to GitHub with the App's key, and its own
// URL is linked in public comments and logged.
func checkURL(bad problem, key, raw, example string) {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		bad(key, "is empty")
	case err != nil:
		// err quotes raw, which may hold a password.
		bad(key, "is not a URL such as %s", example)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		shown := fmt.Sprintf("%q ", u.Redacted())
		if u.User != nil || strings.Contains(raw, "@") {
			// Not quoted: a user name alone may be a token, and
			// "user:password@host" parses with the password in the path.
			shown = ""
		}
		bad(key, "%sis not an absolute http or https URL such as %s", shown, example)
	case u.User != nil:
		// Not quoted even redacted: a user name alone may be a token.
		bad(key, "holds a user name or password before its host; it may hold neither, as in %s", example)
	case u.Hostname() == "":
		bad(key, "%q has no host before its port, as in %s", raw, example)
	default:
		if port := badPort(u.Host); port != "" {
			bad(key, "%q has port %s, which is not from 1 to 65535", raw, port)
		}
	}
}

// badPort is the port of host, a URL's host and port, when it is not
// from 1 to 65535, or "" for a good port or none.
func badPort(host string) string {
	_, port, err := net.SplitHostPort(host)
	if err != nil || port == "" {
		return "" // no port: the scheme's
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return port
	}
	return ""
}

func (s Server) validate(bad problem) {
	// The address is checked here, not when the server listens, after the
	// queue and GitHub have been set up.
	host, port, err := net.SplitHostPort(s.Listen)
	switch n, portErr := net.LookupPort("tcp", port); {
	case err != nil:
		bad("server.listen", "%q is not a host:port such as :8080 or 127.0.0.1:8080", s.Listen)
	case host != "" && !isIP(host) && !isHostName(host):
		bad("server.listen", "%q has a host that is neither an IP address nor a host name; leave it out to listen on every address, as in :8080", s.Listen)
	case portErr != nil:
		bad("server.listen", "%q has no port a server can listen on (from 1 to 65535)", s.Listen)
	case n == 0:
		// The system would choose one, which GitHub could not be told.
		bad("server.listen", "%q has no port; name one from 1 to 65535, such as :8080", s.Listen)
	}
	checkURL(bad, "server.public_url", s.PublicURL, "https://oneshot.example.com")
	// Task pages are linked as the URL followed by /tasks/ID.
	if u, err := url.Parse(s.PublicURL); err == nil && (u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s.PublicURL, "?") || strings.HasSuffix(s.PublicURL, "#")) {
		bad("server.public_url", "%q has a query or fragment; task pages are linked under it, as in https://oneshot.example.com/tasks/ID", u.Redacted())
	}
	if s.ShutdownTimeout <= 0 {
		bad("server.shutdown_timeout", "is %v; it must be positive", s.ShutdownTimeout)
	}
	if s.Drain < 0 || s.Drain > maxDrain {
		bad("server.drain", "is %v; it must be from 0 to %v", s.Drain, maxDrain)
	}
}

// isIP says whether host is an IP address, an IPv6 one with its zone
// too, as in fe80::1%eth0.
func isIP(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

// hostLabel is a label of a host name as Go's resolver takes it: '_' too,
// and no '-' at either end.
var hostLabel = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$`)

// isHostName says whether host is a host name: labels between dots, a
// dot at the end allowed, and not digits and dots alone, which is an IP
// address written wrong, such as 1.2.3.4.5.
func isHostName(host string) bool {
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > 253 {
		return false
	}
	for label := range strings.SplitSeq(host, ".") {
		if !hostLabel.MatchString(label) {
			return false
		}
	}
	return strings.ContainsFunc(host, func(r rune) bool { return r != '.' && (r < '0' || r > '9') })
}

// maxDrain bounds server.drain: a load balancer takes seconds to send
// deliveries elsewhere, and a bot that stops takes this longer.
const maxDrain = 5 * time.Minute

var scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// validate never quotes the URL: a postgres URL may hold a password.
func (d Database) validate(bad problem) {
	const key = "database.url"
	switch d.Driver() {
	case DriverSQLite:
		switch p := d.SQLitePath(); {
		case p == "":
			bad(key, "names no file after sqlite:")
		case strings.HasPrefix(p, "//"):
			// Is sqlite://data/x.db relative or absolute? Refuse to guess.
			bad(key, "starts with sqlite://; write sqlite:relative/path or sqlite:/absolute/path")
		case strings.ContainsAny(p, "?#"):
			bad(key, "is a sqlite: URL with a query; it is a file path only, and oneshot sets SQLite's settings itself")
		}
	case DriverPostgres:
		// The database is opened only after GitHub's settings are checked,
		// so what would fail there is said here, with everything else.
		u, err := url.Parse(d.URL)
		if err != nil || u.Opaque != "" || !strings.Contains(d.URL, "://") {
			bad(key, "is not a URL such as postgres://user:password@host/database")
			break
		}
		if u.Host == "" && strings.Trim(u.Path, "/") == "" && u.RawQuery == "" {
			// A template whose values were left empty, more likely than
			// a wish for every default of the database client.
			bad(key, "names no host and no database; write postgres://user:password@host/database")
		}
		// Several hosts, for a client to try in turn, are comma-separated.
		for host := range strings.SplitSeq(u.Host, ",") {
			if port := badPort(host); port != "" {
				bad(key, "has port %s, which is not from 1 to 65535", port)
			}
		}
	default:
		s, _, found := strings.Cut(d.URL, ":")
		switch {
		case d.URL == "":
			bad(key, "is empty")
		case found && scheme.MatchString(s):
			bad(key, "has scheme %q; it must be sqlite, postgres or postgresql", s)
		default:
			bad(key, "does not start with sqlite: or postgres://")
		}
	}
}

func (t Triggers) validate(bad problem) {
	if p := labelProblem(t.Label); p != "" {
		bad("triggers.label", "%s", p)
	}
	// The command is the first word of a comment, so it cannot hold a space.
	switch c := t.Command; {
	case c == "":
		bad("triggers.command", "is empty")
	case strings.ContainsFunc(c, unicode.IsSpace):
		bad("triggers.command", "%q contains whitespace; it must be one word such as %s", c, DefaultCommand)
	case !strings.HasPrefix(c, "/") || c == "/":
		bad("triggers.command", "%q is not a / and a word such as %s", c, DefaultCommand)
	}
}

// labelProblem says what keeps l from being a GitHub label, or returns "".
// Labels may have spaces inside ("good first issue"), but a label with
// spaces around it or a line break in it would never match.
func labelProblem(l string) string {
	switch {
	case l == "":
		return "is empty"
	case strings.TrimSpace(l) != l || strings.ContainsFunc(l, func(r rune) bool { return r != ' ' && unicode.IsSpace(r) }):
		return fmt.Sprintf("%q has whitespace around it or other than spaces inside it", l)
	case strings.ContainsFunc(l, unicode.IsControl):
		return fmt.Sprintf("%q has a control character in it", l)
	case utf8.RuneCountInString(l) > maxLabel:
		return fmt.Sprintf("%q is longer than the %d characters GitHub allows a label", l, maxLabel)
	}
	return ""
}

// maxLabel is the longest label name GitHub takes, in characters.
const maxLabel = 50

// maxConcurrency is River's most workers of one queue; maxTaskTimeout
// bounds a task far beyond any real one, and keeps the times the queue
// adds to it (River's rescue after it) from overflowing.
const (
	maxConcurrency = 10_000
	maxTaskTimeout = 1000 * time.Hour
)

func (q Queue) validate(bad problem) {
	if q.Concurrency < 1 {
		bad("queue.concurrency", "is %d; it must be at least 1", q.Concurrency)
	} else if q.Concurrency > maxConcurrency {
		bad("queue.concurrency", "is %d; it must be at most %d", q.Concurrency, maxConcurrency)
	}
	if q.TaskTimeout <= 0 {
		bad("queue.task_timeout", "is %v; it must be positive", q.TaskTimeout)
	} else if q.TaskTimeout > maxTaskTimeout {
		bad("queue.task_timeout", "is %v; it must be at most %v", q.TaskTimeout, maxTaskTimeout)
	}
}

func (l Limits) validate(bad problem) {
	if l.TasksPerRepoPerHour < 0 {
		bad("limits.tasks_per_repo_per_hour", "is %d; it must be 0 (no limit) or more", l.TasksPerRepoPerHour)
	}
	if l.TasksPerActorPerHour < 0 {
		bad("limits.tasks_per_actor_per_hour", "is %d; it must be 0 (no limit) or more", l.TasksPerActorPerHour)
	}
}

func (s Sandbox) validate(bad problem) {
	if strings.TrimSpace(s.Image) == "" {
		bad("sandbox.image", "is empty")
	} else if !imageRef.MatchString(s.Image) {
		bad("sandbox.image", "is not an image name such as oneshot/sandbox:latest")
	}
	for i, image := range splitList(s.Images) {
		if !imageRef.MatchString(image) {
			bad("sandbox.images", "item %d is not an image name such as oneshot/sandbox:full", i+1)
		}
	}
	if strings.TrimSpace(s.Owner) == "" {
		bad("sandbox.owner", "is empty")
	}
	s.MaxLimits.validateMost(bad)
	for _, bound := range []struct {
		key      string
		patterns []string
	}{{"sandbox.network.allow", s.Network.AllowList()}, {"sandbox.network.deny", s.Network.DenyList()}} {
		for _, p := range bound.patterns {
			if _, err := hostpattern.Parse(p); err != nil {
				bad(bound.key, "pattern %q %v", p, err)
			}
		}
	}
}

// postgresCredentials are the variables pgx reads a database password
// from, beside the database URL.
var postgresCredentials = []string{"PGPASSWORD", "PGPASSFILE"}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (a Agent) validate(bad problem) {
	if a.Command != "" && !FindsPrompt(a.Command) {
		bad("agent.command", NoPrompt)
	}
	if a.Timeout <= 0 {
		bad("agent.timeout", "is %v; it must be positive", a.Timeout)
	}
	if a.PromptTokens < MinPromptTokens {
		bad("agent.prompt_tokens", "is %d; it must be at least %d", a.PromptTokens, MinPromptTokens)
	}
	for i, name := range a.SecretNames() {
		if !envName.MatchString(name) {
			// Named by its place: what is no variable's name may be the
			// secret itself, put where the variable's name belongs.
			bad("agent.secrets", "item %d is not an environment variable name such as ANTHROPIC_API_KEY; list the variables that hold the agent's secrets, not the secrets", i+1)
			continue
		}
		// The bot's own settings hold its credentials: the App's key, the
		// webhook secret, the database's password.
		if i := slices.IndexFunc(envVars, func(v envVar) bool { return v.name == name }); i >= 0 {
			bad("agent.secrets", "names %s, which holds the bot's own %s: no agent may have it", name, envVars[i].key)
		}
		if slices.Contains(postgresCredentials, name) {
			bad("agent.secrets", "names %s, which the bot's database client reads: no agent may have it", name)
		}
	}
}

func (l Log) validate(bad problem) {
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", l.Level)
	}
	switch l.Format {
	case "json", "text":
	default:
		bad("log.format", "%q is not one of json, text", l.Format)
	}
}

package config

import (
	"crypto/ed25519"
	"crypto/rand"
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestValidConfigurationsPass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*App)
	}{
		{"defaults with a PKCS#1 key", func(*App) {}},
		{"PKCS#8 RSA key", func(a *App) { a.GitHub.App.PrivateKey = pkcs8Key(t, rsaKey()) }},
		{"key with CRLF line ends", func(a *App) { a.GitHub.App.PrivateKey = strings.ReplaceAll(pkcs1Key(), "\n", "\r\n") }},
		{"key with blank lines around it", func(a *App) { a.GitHub.App.PrivateKey = "\n\n" + pkcs1Key() + "\n" }},
		{"postgres", func(a *App) { a.Database.URL = "postgres://oneshot:pw@db:5432/oneshot?sslmode=require" }},
		{"postgresql", func(a *App) { a.Database.URL = "postgresql://db/oneshot" }},
		{"postgres over a socket", func(a *App) { a.Database.URL = "postgres:///oneshot?host=/run/postgresql" }},
		{"postgres with several hosts", func(a *App) { a.Database.URL = "postgres://u:pw@db1:5432,db2:5433/oneshot" }},
		{"postgres with every part from the environment", func(a *App) { a.Database.URL = "postgres://?sslmode=require" }},
		{"sqlite in memory", func(a *App) { a.Database.URL = "sqlite::memory:" }},
		{"sqlite absolute path", func(a *App) { a.Database.URL = "sqlite:/var/lib/oneshot/oneshot.db" }},
		{"label with spaces inside", func(a *App) { a.Triggers.Label = "ai fix" }},
		{"no limits", func(a *App) { a.Limits = Limits{} }},
		{"listen on one address", func(a *App) { a.Server.Listen = "127.0.0.1:9000" }},
		{"listen on an IPv6 address", func(a *App) { a.Server.Listen = "[::1]:9000" }},
		{"listen on an IPv6 address with its zone", func(a *App) { a.Server.Listen = "[fe80::1%eth0]:9000" }},
		{"listen on a host name", func(a *App) { a.Server.Listen = "localhost:9000" }},
		{"listen on a full host name", func(a *App) { a.Server.Listen = "bot-1.internal.example.com.:9000" }},
		{"listen on a container's name", func(a *App) { a.Server.Listen = "oneshot_bot:9000" }},
		{"https public URL with a path", func(a *App) { a.Server.PublicURL = "https://example.com/oneshot/" }},
		{"public URL with a port", func(a *App) { a.Server.PublicURL = "https://[2001:db8::1]:65535/" }},
		{"GitHub Enterprise Server", func(a *App) {
			a.GitHub.WebURL = "https://ghe.example.com"
			a.GitHub.V3APIURL = "https://ghe.example.com/api/v3/"
			a.GitHub.V4APIURL = "https://ghe.example.com/api/graphql"
		}},
		{"every log level and format", func(a *App) { a.Log = Log{Level: "warn", Format: "text"} }},
		{"agent command in a YAML block, ending in a line break", func(a *App) { a.Agent.Command = "my-agent \\\n  --prompt {prompt_file}\n" }},
		{"agent reading its prompt from the environment", func(a *App) { a.Agent.Command = `claude -p < "$ONESHOT_PROMPT_FILE"` }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := valid()
			tt.mutate(&a)
			if err := a.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestEachProblemIsOneLineNamingSettingAndVariable(t *testing.T) {
	t.Parallel()
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(*App)
		want   string
	}{
		{"missing app ID", func(a *App) { a.GitHub.App.IntegrationID = 0 },
			"github.app.integration_id (GITHUB_APP_INTEGRATION_ID) is missing; it is the App ID on the GitHub App's settings page"},
		{"negative app ID", func(a *App) { a.GitHub.App.IntegrationID = -3 },
			"github.app.integration_id (GITHUB_APP_INTEGRATION_ID) -3 is not a GitHub App ID"},
		{"missing webhook secret", func(a *App) { a.GitHub.App.WebhookSecret = "" },
			"github.app.webhook_secret (GITHUB_APP_WEBHOOK_SECRET) is missing"},
		{"missing private key", func(a *App) { a.GitHub.App.PrivateKey = "" },
			"github.app.private_key (GITHUB_APP_PRIVATE_KEY) is missing"},
		{"private key not PEM", func(a *App) { a.GitHub.App.PrivateKey = "MIIEowIBAAKCAQEA" },
			"github.app.private_key (GITHUB_APP_PRIVATE_KEY) is not a PEM-encoded private key"},
		{"private key's path", func(a *App) { a.GitHub.App.PrivateKey = "/etc/oneshot/key.pem" },
			`github.app.private_key (GITHUB_APP_PRIVATE_KEY) is not a PEM-encoded private key but looks like a file's path: it holds the key itself, as in GITHUB_APP_PRIVATE_KEY="$(cat key.pem)", or in the file a block (private_key: |) of the PEM's lines`},
		{"private key flattened to one line", func(a *App) { a.GitHub.App.PrivateKey = strings.ReplaceAll(pkcs1Key(), "\n", `\n`) },
			`github.app.private_key (GITHUB_APP_PRIVATE_KEY) is not a PEM-encoded private key: it holds "\n" where line breaks belong`},
		{"private key is an EC key", func(a *App) { a.GitHub.App.PrivateKey = sec1Key(t) },
			`github.app.private_key (GITHUB_APP_PRIVATE_KEY) holds a PEM "EC PRIVATE KEY" block that is not an RSA private key in PKCS#1 or PKCS#8`},
		{"private key is a PKCS#8 EC key", func(a *App) { a.GitHub.App.PrivateKey = pkcs8Key(t, ecKey()) },
			"github.app.private_key (GITHUB_APP_PRIVATE_KEY) holds an ECDSA key, not the RSA key GitHub makes for an App"},
		{"private key is a PKCS#8 Ed25519 key", func(a *App) { a.GitHub.App.PrivateKey = pkcs8Key(t, edKey) },
			"github.app.private_key (GITHUB_APP_PRIVATE_KEY) holds an Ed25519 key, not the RSA key GitHub makes for an App"},
		{"private key PEM holds garbage", func(a *App) { a.GitHub.App.PrivateKey = pemText("RSA PRIVATE KEY", []byte("not DER")) },
			`github.app.private_key (GITHUB_APP_PRIVATE_KEY) holds a PEM "RSA PRIVATE KEY" block that is not an RSA private key in PKCS#1 or PKCS#8`},
		{"web URL without scheme", func(a *App) { a.GitHub.WebURL = "github.example.com" },
			`github.web_url (GITHUB_WEB_URL) "github.example.com" is not an absolute http or https URL such as https://github.com`},
		{"v3 API URL with another scheme", func(a *App) { a.GitHub.V3APIURL = "ftp://api.github.com/" },
			`github.v3_api_url (GITHUB_V3_API_URL) "ftp://api.github.com/" is not an absolute http or https URL such as https://api.github.com/`},
		{"v4 API URL that does not parse", func(a *App) { a.GitHub.V4APIURL = "https://api.github.com:x/graphql" },
			"github.v4_api_url (GITHUB_V4_API_URL) is not a URL such as https://api.github.com/graphql"},
		{"v4 API URL empty", func(a *App) { a.GitHub.V4APIURL = "" },
			"github.v4_api_url (GITHUB_V4_API_URL) is empty"},
		{"listen without a colon", func(a *App) { a.Server.Listen = "8080" },
			`server.listen (ONESHOT_LISTEN) "8080" is not a host:port such as :8080 or 127.0.0.1:8080`},
		{"listen on a port past the last", func(a *App) { a.Server.Listen = ":99999" },
			`server.listen (ONESHOT_LISTEN) ":99999" has no port a server can listen on (from 1 to 65535)`},
		{"listen on no port", func(a *App) { a.Server.Listen = ":0" },
			`server.listen (ONESHOT_LISTEN) ":0" has no port; name one from 1 to 65535, such as :8080`},
		{"listen with the port left out", func(a *App) { a.Server.Listen = "127.0.0.1:" },
			`server.listen (ONESHOT_LISTEN) "127.0.0.1:" has no port; name one from 1 to 65535, such as :8080`},
		{"database URL ending in a carriage return", func(a *App) { a.Database.URL = "sqlite:oneshot.db\r" },
			"database.url (ONESHOT_DATABASE_URL) starts or ends with white space or a control character, such as a line break"},
		{"public URL ending in a space", func(a *App) { a.Server.PublicURL = "https://oneshot.example.com/ " },
			"server.public_url (ONESHOT_PUBLIC_URL) starts or ends with white space or a control character, such as a line break"},
		{"cache directory ending in a line break", func(a *App) { a.Git.CacheDir = "/var/lib/oneshot/git-cache\n" },
			"git.cache_dir (ONESHOT_GIT_CACHE_DIR) starts or ends with white space or a control character, such as a line break"},
		{"listen on a host with a space", func(a *App) { a.Server.Listen = "bad host:18557" },
			`server.listen (ONESHOT_LISTEN) "bad host:18557" has a host that is neither an IP address nor a host name; leave it out to listen on every address, as in :8080`},
		{"listen on an address of five numbers", func(a *App) { a.Server.Listen = "1.2.3.4.5:8080" },
			`server.listen (ONESHOT_LISTEN) "1.2.3.4.5:8080" has a host that is neither an IP address nor a host name; leave it out to listen on every address, as in :8080`},
		{"listen on a host with an empty label", func(a *App) { a.Server.Listen = "bot..example.com:8080" },
			`server.listen (ONESHOT_LISTEN) "bot..example.com:8080" has a host that is neither an IP address nor a host name; leave it out to listen on every address, as in :8080`},
		{"listen on a host with a label ending in a dash", func(a *App) { a.Server.Listen = "bot-.example.com:8080" },
			`server.listen (ONESHOT_LISTEN) "bot-.example.com:8080" has a host that is neither an IP address nor a host name; leave it out to listen on every address, as in :8080`},
		{"listen on a port that is a word", func(a *App) { a.Server.Listen = "localhost:def" },
			`server.listen (ONESHOT_LISTEN) "localhost:def" has no port a server can listen on (from 1 to 65535)`},
		{"public URL without scheme", func(a *App) { a.Server.PublicURL = "localhost:8080" },
			`server.public_url (ONESHOT_PUBLIC_URL) "localhost:8080" is not an absolute http or https URL such as https://oneshot.example.com`},
		{"public URL with a password but no scheme", func(a *App) { a.Server.PublicURL = "user:pw@oneshot.example.com" },
			"server.public_url (ONESHOT_PUBLIC_URL) is not an absolute http or https URL such as https://oneshot.example.com"},
		{"public URL with a password and another scheme", func(a *App) { a.Server.PublicURL = "ftp://user:pw@oneshot.example.com" },
			`server.public_url (ONESHOT_PUBLIC_URL) is not an absolute http or https URL such as https://oneshot.example.com`},
		{"public URL without host", func(a *App) { a.Server.PublicURL = "https:///oneshot" },
			`server.public_url (ONESHOT_PUBLIC_URL) "https:///oneshot" is not an absolute http or https URL such as https://oneshot.example.com`},
		{"public URL with a password", func(a *App) { a.Server.PublicURL = "http://admin:hunter2pw@localhost:8080" },
			"server.public_url (ONESHOT_PUBLIC_URL) holds a user name or password before its host; it may hold neither, as in https://oneshot.example.com"},
		{"public URL with a user name alone", func(a *App) { a.Server.PublicURL = "https://ghp_token0123@oneshot.example.com" },
			"server.public_url (ONESHOT_PUBLIC_URL) holds a user name or password before its host; it may hold neither, as in https://oneshot.example.com"},
		{"public URL with a port but no host", func(a *App) { a.Server.PublicURL = "https://:443" },
			`server.public_url (ONESHOT_PUBLIC_URL) "https://:443" has no host before its port, as in https://oneshot.example.com`},
		{"public URL with a port past the last", func(a *App) { a.Server.PublicURL = "http://localhost:99999" },
			`server.public_url (ONESHOT_PUBLIC_URL) "http://localhost:99999" has port 99999, which is not from 1 to 65535`},
		{"public URL with port 0", func(a *App) { a.Server.PublicURL = "http://[::1]:0/" },
			`server.public_url (ONESHOT_PUBLIC_URL) "http://[::1]:0/" has port 0, which is not from 1 to 65535`},
		{"API URL with a password", func(a *App) { a.GitHub.V3APIURL = "https://u:pw@ghe.example.com/api/v3/" },
			"github.v3_api_url (GITHUB_V3_API_URL) holds a user name or password before its host; it may hold neither, as in https://api.github.com/"},
		{"public URL with a query", func(a *App) { a.Server.PublicURL = "https://oneshot.example.com/?src=gh" },
			`server.public_url (ONESHOT_PUBLIC_URL) "https://oneshot.example.com/?src=gh" has a query or fragment; task pages are linked under it, as in https://oneshot.example.com/tasks/ID`},
		{"public URL with a fragment", func(a *App) { a.Server.PublicURL = "https://oneshot.example.com#top" },
			`server.public_url (ONESHOT_PUBLIC_URL) "https://oneshot.example.com#top" has a query or fragment; task pages are linked under it, as in https://oneshot.example.com/tasks/ID`},
		{"shutdown timeout zero", func(a *App) { a.Server.ShutdownTimeout = 0 },
			"server.shutdown_timeout (ONESHOT_SHUTDOWN_TIMEOUT) is 0s; it must be positive"},
		{"database of unknown kind", func(a *App) { a.Database.URL = "mysql://db/oneshot" },
			`database.url (ONESHOT_DATABASE_URL) has scheme "mysql"; it must be sqlite, postgres or postgresql`},
		{"database a bare path", func(a *App) { a.Database.URL = "oneshot.db" },
			"database.url (ONESHOT_DATABASE_URL) does not start with sqlite: or postgres://"},
		{"postgres without its slashes", func(a *App) { a.Database.URL = "postgres:/db/oneshot" },
			"database.url (ONESHOT_DATABASE_URL) is not a URL such as postgres://user:password@host/database"},
		{"database empty", func(a *App) { a.Database.URL = "" },
			"database.url (ONESHOT_DATABASE_URL) is empty"},
		{"sqlite without a path", func(a *App) { a.Database.URL = "sqlite:" },
			"database.url (ONESHOT_DATABASE_URL) names no file after sqlite:"},
		{"sqlite with slashes", func(a *App) { a.Database.URL = "sqlite://data/oneshot.db" },
			"database.url (ONESHOT_DATABASE_URL) starts with sqlite://; write sqlite:relative/path or sqlite:/absolute/path"},
		{"sqlite with a query", func(a *App) { a.Database.URL = "sqlite:oneshot.db?_pragma=journal_mode(delete)" },
			"database.url (ONESHOT_DATABASE_URL) is a sqlite: URL with a query; it is a file path only, and oneshot sets SQLite's settings itself"},
		{"a scheme in upper case", func(a *App) { a.Database.URL = "SQLITE:oneshot.db" },
			`database.url (ONESHOT_DATABASE_URL) has scheme "SQLITE"; it must be sqlite, postgres or postgresql`},
		{"postgres that does not parse", func(a *App) { a.Database.URL = "postgres://u:pw@db:port/oneshot" },
			"database.url (ONESHOT_DATABASE_URL) is not a URL such as postgres://user:password@host/database"},
		{"postgres with a port past the last", func(a *App) { a.Database.URL = "postgres://u:" + testDBPassword + "@db:99999/oneshot" },
			"database.url (ONESHOT_DATABASE_URL) has port 99999, which is not from 1 to 65535"},
		{"postgres with a bad port on its second host", func(a *App) { a.Database.URL = "postgres://db1:5432,db2:70000/oneshot" },
			"database.url (ONESHOT_DATABASE_URL) has port 70000, which is not from 1 to 65535"},
		{"postgres naming nothing", func(a *App) { a.Database.URL = "postgres://" },
			"database.url (ONESHOT_DATABASE_URL) names no host and no database; write postgres://user:password@host/database"},
		{"postgres without slashes", func(a *App) { a.Database.URL = "postgres:oneshot" },
			"database.url (ONESHOT_DATABASE_URL) is not a URL such as postgres://user:password@host/database"},
		{"label empty", func(a *App) { a.Triggers.Label = "" },
			"triggers.label (ONESHOT_TRIGGER_LABEL) is empty"},
		{"label with a space around it", func(a *App) { a.Triggers.Label = "agent " },
			`triggers.label (ONESHOT_TRIGGER_LABEL) "agent " has whitespace around it or other than spaces inside it`},
		{"label with a tab", func(a *App) { a.Triggers.Label = "ai\tfix" },
			`triggers.label (ONESHOT_TRIGGER_LABEL) "ai\tfix" has whitespace around it or other than spaces inside it`},
		{"command empty", func(a *App) { a.Triggers.Command = "" },
			"triggers.command (ONESHOT_COMMAND) is empty"},
		{"command with a space", func(a *App) { a.Triggers.Command = "/one shot" },
			`triggers.command (ONESHOT_COMMAND) "/one shot" contains whitespace; it must be one word such as /oneshot`},
		{"command without a slash", func(a *App) { a.Triggers.Command = "oneshot" },
			`triggers.command (ONESHOT_COMMAND) "oneshot" is not a / and a word such as /oneshot`},
		{"command only a slash", func(a *App) { a.Triggers.Command = "/" },
			`triggers.command (ONESHOT_COMMAND) "/" is not a / and a word such as /oneshot`},
		{"concurrency zero", func(a *App) { a.Queue.Concurrency = 0 },
			"queue.concurrency (ONESHOT_CONCURRENCY) is 0; it must be at least 1"},
		{"concurrency past River's", func(a *App) { a.Queue.Concurrency = 10_001 },
			"queue.concurrency (ONESHOT_CONCURRENCY) is 10001; it must be at most 10000"},
		{"task timeout that would overflow", func(a *App) { a.Queue.TaskTimeout = time.Duration(math.MaxInt64) },
			"queue.task_timeout (ONESHOT_TASK_TIMEOUT) is 2562047h47m16.854775807s; it must be at most 1000h0m0s"},
		{"task timeout negative", func(a *App) { a.Queue.TaskTimeout = -time.Second },
			"queue.task_timeout (ONESHOT_TASK_TIMEOUT) is -1s; it must be positive"},
		{"task timeout zero", func(a *App) { a.Queue.TaskTimeout = 0 },
			"queue.task_timeout (ONESHOT_TASK_TIMEOUT) is 0s; it must be positive"},
		{"git cache max age negative", func(a *App) { a.Git.CacheMaxAge = -time.Hour },
			"git.cache_max_age (ONESHOT_GIT_CACHE_MAX_AGE) is -1h0m0s; it must be 0 (keep for ever) or more"},
		{"repo limit negative", func(a *App) { a.Limits.TasksPerRepoPerHour = -1 },
			"limits.tasks_per_repo_per_hour (ONESHOT_TASKS_PER_REPO_PER_HOUR) is -1; it must be 0 (no limit) or more"},
		{"actor limit negative", func(a *App) { a.Limits.TasksPerActorPerHour = -1 },
			"limits.tasks_per_actor_per_hour (ONESHOT_TASKS_PER_ACTOR_PER_HOUR) is -1; it must be 0 (no limit) or more"},
		{"sandbox image empty", func(a *App) { a.Sandbox.Image = " " },
			"sandbox.image (ONESHOT_SANDBOX_IMAGE) is empty"},
		{"sandbox image with a space", func(a *App) { a.Sandbox.Image = "oneshot/sandbox:latest " },
			"sandbox.image (ONESHOT_SANDBOX_IMAGE) is not an image name such as oneshot/sandbox:latest"},
		{"another image that is no name", func(a *App) { a.Sandbox.Images = "oneshot/sandbox:full, Bad Image" },
			"sandbox.images (ONESHOT_SANDBOX_IMAGES) item 2 is not an image name such as oneshot/sandbox:full"},
		{"sandbox owner empty", func(a *App) { a.Sandbox.Owner = "" },
			"sandbox.owner (ONESHOT_SANDBOX_OWNER) is empty"},
		{"most memory not a size", func(a *App) { a.Sandbox.MaxLimits.Memory = "lots" },
			`sandbox.max_limits.memory (ONESHOT_SANDBOX_MAX_MEMORY) "lots" is not a size such as 512m or 4g`},
		{"most memory below a repository's default", func(a *App) { a.Sandbox.MaxLimits.Memory = "2g" },
			"sandbox.max_limits.memory (ONESHOT_SANDBOX_MAX_MEMORY) is 2g; it must be at least 4g, what a repository gets when it names no limits"},
		{"most disk below a repository's default", func(a *App) { a.Sandbox.MaxLimits.Disk = "1g" },
			"sandbox.max_limits.disk (ONESHOT_SANDBOX_MAX_DISK) is 1g; it must be at least 4g, what a repository gets when it names no limits"},
		{"most CPUs below a repository's default", func(a *App) { a.Sandbox.MaxLimits.CPUs = 1.5 },
			"sandbox.max_limits.cpus (ONESHOT_SANDBOX_MAX_CPUS) is 1.5; it must be at least 2, what a repository gets when it names no limits"},
		{"drain negative", func(a *App) { a.Server.Drain = -time.Second },
			"server.drain (ONESHOT_DRAIN) is -1s; it must be from 0 to 5m0s"},
		{"most pids zero", func(a *App) { a.Sandbox.MaxLimits.Pids = 0 },
			"sandbox.max_limits.pids (ONESHOT_SANDBOX_MAX_PIDS) is 0; it must be at least 1024, what a repository gets when it names no limits"},
		{"most pids below the sandbox's minimum", func(a *App) { a.Sandbox.MaxLimits.Pids = 10 },
			"sandbox.max_limits.pids (ONESHOT_SANDBOX_MAX_PIDS) is 10; it must be at least 1024, what a repository gets when it names no limits"},
		{"most memory below the sandbox's minimum", func(a *App) { a.Sandbox.MaxLimits.Memory = "16m" },
			"sandbox.max_limits.memory (ONESHOT_SANDBOX_MAX_MEMORY) is 16m; it must be at least 4g, what a repository gets when it names no limits"},
		{"most memory past what a size holds", func(a *App) { a.Sandbox.MaxLimits.Memory = "9000000000g" },
			`sandbox.max_limits.memory (ONESHOT_SANDBOX_MAX_MEMORY) "9000000000g" is not a size such as 512m or 4g`},
		{"most disk past what a size holds", func(a *App) { a.Sandbox.MaxLimits.Disk = "9000000000g" },
			`sandbox.max_limits.disk (ONESHOT_SANDBOX_MAX_DISK) "9000000000g" is not a size such as 512m or 4g`},
		{"most CPUs zero", func(a *App) { a.Sandbox.MaxLimits.CPUs = 0 },
			"sandbox.max_limits.cpus (ONESHOT_SANDBOX_MAX_CPUS) is 0; it must be at least 2, what a repository gets when it names no limits"},
		{"most CPUs below the sandbox's minimum", func(a *App) { a.Sandbox.MaxLimits.CPUs = 0.001 },
			"sandbox.max_limits.cpus (ONESHOT_SANDBOX_MAX_CPUS) is 0.001; it must be at least 2, what a repository gets when it names no limits"},
		{"most CPUs past the sandbox's", func(a *App) { a.Sandbox.MaxLimits.CPUs = 2048 },
			"sandbox.max_limits.cpus (ONESHOT_SANDBOX_MAX_CPUS) is 2048; it must be at most 1024"},
		{"network bound that does not compile", func(a *App) { a.Sandbox.Network.Allow = "proxy.golang.org, [abc" },
			`sandbox.network.allow (ONESHOT_SANDBOX_NETWORK_ALLOW) pattern "[abc" does not compile: syntax error in pattern`},
		{"agent command that ignores the prompt", func(a *App) { a.Agent.Command = "my-agent --go" },
			"agent.command (ONESHOT_AGENT_COMMAND) names neither {prompt_file} nor $ONESHOT_PROMPT_FILE, so the agent would never see its prompt"},
		{"prompt budget", func(a *App) { a.Agent.PromptTokens = 200 },
			"agent.prompt_tokens (ONESHOT_AGENT_PROMPT_TOKENS) is 200; it must be at least 1000"},
		{"agent timeout", func(a *App) { a.Agent.Timeout = 0 },
			"agent.timeout (ONESHOT_AGENT_TIMEOUT) is 0s; it must be positive"},
		{"agent secret that is not a variable name", func(a *App) { a.Agent.Secrets = "GOOD_KEY, bad-key" },
			"agent.secrets (ONESHOT_AGENT_SECRETS) item 2 is not an environment variable name such as ANTHROPIC_API_KEY; list the variables that hold the agent's secrets, not the secrets"},
		{"agent secret that is the App's own key", func(a *App) { a.Agent.Secrets = "ANTHROPIC_API_KEY,GITHUB_APP_PRIVATE_KEY" },
			`agent.secrets (ONESHOT_AGENT_SECRETS) names GITHUB_APP_PRIVATE_KEY, which holds the bot's own github.app.private_key: no agent may have it`},
		{"agent secret that is the database's password", func(a *App) { a.Agent.Secrets = "PGPASSWORD" },
			`agent.secrets (ONESHOT_AGENT_SECRETS) names PGPASSWORD, which the bot's database client reads: no agent may have it`},
		{"agent secret that is the database's address", func(a *App) { a.Agent.Secrets = "ONESHOT_DATABASE_URL" },
			`agent.secrets (ONESHOT_AGENT_SECRETS) names ONESHOT_DATABASE_URL, which holds the bot's own database.url: no agent may have it`},
		{"log level unknown", func(a *App) { a.Log.Level = "verbose" },
			`log.level (ONESHOT_LOG_LEVEL) "verbose" is not one of debug, info, warn, error`},
		{"log level in capitals", func(a *App) { a.Log.Level = "INFO" },
			`log.level (ONESHOT_LOG_LEVEL) "INFO" is not one of debug, info, warn, error`},
		{"log format unknown", func(a *App) { a.Log.Format = "yaml" },
			`log.format (ONESHOT_LOG_FORMAT) "yaml" is not one of json, text`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := valid()
			tt.mutate(&a)
			if got, want := lines(a.Validate()), []string{tt.want}; !reflect.DeepEqual(got, want) {
				t.Errorf("Validate:\n%q\nwant\n%q", got, want)
			}
		})
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	t.Parallel()
	got := lines(App{}.Validate())
	// Everything that may not be zero: three GitHub URLs, the App's ID,
	// secret and key, and every setting but the task limits and the
	// sandbox's other images.
	if len(got) != 25 {
		t.Errorf("Validate of the zero App gave %d problems, want 25:\n%s", len(got), strings.Join(got, "\n"))
	}
	named := regexp.MustCompile(`^([a-z0-9_.]+) \(([A-Z0-9_]+)\) `)
	for _, line := range got {
		m := named.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("%q does not begin with a setting and its variable", line)
			continue
		}
		if envByKey[m[1]] != m[2] {
			t.Errorf("%q names %s, the variable of %s is %s", line, m[2], m[1], envByKey[m[1]])
		}
	}
}

func TestNoMessageQuotesASecret(t *testing.T) {
	t.Parallel()
	ecPEM := sec1Key(t)
	secrets := []string{testWebhookSecret, testDBPassword, testOAuthSecret}
	// Any stretch of the key's body would be a leak.
	body := strings.Join(strings.Split(ecPEM, "\n")[1:3], "")
	for i := 0; i+12 <= len(body); i += 12 {
		secrets = append(secrets, body[i:i+12])
	}
	tests := []struct {
		name string
		file string
		env  map[string]string
	}{{
		name: "environment",
		env: map[string]string{
			"GITHUB_APP_INTEGRATION_ID":  "0",
			"GITHUB_APP_WEBHOOK_SECRET":  testWebhookSecret,
			"GITHUB_APP_PRIVATE_KEY":     testWebhookSecret + " is not a key",
			"GITHUB_OAUTH_CLIENT_SECRET": testOAuthSecret,
			"GITHUB_WEB_URL":             "https://u:" + testDBPassword + "@ghe:port/",
			"GITHUB_V3_API_URL":          "ftp://u:" + testDBPassword + "@ghe/api/v3/",
			"ONESHOT_PUBLIC_URL":         "u:" + testDBPassword + "@oneshot.example.com",
			"ONESHOT_DATABASE_URL":       "mysql://u:" + testDBPassword + "@db/oneshot",
		},
	}, {
		name: "postgres URL that does not parse",
		env: map[string]string{
			"GITHUB_APP_PRIVATE_KEY": ecPEM,
			"ONESHOT_DATABASE_URL":   "postgres://u:" + testDBPassword + "@db:port/oneshot",
		},
	}, {
		name: "URLs with a password that parse",
		env: map[string]string{
			"ONESHOT_PUBLIC_URL":   "https://u:" + testDBPassword + "@oneshot.example.com:99999/?q",
			"ONESHOT_DATABASE_URL": "postgres://u:" + testDBPassword + "@db:99999/oneshot",
		},
	}, {
		name: "the agent's key where its variable's name belongs",
		env:  map[string]string{"ONESHOT_AGENT_SECRETS": "ANTHROPIC_API_KEY,sk-ant-" + testOAuthSecret},
	}, {
		name: "database URL without a scheme",
		env:  map[string]string{"ONESHOT_DATABASE_URL": "u " + testDBPassword + " db"},
	}, {
		name: "secrets of the wrong type in the file",
		file: "github:\n  app:\n    webhook_secret: !!int " + testWebhookSecret +
			"\n    private_key: [" + testWebhookSecret + "]\n  oauth:\n    client_secret: {" + testOAuthSecret + ": x}\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := ""
			if tt.file != "" {
				path = writeConfig(t, tt.file)
			}
			_, err := Load(path, envOf(required(tt.env)))
			if err == nil {
				t.Fatal("Load succeeded; the case must fail to test its messages")
			}
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error quotes secret %q:\n%v", s, err)
				}
			}
		})
	}
}

// TestTheOperatorsMaximumSizesStillTakeBytes: a number alone there has
// always been bytes; only a repository's file calls it a slip.
func TestTheOperatorsMaximumSizesStillTakeBytes(t *testing.T) {
	a := valid()
	a.Sandbox.MaxLimits.Memory = "17179869184"
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
}

// A list of white space or commas alone would empty the list, a bound
// such as the network's among them, without a word: "" is how that is
// said, and anything else with an empty item is refused.
func TestAListWithAnEmptyItemIsRefused(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "sandbox:\n  network:\n    allow: [proxy.golang.org]\n")
	for _, v := range []string{" ", ",", "\n", "proxy.golang.org,,sum.golang.org"} {
		app, err := Load(path, envOf(required(map[string]string{"ONESHOT_SANDBOX_NETWORK_ALLOW": v})))
		if err == nil || !strings.Contains(err.Error(), "sandbox.network.allow (ONESHOT_SANDBOX_NETWORK_ALLOW) has an empty item") {
			t.Errorf("ONESHOT_SANDBOX_NETWORK_ALLOW=%q: err %v, bound %q", v, err, app.Sandbox.Network.AllowList())
		}
	}
	app, err := Load(path, envOf(required(map[string]string{"ONESHOT_SANDBOX_NETWORK_ALLOW": ""})))
	if err != nil || len(app.Sandbox.Network.AllowList()) != 0 {
		t.Fatalf("an empty variable: err %v, bound %q", err, app.Sandbox.Network.AllowList())
	}
	if _, err := Load(writeConfig(t, "sandbox:\n  images: [\"a\", \" \"]\n"), envOf(required(nil))); err == nil || !strings.Contains(err.Error(), "sandbox.images (ONESHOT_SANDBOX_IMAGES) has an empty item") {
		t.Errorf("a file's list with an empty item: err %v", err)
	}
}

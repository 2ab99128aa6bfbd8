package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// Secrets the tests hand in; no error message may contain them.
const (
	testWebhookSecret = "webhook-s3cret-value"
	testDBPassword    = "db-pa55word-value"
	testOAuthSecret   = "oauth-s3cret-value"
)

// rsaKey is generated once: 2048-bit generation is slow under -race.
var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

var ecKey = sync.OnceValue(func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

func pemText(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// pkcs1Key is an RSA key as GitHub issues it.
func pkcs1Key() string { return pemText("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey())) }

func pkcs8Key(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemText("PRIVATE KEY", der)
}

func sec1Key(t *testing.T) string {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(ecKey())
	if err != nil {
		t.Fatal(err)
	}
	return pemText("EC PRIVATE KEY", der)
}

// envOf is an environment holding exactly vars.
func envOf(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// required is an environment with the settings that have no default.
func required(extra map[string]string) map[string]string {
	vars := map[string]string{
		"GITHUB_APP_INTEGRATION_ID": "123456",
		"GITHUB_APP_WEBHOOK_SECRET": testWebhookSecret,
		"GITHUB_APP_PRIVATE_KEY":    pkcs1Key(),
	}
	for k, v := range extra {
		vars[k] = v
	}
	return vars
}

// valid is a configuration Validate accepts: the defaults, spelled out
// rather than taken from the constants so that a changed default shows,
// plus the required settings.
func valid() App {
	host, _ := os.Hostname()
	var a App
	a.GitHub.WebURL = "https://github.com"
	a.GitHub.V3APIURL = "https://api.github.com/"
	a.GitHub.V4APIURL = "https://api.github.com/graphql"
	a.GitHub.App.IntegrationID = 123456
	a.GitHub.App.WebhookSecret = testWebhookSecret
	a.GitHub.App.PrivateKey = pkcs1Key()
	a.Server = Server{Listen: ":8080", PublicURL: "http://localhost:8080", ShutdownTimeout: 30 * time.Second}
	a.Database = Database{URL: "sqlite:oneshot.db"}
	a.Triggers = Triggers{Label: "agent", Command: "/oneshot"}
	a.Queue = Queue{Concurrency: 2, TaskTimeout: time.Hour}
	a.Limits = Limits{TasksPerRepoPerHour: 20, TasksPerActorPerHour: 10}
	a.Sandbox = Sandbox{Image: "oneshot/sandbox:latest", Owner: host,
		MaxLimits: RepoLimits{Memory: "8g", Disk: "8g", CPUs: 4, Pids: 4096}}
	a.Agent = Agent{Timeout: 30 * time.Minute, PromptTokens: 32_000}
	a.Git = Git{CacheDir: "oneshot-git-cache", CacheMaxAge: 14 * 24 * time.Hour}
	a.Log = Log{Level: "info", Format: "json"}
	return a
}

// writeConfig writes a config file and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "oneshot.yml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// lines splits a joined error into its messages.
func lines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// wantLines fails t unless err holds exactly the messages want, in order,
// each after prefix and ": ".
func wantLines(t *testing.T, err error, prefix string, want []string) {
	t.Helper()
	var full []string
	for _, w := range want {
		full = append(full, prefix+": "+w)
	}
	if got := lines(err); !reflect.DeepEqual(got, full) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(full, "\n"))
	}
}

// leaves lists the YAML path of every setting in t, which is App or a part.
func leaves(t reflect.Type, prefix string) []string {
	if t.Kind() != reflect.Struct {
		return []string{prefix}
	}
	var paths []string
	for _, name := range fieldNames(t) {
		paths = append(paths, leaves(yamlFields(t)[name].Type, join(prefix, name))...)
	}
	return paths
}

// settingAt is the field at a YAML path of the struct p points to, as in
// settingAt(&app, "queue.concurrency"), or the zero Value for none.
func settingAt(p any, path string) reflect.Value {
	v := reflect.ValueOf(p).Elem()
	for key := range strings.SplitSeq(path, ".") {
		f, ok := yamlFields(v.Type())[key]
		if !ok {
			return reflect.Value{}
		}
		v = v.FieldByIndex(f.Index)
	}
	return v
}

// repoProblemCase is a repository's file and the problems ParseRepo finds
// in it, one a line.
type repoProblemCase struct {
	name, file string
	want       []string // after ".github/oneshot.yml: "
}

// testRepoProblems runs ParseRepo on each case's file in a subtest.
func testRepoProblems(t *testing.T, tests []repoProblemCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseRepo([]byte(tt.file))
			wantLines(t, err, RepoPath, tt.want)
		})
	}
}

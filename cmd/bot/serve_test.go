package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oneshot-dev/oneshot/config"
)

// setAppEnv sets what serve needs to start, with GitHub's API at apiURL.
func setAppEnv(t *testing.T, apiURL string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{
		"GITHUB_V3_API_URL":         apiURL,
		"GITHUB_V4_API_URL":         apiURL + "graphql",
		"GITHUB_APP_INTEGRATION_ID": "1",
		"GITHUB_APP_WEBHOOK_SECRET": "a webhook secret",
		"GITHUB_APP_PRIVATE_KEY":    string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		"ONESHOT_DATABASE_URL":      "sqlite:" + filepath.Join(t.TempDir(), "oneshot.db"),
	} {
		t.Setenv(name, value)
	}
}

// gitHubAnswering is a GitHub API that answers every request with status.
func gitHubAnswering(t *testing.T, status int) string {
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"message":"no"}`, status)
	}))
	t.Cleanup(gh.Close)
	return gh.URL + "/"
}

// A process that only receives webhooks runs no agent, so it starts
// without the agent's keys; one that works the queue refuses to.
func TestAServerThatOnlyReceivesWebhooksNeedsNotHoldTheAgentsKeys(t *testing.T) {
	// A GitHub that refuses the App: serve gets that far, or stops before.
	setAppEnv(t, gitHubAnswering(t, http.StatusUnauthorized))
	t.Setenv("ONESHOT_AGENT_SECRETS", "ONESHOT_TEST_UNSET_KEY")
	const refused = "agent.secrets names ONESHOT_TEST_UNSET_KEY, which is not set"
	if err := run([]string{"serve"}, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), refused) {
		t.Errorf("serve: %v, want the missing key named", err)
	}
	err := run([]string{"serve", "-workers=false"}, new(bytes.Buffer))
	if err == nil || strings.Contains(err.Error(), refused) || !strings.Contains(err.Error(), "401") {
		t.Errorf("serve -workers=false: %v, want it past the agent's keys, stopped by GitHub's 401", err)
	}
}

// A key the sandbox would refuse stops the bot at start, not every task.
func TestServeRefusesAnAgentKeyTheSandboxWouldRefuse(t *testing.T) {
	setAppEnv(t, gitHubAnswering(t, http.StatusUnauthorized))
	t.Setenv("ONESHOT_AGENT_SECRETS", "ONESHOT_TEST_KEY")
	for value, want := range map[string]string{
		"short":               "shorter than 6 characters",
		"sk-\xffabcdef123456": "not valid UTF-8",
	} {
		t.Setenv("ONESHOT_TEST_KEY", value)
		if err := run([]string{"serve"}, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "ONESHOT_TEST_KEY, whose value is "+want) {
			t.Errorf("serve with a key of %q: %v, want it refused as %s", value, err, want)
		}
	}
}

// A bot that cannot look its App up says which settings to check: the
// App's own when GitHub refuses it, where GitHub is when none answers.
func TestServeNamesTheSettingsToCheckWhenItCannotLookItsAppUp(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := "http://" + closed.Addr().String() + "/"
	closed.Close()
	for name, tc := range map[string]struct {
		apiURL, want string
	}{
		"GitHub refuses the App":  {gitHubAnswering(t, http.StatusUnauthorized), "check github.app.integration_id and the private key"},
		"no API at that address":  {gitHubAnswering(t, http.StatusNotFound), "check github.v3_api_url (GITHUB_V3_API_URL), for GitHub Enterprise Server"},
		"nothing at that address": {nobody, "check github.v3_api_url (GITHUB_V3_API_URL) and that GitHub can be reached from here"},
	} {
		t.Run(name, func(t *testing.T) {
			setAppEnv(t, tc.apiURL)
			if err := run([]string{"serve"}, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "[]") {
				t.Errorf("serve: %v, want it to say %q", err, tc.want)
			}
		})
	}
}

// Text logs written to a file or a pipe, as a service manager takes them,
// hold no colours' escape codes.
func TestTextLogsToAFileHaveNoColours(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "bot.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	log := newLogger(config.Log{Level: "info", Format: "text"}, f)
	log.Warn().Msg("Something to see.")
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "WRN Something to see.") || strings.Contains(string(data), "\x1b[") {
		t.Fatalf("the log file holds %q", data)
	}
}

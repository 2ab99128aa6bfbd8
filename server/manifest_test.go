package server_test

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/oneshot-dev/oneshot/handlers"
	"github.com/oneshot-dev/oneshot/internal/githubtest"
	"github.com/oneshot-dev/oneshot/server"
)

// TestTheAppManifestAsksForExactlyWhatTheBotUses keeps app.yml honest: its
// events are the handlers' events, and its permissions are the least that
// let the bot work.
func TestTheAppManifestAsksForExactlyWhatTheBotUses(t *testing.T) {
	data, err := os.ReadFile("../app.yml")
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Events      []string          `yaml:"default_events"`
		Permissions map[string]string `yaml:"default_permissions"`
		Hook        struct {
			URL string `yaml:"url"`
		} `yaml:"hook_attributes"`
	}
	if err := yaml.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, h := range server.Handlers(handlers.Base{}) {
		want = append(want, h.Handles()...)
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(manifest.Events))
	if !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	// The fake GitHub grants its App these, and refuses the bot's calls
	// past them, as GitHub does: every end-to-end test shows the bot
	// needs no more.
	if perms := githubtest.AppPermissions(); !maps.Equal(manifest.Permissions, perms) {
		t.Errorf("permissions %v, want %v, which the fake GitHub grants", manifest.Permissions, perms)
	}
	if !strings.HasSuffix(manifest.Hook.URL, server.WebhookPath) {
		t.Errorf("hook url %q does not end in %s", manifest.Hook.URL, server.WebhookPath)
	}
}

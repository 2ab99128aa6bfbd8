package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEveryVariableNamesASetting(t *testing.T) {
	t.Parallel()
	leafKeys := map[string]bool{}
	for _, key := range leaves(reflect.TypeFor[App](), "") {
		leafKeys[key] = true
	}
	names := map[string]bool{}
	for _, v := range envVars {
		if !leafKeys[v.key] {
			t.Errorf("%s names %s, which is not a setting of App", v.name, v.key)
		}
		if names[v.name] {
			t.Errorf("%s is listed twice", v.name)
		}
		names[v.name] = true
		var a App
		if got, want := reflect.ValueOf(v.field(&a)).Pointer(), settingAt(&a, v.key).Addr().Pointer(); got != want {
			t.Errorf("%s sets another field than %s", v.name, v.key)
		}
	}
}

func TestEveryVariableSetsItsSetting(t *testing.T) {
	t.Parallel()
	for _, v := range envVars {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			var app App
			value := map[reflect.Type]string{
				reflect.TypeFor[string]():        "x7",
				reflect.TypeFor[List]():          "x7,y7",
				reflect.TypeFor[int]():           "7",
				reflect.TypeFor[int64]():         "7",
				reflect.TypeFor[float64]():       "7.5",
				reflect.TypeFor[time.Duration](): "7s",
				reflect.TypeFor[bool]():          "true",
			}[settingAt(&app, v.key).Type()]
			if err := overlayEnv(&app, envOf(map[string]string{v.name: value}), "", map[string]bool{}); err != nil {
				t.Fatal(err)
			}
			if settingAt(&app, v.key).IsZero() {
				t.Errorf("%s=%s left %s unset", v.name, value, v.key)
			}
		})
	}
}

func TestAMisspeltVariableIsNamedWithTheSettingItWasMeantFor(t *testing.T) {
	environ := []string{
		"ONESHOT_CONCURENCY=8", "ONESHOT_AGENT_SECRET=LLM_KEY", "ONESHOT_WHATEVER_ELSE_ENTIRELY=1",
		"ONESHOT_CONCURRENCY=4", "ONESHOT_CONFIG=bot.yml", "ONESHOT_TEST_IMAGE=x", "ONESHOT_LLM_KEY=sk-1", "HOME=/root",
	}
	got := UnknownVariables(environ, []string{"ONESHOT_LLM_KEY"})
	want := []string{
		"ONESHOT_CONCURENCY is set, but is no setting of oneshot's, so it changes nothing; did you mean ONESHOT_CONCURRENCY?",
		"ONESHOT_AGENT_SECRET is set, but is no setting of oneshot's, so it changes nothing; did you mean ONESHOT_AGENT_SECRETS?",
		"ONESHOT_WHATEVER_ELSE_ENTIRELY is set, but is no setting of oneshot's, so it changes nothing",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The variables the project's scripts read are no settings, and the bot
// must not warn of them: images/build runs in the shell that starts it.
func TestTheScriptsVariablesAreNotTakenForMisspeltSettings(t *testing.T) {
	t.Parallel()
	var environ []string
	for _, dir := range []string{"../images", "../scripts", "../.ci"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			for _, name := range regexp.MustCompile(`ONESHOT_[A-Z0-9_]+`).FindAll(data, -1) {
				environ = append(environ, string(name)+"=1")
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(environ) == 0 {
		t.Fatal("found no variable in the scripts")
	}
	if got := UnknownVariables(environ, nil); len(got) > 0 {
		t.Errorf("the bot would warn:\n%s", strings.Join(got, "\n"))
	}
}

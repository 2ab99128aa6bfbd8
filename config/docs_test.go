package config

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// docRow is a setting's row in docs/configuration.md.
type docRow struct{ env, def string }

// docRows reads the table of settings: | `key` | `VAR` | default | meaning |.
func docRows(t *testing.T) map[string]docRow {
	t.Helper()
	data, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9_.]+)` \\| `([A-Z0-9_]+)` \\| ([^|]+) \\|")
	rows := map[string]docRow{}
	for _, m := range row.FindAllStringSubmatch(string(data), -1) {
		rows[m[1]] = docRow{env: m[2], def: strings.TrimSpace(m[3])}
	}
	return rows
}

// TestDocsListEverySetting keeps docs/configuration.md from rotting: a
// setting added to App without a row, variable and default there fails.
func TestDocsListEverySetting(t *testing.T) {
	t.Parallel()
	rows := docRows(t)
	def := defaults()
	for _, key := range leaves(reflect.TypeFor[App](), "") {
		env, ok := envByKey[key]
		if !ok {
			t.Errorf("%s has no environment variable in envVars", key)
		}
		row, ok := rows[key]
		if !ok {
			t.Errorf("docs/configuration.md has no row for %s", key)
			continue
		}
		if row.env != env {
			t.Errorf("docs/configuration.md gives %s the variable %s; it is %s", key, row.env, env)
		}
		checkDocDefault(t, "docs/configuration.md", key, row.def, settingAt(&def, key), setFromString)
	}
	for key := range rows {
		if !settingAt(&App{}, key).IsValid() {
			t.Errorf("docs/configuration.md documents %s, which App does not have", key)
		}
	}
}

// checkDocDefault compares a default documented in file, when it is a
// literal (`30s`) or "empty", with got, the one in force. parse reads the
// literal into what p points to, the way the settings file documents are
// written: setFromString for the bot's, YAML for a repository's.
func checkDocDefault(t *testing.T, file, key, doc string, got reflect.Value, parse func(p any, s string) error) {
	t.Helper()
	switch {
	case doc == "empty":
		if !got.IsZero() {
			t.Errorf("%s says %s is empty by default; it is %v", file, key, got)
		}
	case strings.HasPrefix(doc, "`") && strings.HasSuffix(doc, "`"):
		want := reflect.New(got.Type())
		if err := parse(want.Interface(), strings.Trim(doc, "`")); err != nil {
			t.Errorf("%s gives %s the default %s, which does not parse: %v", file, key, doc, err)
		} else if !reflect.DeepEqual(want.Elem().Interface(), got.Interface()) {
			t.Errorf("%s gives %s the default %s; it is %v", file, key, doc, got)
		}
	}
}

// TestRepoDocsListEveryKey keeps docs/repo-config.md from rotting: a key
// added to Repo without a row and its default there fails.
func TestRepoDocsListEveryKey(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../docs/repo-config.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(data), "\n## Every key\n")
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `([a-z_.]+)` \\| ([^|]+) \\|")
	rows := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		rows[m[1]] = strings.TrimSpace(m[2])
	}
	def := DefaultRepo()
	parse := func(p any, s string) error { return yaml.Unmarshal([]byte(s), p) }
	keys := leaves(reflect.TypeFor[Repo](), "")
	for _, key := range keys {
		doc, ok := rows[key]
		if !ok {
			t.Errorf("docs/repo-config.md has no row for %s", key)
			continue
		}
		checkDocDefault(t, "docs/repo-config.md", key, doc, settingAt(&def, key), parse)
	}
	for key := range rows {
		if !slices.Contains(keys, key) {
			t.Errorf("docs/repo-config.md documents %s, which Repo does not have", key)
		}
	}
}

func TestRepoDocsExamplesParse(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../docs/repo-config.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1)
	if len(blocks) == 0 {
		t.Fatal("docs/repo-config.md has no YAML example")
	}
	for _, b := range blocks {
		if _, err := ParseRepo([]byte(b[1])); err != nil {
			t.Errorf("example does not parse: %v\n%s", err, b[1])
		}
	}
}

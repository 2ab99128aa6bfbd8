package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
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
		checkDocDefault(t, key, row.def, settingAt(&def, key))
	}
	for key := range rows {
		if !settingAt(&App{}, key).IsValid() {
			t.Errorf("docs/configuration.md documents %s, which App does not have", key)
		}
	}
}

// checkDocDefault compares a documented default, when it is a literal
// (`30s`) or "empty", with the one Load uses.
func checkDocDefault(t *testing.T, key, doc string, got reflect.Value) {
	t.Helper()
	switch {
	case doc == "empty":
		if !got.IsZero() {
			t.Errorf("docs/configuration.md says %s is empty by default; it is %v", key, got)
		}
	case strings.HasPrefix(doc, "`") && strings.HasSuffix(doc, "`"):
		want := reflect.New(got.Type())
		if err := setFromString(want.Interface(), strings.Trim(doc, "`")); err != nil {
			t.Errorf("docs/configuration.md gives %s the default %s, which is not %v", key, doc, err)
		} else if !reflect.DeepEqual(want.Elem().Interface(), got.Interface()) {
			t.Errorf("docs/configuration.md gives %s the default %s; it is %v", key, doc, got)
		}
	}
}

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

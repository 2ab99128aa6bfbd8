package config

import (
	"reflect"
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
				reflect.TypeFor[int]():           "7",
				reflect.TypeFor[int64]():         "7",
				reflect.TypeFor[float64]():       "7.5",
				reflect.TypeFor[time.Duration](): "7s",
				reflect.TypeFor[bool]():          "true",
			}[settingAt(&app, v.key).Type()]
			if err := overlayEnv(&app, envOf(map[string]string{v.name: value}), ""); err != nil {
				t.Fatal(err)
			}
			if settingAt(&app, v.key).IsZero() {
				t.Errorf("%s=%s left %s unset", v.name, value, v.key)
			}
		})
	}
}

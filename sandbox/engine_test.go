package sandbox

import (
	"strings"
	"testing"
)

func TestAnEngineWithoutSeccompIsRefused(t *testing.T) {
	for _, tc := range []struct {
		options []string
		problem string // "" when fine
	}{
		{[]string{"name=apparmor", "name=seccomp,profile=default", "name=cgroupns"}, ""},
		{[]string{"name=seccomp,profile=/etc/docker/seccomp-strict.json"}, ""},
		{[]string{"name=seccomp,profile=unconfined"}, "unconfined"},
		{[]string{"name=apparmor"}, "no seccomp profile"},
		{nil, "no seccomp profile"},
	} {
		err := seccompProblem(tc.options)
		switch {
		case tc.problem == "" && err != nil:
			t.Errorf("%q: %v", tc.options, err)
		case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
			t.Errorf("%q: %v, want it to say %q", tc.options, err, tc.problem)
		}
	}
}

package sandbox

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/docker/docker/client"
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

func TestAnEngineThatDidNotAnswerIsAskedAgain(t *testing.T) {
	// A Docker API that fails its first /info, then answers with seccomp.
	var asked atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/info") {
			http.NotFound(w, r)
			return
		}
		if asked.Add(1) == 1 {
			http.Error(w, `{"message":"engine restarting"}`, http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(`{"SecurityOptions":["name=seccomp,profile=default"]}`))
	}))
	defer api.Close()
	docker, err := client.NewClientWithOpts(client.WithHost("tcp://"+strings.TrimPrefix(api.URL, "http://")), client.WithVersion("1.47"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(Options{Owner: "test", Docker: docker})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.checkEngine(t.Context()); err == nil || !strings.Contains(err.Error(), "ask the docker engine") {
		t.Fatalf("first check: %v, want the failure to ask", err)
	}
	if _, err := e.checkEngine(t.Context()); err != nil {
		t.Fatalf("second check: %v, want the engine's answer", err)
	}
	if _, err := e.checkEngine(t.Context()); err != nil || asked.Load() != 2 {
		t.Fatalf("third check: %v after %d questions, want the kept answer", err, asked.Load())
	}
}

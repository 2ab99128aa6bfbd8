package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/server"
)

func TestReadyOnlyOnceTheWorkersRunAndTheDatabaseAnswers(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	srv, err := server.New(context.Background(), b.config(t), server.Options{
		Version: "test", Logger: zerolog.New(zerolog.NewTestWriter(t)), Runner: b.runner,
	})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(srv.Handler())
	defer web.Close()
	get := func(path string) (int, string) {
		t.Helper()
		body, code := httpGet(t, web.URL+path)
		return code, strings.TrimSpace(body)
	}

	if code, body := get("/healthz"); code != http.StatusOK {
		t.Fatalf("healthz before start: %d %s", code, body)
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "workers") {
		t.Fatalf("readyz before the workers start: %d %s", code, body)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, body := get("/readyz"); code != http.StatusOK {
		t.Fatalf("readyz once started: %d %s", code, body)
	}
	stop, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(stop); err != nil {
		t.Fatal(err)
	}
	// It says no more: the database's error names its user and address.
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || body != "database unavailable" {
		t.Fatalf("readyz with the database closed: %d %s", code, body)
	}
}

package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/server"
	"github.com/oneshot-dev/oneshot/tasks"
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

// A bot told to stop goes on answering webhooks for server.drain, its
// /readyz saying it stops, so that a load balancer sends deliveries to
// another replica before this one stops listening.
func TestAStoppingBotAnswersWebhooksWhileItDrains(t *testing.T) {
	t.Parallel()
	b, addr, stop, ran := runningBot(t, zerolog.NewTestWriter(t), "ONESHOT_DRAIN", "5s")
	readyz := func() (int, string) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(body))
	}

	stop()
	waitFor(t, wait, "/readyz to say the bot stops", func() bool {
		code, body := readyz()
		return code == http.StatusServiceUnavailable && body == "shutting down"
	})
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
}

// Anyone can hold a request open, here by sending its body a byte at a
// time: a stopping bot hands its running task back meanwhile, not after,
// and stops cleanly, cutting the request off when its time runs out.
func TestARequestHeldOpenDoesNotTakeTheTimeToHandTasksBack(t *testing.T) {
	t.Parallel()
	// The bot logs its answer to a request before it reads what is left
	// of the body.
	answered := make(chan struct{})
	var once sync.Once
	logs := writerFunc(func(p []byte) (int, error) {
		if bytes.Contains(p, []byte(`"path":"/healthz"`)) {
			once.Do(func() { close(answered) })
		}
		return len(p), nil
	})
	b, addr, stop, ran := runningBot(t, io.MultiWriter(zerolog.NewTestWriter(t), logs), "ONESHOT_SHUTDOWN_TIMEOUT", "3s")
	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	waitFor(t, wait, "the attempt to start", func() bool { return len(b.runner.starts()) == 1 })

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /healthz HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000\r\n\r\n", addr)
	waitFor(t, wait, "the held request to be answered", func() bool {
		select {
		case <-answered:
			return true
		default:
			return false
		}
	})
	trickled := make(chan struct{})
	defer close(trickled)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-trickled:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()

	stop()
	if err := <-ran; err != nil {
		t.Fatalf("the bot did not stop cleanly: %v", err)
	}
	run := b.gh.CheckRuns(b.repo)[0]
	if last := run.History[len(run.History)-1]; last.Status != "queued" || !strings.Contains(last.Output.Summary, "shutting down") {
		t.Fatalf("after the stop the check run shows %q: %q", last.Status, last.Output.Summary)
	}
}

// runningBot runs a bot with the bundle's settings and env on a port of
// its own, logging to logs, until stop; ran says how Run returned. It
// returns once the bot is ready.
func runningBot(t *testing.T, logs io.Writer, env ...string) (b *testBundle, addr string, stop context.CancelFunc, ran <-chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	l.Close()
	b = newBundle(t, append([]string{"ONESHOT_LISTEN", addr}, env...)...)
	srv, err := server.New(context.Background(), b.config(t), server.Options{
		Version: "test", Logger: zerolog.New(logs), Runner: b.runner,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() { result <- srv.Run(ctx) }()
	b.hookURL = "http://" + addr + server.WebhookPath
	waitFor(t, wait, "the bot to be ready", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return b, addr, stop, result
}

// writerFunc is a function that is an io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// A start after a crash removes the sandboxes the dead process left, which
// takes as long as Docker does; deliveries are answered meanwhile, within
// GitHub's 10 seconds, and run once the workers start.
func TestDeliveriesAreAnsweredWhileTheStartCleansUp(t *testing.T) {
	// Not parallel: Docker is found from the environment.
	release := make(chan struct{})
	t.Setenv("DOCKER_HOST", holdingDocker(t, "/containers/json", release))
	b := unstartedPipelineBundle(t, "true\n", "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.env["ONESHOT_LISTEN"] = l.Addr().String()
	l.Close()
	srv, err := server.New(context.Background(), b.config(t), server.Options{Version: "test", Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(ctx) }()
	defer func() { stop(); <-ran }()
	b.hookURL = "http://" + b.env["ONESHOT_LISTEN"] + server.WebhookPath
	waitFor(t, wait, "the bot to answer", func() bool {
		resp, err := http.Get("http://" + b.env["ONESHOT_LISTEN"] + "/healthz")
		if err != nil {
			return false // not listening yet
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	b.deliver(t, "issues", "issues.labeled", labelled("agent", "writer"))
	if _, status := b.get(t, "/readyz"); status != http.StatusServiceUnavailable {
		t.Fatalf("readyz %d while the start cleans up", status)
	}
	close(release)
	b.waitConcluded(t, 1)
}

// holdingDocker is the Docker engine behind a proxy that holds every
// request to path until release is closed; it returns the proxy's address
// as DOCKER_HOST takes it.
func holdingDocker(t *testing.T, path string, release <-chan struct{}) string {
	t.Helper()
	host, err := client.ParseHostURL(dockerClient(t).DaemonHost())
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.Out.URL.Scheme, r.Out.URL.Host = "http", "docker" },
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return new(net.Dialer).DialContext(ctx, host.Scheme, host.Host) // for unix, Host is the socket's path
		}},
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, path) {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(web.Close)
	return "tcp://" + web.Listener.Addr().String()
}

// A bot that cannot listen says so, and leaves nothing behind that the
// next start would take for a crashed process's.
func TestABotThatCannotListenLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	b := newBundle(t, "ONESHOT_LISTEN", taken.Addr().String(), "ONESHOT_SANDBOX_OWNER", "test-"+tasks.NewID())
	cfg := b.config(t)
	srv, err := server.New(context.Background(), cfg, server.Options{Version: "test", Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Run(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "listen on "+taken.Addr().String()) {
		t.Fatalf("Run: %v", err)
	}
	left, err := os.ReadDir(server.WorkRoot(cfg.Sandbox.Owner))
	if err != nil || len(left) != 0 {
		t.Fatalf("the workspaces' directory holds %v (%v)", left, err)
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
)

// TestCtrlCStopsTheTaskAndRemovesItsSandbox interrupts bot run while its
// agent works: the task ends cancelled and its container is gone.
func TestCtrlCStopsTheTaskAndRemovesItsSandbox(t *testing.T) {
	docker := newDockerWatch(t, false)
	bot := startWaitingTask(t, docker)

	bot.interrupt(t)
	bot.waitFor(t, "Ctrl-C again quits at once")
	err := bot.wait(t)
	if err == nil || !strings.Contains(bot.output(), "cancelled") {
		t.Fatalf("bot run ended with %v, want it to say the task was cancelled:\n%s", err, bot.output())
	}
	for _, id := range docker.started() {
		if _, err := docker.api.ContainerInspect(t.Context(), id); !client.IsErrNotFound(err) {
			t.Errorf("container %s is still there (%v)", id, err)
		}
	}
}

// TestASecondCtrlCQuitsWhileTheSandboxIsRemoved interrupts bot run twice,
// the second time while the Docker engine holds the container's removal:
// bot run quits at once rather than wait for it.
func TestASecondCtrlCQuitsWhileTheSandboxIsRemoved(t *testing.T) {
	docker := newDockerWatch(t, true)
	bot := startWaitingTask(t, docker)

	bot.interrupt(t)
	bot.waitFor(t, "Ctrl-C again quits at once")
	select {
	case <-docker.removing:
	case <-time.After(time.Minute):
		t.Fatalf("the sandbox was not removed after Ctrl-C:\n%s", bot.output())
	}
	bot.interrupt(t)
	err := bot.wait(t)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT {
		t.Fatalf("bot run ended with %v, want it killed by the second Ctrl-C:\n%s", err, bot.output())
	}
}

// A bot run killed outright cannot remove its sandbox, which stops as it
// dies: the next bot run removes it as it starts.
func TestTheNextBotRunRemovesTheSandboxOfOneKilled(t *testing.T) {
	docker := newDockerWatch(t, false)
	bot := startWaitingTask(t, docker)
	if err := bot.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-bot.exited
	id := docker.started()[0]
	stopped, failed := docker.api.ContainerWait(t.Context(), id, container.WaitConditionNotRunning)
	select {
	case <-stopped:
	case err := <-failed:
		t.Fatal(err)
	case <-time.After(time.Minute):
		t.Fatal("the killed bot run's sandbox did not stop")
	}

	// The next bot run stops at its sandbox's image, after the sweep.
	t.Setenv("ONESHOT_SANDBOX_IMAGE", "oneshot-test/never-built:none")
	if err := runTask([]string{"--repo-dir", gitRepo(t), "--task", "Fix it", "--agent-command", "true"}, &bytes.Buffer{}); err == nil {
		t.Fatal("bot run ran in an image never built")
	}
	if _, err := docker.api.ContainerInspect(t.Context(), id); !client.IsErrNotFound(err) {
		t.Fatalf("the killed bot run's sandbox %.12s is still there (%v)", id, err)
	}
}

// dockerWatch stands between bot run and the Docker engine: it passes every
// request on, notes the containers started, and, when holding, keeps
// container removals waiting until the caller goes away.
type dockerWatch struct {
	url      string
	api      *client.Client
	removing chan struct{} // a removal came
	mu       sync.Mutex
	ids      []string
}

var containerPath = regexp.MustCompile(`/containers/([0-9a-f]{64})(/start)?$`)

func newDockerWatch(t *testing.T, holdRemovals bool) *dockerWatch {
	t.Helper()
	api, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	if _, err := api.Ping(t.Context()); err != nil {
		t.Fatalf("docker: %v", err)
	}
	host, err := client.ParseHostURL(api.DaemonHost())
	if err != nil {
		t.Fatal(err)
	}
	network, address := host.Scheme, host.Host // for unix, Host is the socket's path
	w := &dockerWatch{api: api, removing: make(chan struct{}, 1)}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.Out.URL.Scheme, r.Out.URL.Host = "http", "docker" },
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return new(net.Dialer).DialContext(ctx, network, address)
		}},
	}
	server := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		m := containerPath.FindStringSubmatch(r.URL.Path)
		switch {
		case m != nil && m[2] == "/start":
			w.mu.Lock()
			w.ids = append(w.ids, m[1])
			w.mu.Unlock()
		case m != nil && r.Method == http.MethodDelete:
			select {
			case w.removing <- struct{}{}:
			default:
			}
			if holdRemovals {
				<-r.Context().Done()
				return
			}
		}
		proxy.ServeHTTP(rw, r)
	}))
	t.Cleanup(func() {
		server.CloseClientConnections()
		server.Close()
		// What a held removal left behind.
		for _, id := range w.started() {
			_ = api.ContainerRemove(context.Background(), id, container.RemoveOptions{Force: true, RemoveVolumes: true})
		}
	})
	w.url = "tcp://" + strings.TrimPrefix(server.URL, "http://")
	return w
}

func (w *dockerWatch) started() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.ids...)
}

// waitingBot is bot run in a process of its own, its agent waiting.
type waitingBot struct {
	cmd     *exec.Cmd
	mu      sync.Mutex
	seen    strings.Builder // stdout and stderr
	changed chan struct{}
	exited  chan struct{} // closed once bot run has ended, with err
	err     error
}

// startWaitingTask starts bot run on a small repository with an agent that
// waits, and returns once the agent has started.
func startWaitingTask(t *testing.T, docker *dockerWatch) *waitingBot {
	t.Helper()
	dir := t.TempDir()
	binary := filepath.Join(dir, "bot")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		t.Fatalf("build the bot: %v\n%s", err, out)
	}
	repo := checkoutIn(t, filepath.Join(dir, "repo"), map[string]string{"README.md": "A repository.\n"})
	runGit(t, repo, "init", "-q", "-b", "main")
	runGit(t, repo, "add", "-A")
	runGit(t, repo, "commit", "-q", "-m", "start")
	cfg := filepath.Join(dir, "oneshot.yml")
	if err := os.WriteFile(cfg, []byte("verify: [\"true\"]\nnetwork:\n  mode: none\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	b := &waitingBot{changed: make(chan struct{}, 1), exited: make(chan struct{})}
	// The words are put together as the agent runs, so that they appear
	// only then, not wherever the command is shown.
	b.cmd = exec.Command(binary, "run", "--repo-dir", repo, "--task", "Wait", "--config", cfg,
		"--agent-command", "cat {prompt_file} >/dev/null; echo the agent is $(echo waiting); sleep 600")
	b.cmd.Env = append(os.Environ(), "DOCKER_HOST="+docker.url)
	b.cmd.Stdout, b.cmd.Stderr = b, b
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		b.err = b.cmd.Wait()
		close(b.exited)
	}()
	t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		<-b.exited
	})
	b.waitFor(t, "the agent is waiting")
	return b
}

// Write takes bot run's output.
func (b *waitingBot) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.seen.Write(p)
	b.mu.Unlock()
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

// waitFor returns once bot run has said want.
func (b *waitingBot) waitFor(t *testing.T, want string) {
	t.Helper()
	giveUp := time.After(2 * time.Minute)
	for !strings.Contains(b.output(), want) {
		select {
		case <-b.changed:
		case <-b.exited:
			if !strings.Contains(b.output(), want) {
				t.Fatalf("bot run ended (%v) without saying %q:\n%s", b.err, want, b.output())
			}
		case <-giveUp:
			t.Fatalf("bot run did not say %q:\n%s", want, b.output())
		}
	}
}

func (b *waitingBot) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen.String()
}

// wait returns how bot run ended.
func (b *waitingBot) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-b.exited:
		return b.err
	case <-time.After(2 * time.Minute):
		t.Fatalf("bot run did not end:\n%s", b.output())
		return nil
	}
}

// interrupt is Ctrl-C.
func (b *waitingBot) interrupt(t *testing.T) {
	t.Helper()
	if err := b.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
}

package sandbox_test

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"

	"github.com/oneshot-dev/oneshot/sandbox"
)

// testImage is the sandbox image the tests run; scripts/test builds it.
func testImage() string {
	return cmp.Or(os.Getenv("ONESHOT_TEST_IMAGE"), sandbox.DefaultImage)
}

// testBundle is what a Docker test needs: an engine whose owner is unique
// to the test, so reaping and leak checks see only the test's containers.
type testBundle struct {
	engine *sandbox.Engine
	docker *client.Client
	owner  string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	docker, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := docker.Ping(ctx); err != nil {
		t.Fatalf("these tests need a Docker engine (run .ci/run, or start dockerd): %v", err)
	}
	owner := "test-" + randomHex(4)
	engine, err := sandbox.NewEngine(sandbox.Options{Owner: owner, Docker: docker})
	if err != nil {
		t.Fatal(err)
	}
	b := &testBundle{engine: engine, docker: docker, owner: owner}
	t.Cleanup(func() {
		// Every test must clean up after itself; anything left is a bug.
		if left := b.containers(t); len(left) > 0 {
			t.Errorf("containers left behind: %v", left)
			// Removed whatever their state: Reap leaves running ones.
			for _, id := range left {
				_ = docker.ContainerRemove(context.Background(), id, container.RemoveOptions{Force: true, RemoveVolumes: true})
			}
		}
		docker.Close()
	})
	return b
}

// spec is a small spec for tests: quick to start, easy to exhaust.
func (b *testBundle) spec() sandbox.Spec {
	return sandbox.Spec{
		Image:    testImage(),
		TaskID:   b.owner,
		Memory:   "256m",
		Disk:     "64m",
		Tmp:      "16m",
		CPUs:     1,
		Pids:     256,
		Deadline: 5 * time.Minute,
	}
}

// start starts a session that the test's cleanup closes.
func (b *testBundle) start(t *testing.T, spec sandbox.Spec) *sandbox.Session {
	t.Helper()
	s, err := b.engine.Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("start session: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close session: %v", err)
		}
	})
	return s
}

// containers lists the IDs of containers labelled with the test's owner.
func (b *testBundle) containers(t *testing.T) []string {
	t.Helper()
	list, err := b.docker.ContainerList(context.Background(), container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelOwner+"="+b.owner)),
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	return ids
}

// exists says whether a container is still there.
func (b *testBundle) exists(t *testing.T, id string) bool {
	t.Helper()
	_, err := b.docker.ContainerInspect(context.Background(), id)
	if errdefs.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// waitStopped waits, up to 30 s, for the container to stop running.
func (b *testBundle) waitStopped(t *testing.T, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waited, failed := b.docker.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	select {
	case <-waited:
	case err := <-failed:
		t.Fatalf("container %s still running: %v", id, err)
	}
}

// run runs a script and fails the test if it cannot run at all.
func run(t *testing.T, s *sandbox.Session, script string) *sandbox.Result {
	t.Helper()
	res, err := s.Exec(context.Background(), sandbox.Command{Script: script, Timeout: time.Minute})
	if err != nil {
		t.Fatalf("exec %q: %v", script, err)
	}
	return res
}

// mustSucceed runs a script that must exit 0 and returns its stdout.
func mustSucceed(t *testing.T, s *sandbox.Session, script string) string {
	t.Helper()
	res := run(t, s, script)
	if res.ExitCode != 0 {
		t.Fatalf("%q exited %d: %s%s", script, res.ExitCode, res.Stdout, res.Stderr)
	}
	return string(res.Stdout)
}

// testServer runs an HTTP server in a container of the project's own image
// on Docker's default bridge, and returns its address. Its index page says
// "hello from the test server".
func (b *testBundle) testServer(t *testing.T) serverAddr {
	t.Helper()
	ctx := context.Background()
	created, err := b.docker.ContainerCreate(ctx, &container.Config{
		Image:      testImage(),
		Entrypoint: []string{"bash", "-c"},
		Cmd: []string{`mkdir -p /tmp/www && echo "hello from the test server" > /tmp/www/index.html &&
			exec python3 -m http.server 8000 --bind 0.0.0.0 --directory /tmp/www`},
		Labels: map[string]string{sandbox.LabelOwner: b.owner + "-server"},
	}, &container.HostConfig{AutoRemove: false}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = b.docker.ContainerRemove(context.Background(), created.ID, container.RemoveOptions{Force: true})
	})
	if err := b.docker.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := b.docker.ContainerInspect(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	ip := info.NetworkSettings.IPAddress
	if ip == "" {
		for _, n := range info.NetworkSettings.Networks {
			ip = n.IPAddress
		}
	}
	if ip == "" {
		t.Fatal("test server has no address")
	}
	addr := net.JoinHostPort(ip, "8000")
	waitFor(t, 30*time.Second, "test server at "+addr, func() error {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
		}
		return err
	})
	return serverAddr{ip: ip, port: "8000"}
}

type serverAddr struct{ ip, port string }

func (a serverAddr) String() string { return net.JoinHostPort(a.ip, a.port) }

// waitFor polls a condition until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s: %v", timeout, what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lines splits output into trimmed, non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// buildImage builds a test image from a Dockerfile's text, removed when
// the test ends.
func buildImage(t *testing.T, name, dockerfile string) {
	t.Helper()
	build := exec.Command("docker", "build", "-q", "-t", name, "-")
	build.Stdin = strings.NewReader(dockerfile)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", name).Run() })
}

// first is the first of two results, for a range over the listed refusals.
func first[A, B any](a A, _ B) A { return a }

// sandboxdStopped says whether a signal stopped the sandboxd that serves
// the session in a container, as ps on the engine's host sees it.
func (b *testBundle) sandboxdStopped(id string) bool {
	top, err := b.docker.ContainerTop(context.Background(), id, []string{"-o", "pid,stat,args"})
	if err != nil {
		return false
	}
	for _, p := range top.Processes {
		if len(p) == 3 && strings.HasPrefix(p[1], "T") && strings.HasSuffix(p[2], " serve-under-init") {
			return true
		}
	}
	return false
}

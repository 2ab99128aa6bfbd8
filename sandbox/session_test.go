package sandbox_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/sandbox/protocol"
)

// holdSessionEnv makes the test binary, run as a child, start a session and
// wait to be killed; see TestReapRemovesWhatAKilledProcessLeft.
const holdSessionEnv = "ONESHOT_TEST_HOLD_SESSION_OWNER"

func TestMain(m *testing.M) {
	if owner := os.Getenv(holdSessionEnv); owner != "" {
		holdSession(owner)
		return
	}
	os.Exit(m.Run())
}

func holdSession(owner string) {
	engine, err := sandbox.NewEngine(sandbox.Options{Owner: owner})
	if err == nil {
		var s *sandbox.Session
		s, err = engine.Start(context.Background(), sandbox.Spec{Image: testImage(), TaskID: owner, Memory: "256m", Disk: "16m"})
		if err == nil {
			fmt.Println(s.ID())
			select {} // until killed
		}
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func TestInvalidSpecsAreRejectedBeforeAnythingIsCreated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		name string
		edit func(*sandbox.Spec)
		want string
	}{
		{"memory with a bad unit", func(s *sandbox.Spec) { s.Memory = "4x" }, `memory "4x" is not a size`},
		{"negative pids", func(s *sandbox.Spec) { s.Pids = -1 }, "pids -1 is negative"},
		{"unknown network mode", func(s *sandbox.Spec) { s.Network.Mode = "bridge" }, `network mode "bridge" is not one of`},
		{"pattern that does not compile", func(s *sandbox.Spec) {
			s.Network = sandbox.Network{Mode: sandbox.NetworkFiltered, Allow: []string{"[oops"}}
		}, `network pattern "[oops" does not compile`},
		{"allow-list without the filtered mode", func(s *sandbox.Spec) { s.Network.Allow = []string{"x.org"} }, "apply only to mode filtered"},
		{"secret too short to mask", func(s *sandbox.Spec) { s.Secrets = map[string]string{"T": "abc"} }, "too short to mask"},
		{"no image", func(s *sandbox.Spec) { s.Image = "" }, "image is empty"},
	}
	for _, tc := range cases {
		spec := b.spec()
		tc.edit(&spec)
		_, err := b.engine.Start(context.Background(), spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to say %q", tc.name, err, tc.want)
		}
	}
	if left := b.containers(t); len(left) > 0 {
		t.Fatalf("invalid specs created containers: %v", left)
	}
}

func TestImageWithoutSandboxdIsRefusedWithAReason(t *testing.T) {
	t.Parallel()
	b := setup(t)
	spec := b.spec()
	spec.Image = "oneshot/debian:bookworm" // the plain base image
	if _, err := b.engine.Start(context.Background(), spec); err == nil || !strings.Contains(err.Error(), "has no oneshot sandboxd") {
		t.Errorf("base image: err = %v", err)
	}
	spec.Image = "oneshot/no-such-image:" + b.owner
	if _, err := b.engine.Start(context.Background(), spec); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing image: err = %v", err)
	}
}

func TestCloseAfterCancelLeavesNoContainer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := b.engine.Start(ctx, b.spec())
	if err != nil {
		t.Fatal(err)
	}
	id := s.ID()
	mustSucceed(t, s, "echo hi > /sandbox/file")
	// A session is one container: no volume and no network of its own
	// that a teardown could forget.
	info, err := b.docker.ContainerInspect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Mounts) > 0 || info.HostConfig.NetworkMode != "none" {
		t.Fatalf("mounts %+v, network %s", info.Mounts, info.HostConfig.NetworkMode)
	}
	cancel()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if b.exists(t, id) {
		t.Fatal("the container outlived Close")
	}
	// Whichever of the cancel and the Close ended the session, it says so.
	_, err = s.Exec(context.Background(), sandbox.Command{Args: []string{"true"}})
	if !errors.Is(err, context.Canceled) && !errors.Is(err, sandbox.ErrClosed) {
		t.Fatalf("exec after the cancel: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}

func TestCancelAloneRemovesTheContainer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := b.engine.Start(ctx, b.spec())
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-s.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the session did not end with its context")
	}
	if b.exists(t, s.ID()) {
		t.Fatal("the container outlived the session")
	}
}

func TestSessionDeadlineEndsEverything(t *testing.T) {
	t.Parallel()
	b := setup(t)
	spec := b.spec()
	spec.Deadline = 2 * time.Second
	s := b.start(t, spec)

	started := time.Now()
	_, err := s.Exec(context.Background(), sandbox.Command{Script: "sleep 600"})
	if !errors.Is(err, sandbox.ErrDeadline) {
		t.Fatalf("err = %v, want ErrDeadline", err)
	}
	if d := time.Since(started); d > 30*time.Second {
		t.Fatalf("the exec ended %v after the deadline", d)
	}
	if b.exists(t, s.ID()) {
		t.Fatal("the container outlived the deadline")
	}
	if _, err := s.Exec(context.Background(), sandbox.Command{Args: []string{"true"}}); !errors.Is(err, sandbox.ErrDeadline) {
		t.Fatalf("exec after the deadline: %v", err)
	}
}

func TestReapRemovesWhatAKilledProcessLeft(t *testing.T) {
	t.Parallel()
	b := setup(t)
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), holdSessionEnv+"="+b.owner)
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		child.Process.Kill()
		child.Wait()
		t.Fatalf("the child started no session: %v", err)
	}
	id := strings.TrimSpace(line)
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	if !b.exists(t, id) {
		t.Fatal("the container went with its process; nothing left to reap")
	}
	// Without its bot, the container stops: nothing it runs outlives the
	// bot until the next start.
	b.waitStopped(t, id)

	n, err := b.engine.Reap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || b.exists(t, id) {
		t.Fatalf("reaped %d, container still there: %v", n, b.exists(t, id))
	}
}

// A second process of the same owner, as in a restart that overlaps the
// process it replaces, reaps only what is left behind: the first's
// sandbox, running within its deadline, is not.
func TestReapLeavesARunningSessionOfTheSameOwnerAlone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())
	other, err := sandbox.NewEngine(sandbox.Options{Owner: b.owner, Docker: b.docker})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := other.Reap(context.Background()); n != 0 || err != nil {
		t.Fatalf("reaped %d (%v), want none", n, err)
	}
	if out := mustSucceed(t, s, "echo still here"); out != "still here\n" {
		t.Fatalf("the session answers %q", out)
	}
}

// A container of the owner that no session holds and that stopped (as one
// whose removal Docker failed) is removed while the process runs; its
// running session is left alone, and so is a container made a moment ago
// and not started, which another process of the owner may be starting.
func TestReapEndedRemovesWhatNoSessionHoldsBesideTheRunningSessions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())
	ctx := context.Background()
	deadline := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	create := func() string {
		t.Helper()
		c, err := b.docker.ContainerCreate(ctx, &container.Config{
			Image:      b.spec().Image,
			Entrypoint: []string{"/bin/true"},
			Labels:     map[string]string{sandbox.LabelApp: "oneshot", sandbox.LabelOwner: b.owner, sandbox.LabelDeadline: deadline},
		}, nil, nil, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}) })
		return c.ID
	}
	left, starting := create(), create()
	if err := b.docker.ContainerStart(ctx, left, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	b.waitStopped(t, left)

	n, err := b.engine.ReapEnded(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || b.exists(t, left) || !b.exists(t, starting) {
		t.Fatalf("reaped %d; the stopped container still there: %v; the one made a moment ago gone: %v", n, b.exists(t, left), !b.exists(t, starting))
	}
	if out := mustSucceed(t, s, "echo still here"); out != "still here\n" {
		t.Fatalf("the session answers %q", out)
	}
}

func TestAStartThatFailsAfterCreatingLeavesNoContainer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// An image that passes every check but whose sandboxd dies at once:
	// Start fails after the container exists.
	broken := "oneshot-test/broken-sandboxd:" + b.owner
	dockerfile := fmt.Sprintf("FROM %s\nUSER root\nRUN printf '#!/bin/sh\\nexit 3\\n' > %s\nUSER 1000:1000\n", testImage(), protocol.BinaryPath)
	buildImage(t, broken, dockerfile)

	spec := b.spec()
	spec.Image = broken
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if s, err := b.engine.Start(ctx, spec); err == nil {
		s.Close()
		t.Fatal("a session started on a sandboxd that exits")
	}
	if left := b.containers(t); len(left) > 0 {
		t.Fatalf("the failed start left containers %v", left)
	}
}

// TestMoreCPUsThanTheEngineHasIsAllItHas: Docker refuses a container more
// CPUs than the engine has, and a repository's default of two must not
// leave a one-CPU machine running nothing.
func TestMoreCPUsThanTheEngineHasIsAllItHas(t *testing.T) {
	t.Parallel()
	b := setup(t)
	spec := b.spec()
	spec.CPUs = float64(runtime.NumCPU() + 1) // the engine runs here
	s := b.start(t, spec)
	mustSucceed(t, s, "true")
	inspect, err := b.docker.ContainerInspect(t.Context(), s.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := inspect.HostConfig.NanoCPUs, int64(runtime.NumCPU())*1e9; got != want {
		t.Fatalf("NanoCPUs %d, want %d: all the engine's CPUs", got, want)
	}
}

// A cancel that comes while Docker makes the container leaves nothing
// behind: Docker goes on making a container whose answer the bot stopped
// waiting for, after whatever the bot did next.
func TestACancelWhileTheContainerIsMadeLeavesNoContainer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	late := &lateCreate{base: b.docker.HTTPClient().Transport, cancel: cancel, removed: make(chan struct{}), made: make(chan struct{})}
	docker, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation(), client.WithHTTPClient(&http.Client{Transport: late}))
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	engine, err := sandbox.NewEngine(sandbox.Options{Owner: b.owner, Docker: docker})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := engine.Start(ctx, b.spec()); !errors.Is(err, context.Canceled) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Start cancelled while the container was made: %v", err)
	}
	<-late.made
	if left := b.containers(t); len(left) > 0 {
		t.Fatalf("the cancelled start left %d containers", len(left))
	}
}

// lateCreate passes requests to a Docker engine, which it has answer a
// create late: the caller's cancel comes while the request is out, and a
// client that gives up waiting finds the container made after its next
// request, a removal.
type lateCreate struct {
	base    http.RoundTripper
	cancel  context.CancelFunc
	removed chan struct{} // closed after the first removal
	made    chan struct{} // closed once the create was answered
	once    sync.Once
}

func (l *lateCreate) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/containers/create"):
		l.cancel()
		if req.Context().Err() == nil {
			defer close(l.made)
			return l.base.RoundTrip(req)
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		go func() {
			defer close(l.made)
			select {
			case <-l.removed:
			case <-time.After(removeWait):
			}
			again := req.Clone(context.Background())
			again.Body = io.NopCloser(bytes.NewReader(body))
			if resp, err := l.base.RoundTrip(again); err == nil {
				resp.Body.Close()
			}
		}()
		return nil, req.Context().Err()
	case req.Method == http.MethodDelete && strings.Contains(req.URL.Path, "/containers/"):
		defer l.once.Do(func() { close(l.removed) })
	}
	return l.base.RoundTrip(req)
}

// removeWait bounds lateCreate's wait for a removal that may not come.
const removeWait = 30 * time.Second

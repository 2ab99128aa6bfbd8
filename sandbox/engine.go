// Package sandbox runs the steps of a task in one locked-down, persistent
// Docker container per task: a session.
//
// Model-written code runs in a session next to a customer's private code, so
// the container gets no capabilities, no root, a read-only root filesystem,
// memory, CPU, pids and disk limits, a deadline, and no network unless the
// spec asks for the filtered proxy. Every byte that comes out of a session
// passes a masker that knows the session's secrets.
//
// The container's main process is sandboxd (package sandbox/sandboxd); the
// bot talks to it over the container's attached stdin and stdout. See
// docs/sandbox.md for the design and its reasons.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/oneshot-dev/oneshot/sandbox/protocol"
)

// Labels on every container the engine creates.
const (
	LabelApp   = "dev.oneshot.app"
	LabelOwner = "dev.oneshot.owner"
	LabelTask  = "dev.oneshot.task"
	// LabelDeadline is when the session ends at the latest, in Unix
	// seconds: see Reap.
	LabelDeadline = "dev.oneshot.deadline"

	appName = "oneshot"
)

// Engine creates sessions on one Docker engine.
type Engine struct {
	docker *client.Client
	owner  string

	infoMu     sync.Mutex
	infoKnown  bool  // the engine answered
	seccompErr error // why the engine's seccomp cannot be relied on
	cpus       int   // how many CPUs the engine has
}

// Options configure an Engine.
type Options struct {
	// Owner names this bot instance in container labels, so that Reap
	// removes only what this instance left behind. It defaults to the host
	// name; instances sharing a Docker engine need distinct owners.
	Owner string
	// Docker is the client to use; by default one is made from the
	// environment (DOCKER_HOST and friends) with API version negotiation.
	Docker *client.Client
}

// NewEngine connects to Docker. It does not reap: call Reap once at start.
func NewEngine(opts Options) (*Engine, error) {
	if opts.Owner == "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("default owner: %w", err)
		}
		opts.Owner = host
	}
	if opts.Docker == nil {
		c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return nil, fmt.Errorf("docker client: %w", err)
		}
		opts.Docker = c
	}
	return &Engine{docker: opts.Docker, owner: opts.Owner}, nil
}

// Close releases the Docker client. Sessions must be closed first.
func (e *Engine) Close() error { return e.docker.Close() }

// Ping checks that the Docker engine answers.
func (e *Engine) Ping(ctx context.Context) error {
	if _, err := e.docker.Ping(ctx); err != nil {
		return fmt.Errorf("docker engine does not answer: %w", err)
	}
	return nil
}

// checkEngine asks the engine what sessions depend on: that it applies a
// seccomp profile to the containers it runs (sessions rely on its default,
// and an engine configured with seccomp unconfined would silently run them
// without one), and how many CPUs it has (see Start). The engine's answer
// is kept for the Engine's life; a failure to ask is not, so a session
// started while Docker did not answer does not fail every later one.
func (e *Engine) checkEngine(ctx context.Context) (cpus int, err error) {
	e.infoMu.Lock()
	defer e.infoMu.Unlock()
	if !e.infoKnown {
		info, err := e.docker.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("ask the docker engine for its security options: %w", err)
		}
		e.seccompErr, e.cpus, e.infoKnown = seccompProblem(info.SecurityOptions), info.NCPU, true
	}
	return e.cpus, e.seccompErr
}

// seccompProblem says what is wrong with an engine's security options, as
// docker info lists them ("name=seccomp,profile=default"), for sessions
// that rely on its seccomp profile; nil when nothing is.
func seccompProblem(options []string) error {
	for _, opt := range options {
		fields := strings.Split(opt, ",")
		if fields[0] != "name=seccomp" {
			continue
		}
		if slices.Contains(fields[1:], "profile=unconfined") {
			return errors.New("the docker engine's default seccomp profile is unconfined: sandboxes need one (remove seccomp-profile=unconfined from the daemon's configuration)")
		}
		return nil
	}
	return errors.New("the docker engine applies no seccomp profile: sandboxes need one (a kernel and Docker built with seccomp)")
}

// Reap removes the containers that this owner's earlier processes left
// behind, and returns how many it removed. Call it when the bot starts,
// and when it takes over from another process of its owner; the
// process's own sessions run within their deadline, and are left alone as
// a live process's are.
//
// A container whose bot died stops: its attach stream ends, and sandboxd
// with it, within milliseconds. One still running after stopWait, within
// its deadline, is another live process's, as in a restart that overlaps
// the process it replaces, and is left alone; past its deadline no live
// process keeps it (its sandboxd stopped, say, by what it ran).
func (e *Engine) Reap(ctx context.Context) (int, error) { return e.reap(ctx, true) }

// ReapEnded removes the containers of this owner that stopped, or ran
// past their deadline, and returns how many it removed: none a live
// session holds. Run it from time to time beside the process's own
// sessions: a session's container whose removal Docker failed stays
// otherwise until the next start, and so does one Docker made for a
// request the bot stopped waiting for. It waits for nothing to stop.
func (e *Engine) ReapEnded(ctx context.Context) (int, error) { return e.reap(ctx, false) }

func (e *Engine) reap(ctx context.Context, atStart bool) (int, error) {
	list, err := e.docker.ContainerList(ctx, container.ListOptions{
		All: true,
		Filters: filters.NewArgs(
			filters.Arg("label", LabelApp+"="+appName),
			filters.Arg("label", LabelOwner+"="+e.owner),
		),
	})
	if err != nil {
		return 0, fmt.Errorf("list leftover sandboxes: %w", err)
	}
	removed := 0
	var errs []error
	waitUntil := time.Now().Add(stopWait) // one wait for all of them
	for _, c := range list {
		if c.State == container.StateRunning && !pastDeadline(c.Labels[LabelDeadline]) &&
			(!atStart || !e.stops(ctx, c.ID, waitUntil)) {
			continue
		}
		// Made a moment ago and not started: another process of the
		// owner, beside this one in a restart, may be starting it. The
		// next sweep takes it if not.
		if c.State == container.StateCreated && time.Since(time.Unix(c.Created, 0)) < startingGrace {
			continue
		}
		if err := e.remove(ctx, c.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// startingGrace is how long ReapEnded leaves a container that was made
// and not started: a session starts its container within seconds.
const startingGrace = 2 * time.Minute

// stopWait is how long Reap gives a running container to stop, as one
// whose bot just died does.
const stopWait = 3 * time.Second

// stops says whether a container stops by a time.
func (e *Engine) stops(ctx context.Context, id string, by time.Time) bool {
	ctx, cancel := context.WithDeadline(ctx, by)
	defer cancel()
	waited, failed := e.docker.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	select {
	case <-waited:
		return true
	case <-failed:
		return false
	}
}

// pastDeadline says whether a container's deadline label has passed; one
// without (made by an earlier version) has no deadline to keep it.
func pastDeadline(label string) bool {
	deadline, err := strconv.ParseInt(label, 10, 64)
	return err != nil || time.Now().Unix() > deadline
}

func (e *Engine) remove(ctx context.Context, id string) error {
	err := e.docker.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove sandbox container %.12s: %w", id, err)
	}
	return nil
}

// CheckImage says, as starting a session in it would, why image cannot run
// sandboxes: it is absent, or its sandboxd is missing or speaks another
// protocol. The bot asks at start, before a task would find out.
func (e *Engine) CheckImage(ctx context.Context, image string) error {
	_, err := e.checkImage(ctx, image)
	return err
}

// checkImage makes sure the image exists and carries a sandboxd that speaks
// our protocol, so a wrong image fails with a reason rather than a hang. It
// returns the image's declared volumes, sorted.
func (e *Engine) checkImage(ctx context.Context, image string) ([]string, error) {
	info, err := e.docker.ImageInspect(ctx, image)
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("image %s not found: build it with images/build --tag %s", image, image)
	}
	if err != nil {
		return nil, fmt.Errorf("inspect image %s: %w", image, err)
	}
	if info.Config == nil {
		info.Config = &dockerspec.DockerOCIImageConfig{}
	}
	version, ok := info.Config.Labels[protocol.ImageLabel]
	switch {
	case !ok:
		return nil, fmt.Errorf("image %s has no oneshot sandboxd: build one FROM it with images/build --base %s", image, image)
	case version != strconv.Itoa(protocol.Version):
		return nil, fmt.Errorf("image %s has sandboxd protocol %s but this bot speaks %d: rebuild it with images/build", image, version, protocol.Version)
	}
	volumes := slices.Sorted(maps.Keys(info.Config.Volumes))
	return volumes, nil
}

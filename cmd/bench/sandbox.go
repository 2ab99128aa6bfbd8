package main

import (
	"context"
	"fmt"
	"os/exec"
	"time"

	"github.com/oneshot-dev/oneshot/sandbox"
)

// benchSandbox compares a session's start and an exec's round trip with
// what the Docker CLI takes for the same.
func benchSandbox(args []string) error {
	fs := newFlagSet("sandbox")
	n := fs.Int("n", 20, "repetitions of each contender")
	image := fs.String("image", sandbox.DefaultImage, "sandbox image")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 {
		return errTooFew
	}
	ctx := context.Background()
	engine, err := sandbox.NewEngine(sandbox.Options{Owner: "oneshot-bench"})
	if err != nil {
		return err
	}
	defer engine.Close()
	spec := sandbox.Spec{Image: *image, TaskID: "bench", Memory: "512m", Disk: "256m"}
	fmt.Printf("sandbox benchmark: image %s, contenders interleaved\n", *image)

	// Start: a hardened session until its first exec's first output, vs
	// the CLI running a plain container to completion.
	startOnce := func(spec sandbox.Spec) (time.Duration, error) {
		begin := time.Now()
		s, err := engine.Start(ctx, spec)
		if err != nil {
			return 0, err
		}
		defer s.Close()
		var first time.Duration
		_, err = s.Exec(ctx, sandbox.Command{Args: []string{"echo", "ready"}, OnEvent: func(sandbox.Event) {
			if first == 0 {
				first = time.Since(begin)
			}
		}})
		return first, err
	}
	cliRun := func() (time.Duration, error) { return timeCommand("docker", "run", "--rm", *image, "true") }
	filtered := spec
	filtered.Network = sandbox.Network{Mode: sandbox.NetworkFiltered, Allow: []string{"*.example.com"}}

	var ours, oursFiltered, cli samples
	for i := -1; i < *n; i++ { // i == -1 warms up caches and is not counted
		a, err := startOnce(spec)
		if err != nil {
			return err
		}
		b, err := cliRun()
		if err != nil {
			return err
		}
		c, err := startOnce(filtered)
		if err != nil {
			return err
		}
		if i >= 0 {
			ours, cli, oursFiltered = append(ours, a), append(cli, b), append(oursFiltered, c)
		}
	}
	comparison("session start to first exec output", ours, cli,
		"oneshot session (network none)", "docker run --rm IMAGE true (CLI)", 1.0)
	fmt.Printf("  %-44s median %9s   (same start, with the egress proxy)\n", "oneshot session (network filtered)", ms(oursFiltered.median()))

	// Exec: a round trip of true in a running session, vs the CLI's exec
	// into the very same container.
	s, err := engine.Start(ctx, spec)
	if err != nil {
		return err
	}
	defer s.Close()
	var execs, cliExecs samples
	for i := -1; i < *n; i++ {
		begin := time.Now()
		res, err := s.Exec(ctx, sandbox.Command{Args: []string{"true"}})
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("true exited %d", res.ExitCode)
		}
		a := time.Since(begin)
		b, err := timeCommand("docker", "exec", s.ID(), "true")
		if err != nil {
			return err
		}
		if i >= 0 {
			execs, cliExecs = append(execs, a), append(cliExecs, b)
		}
	}
	comparison("exec round trip of true", execs, cliExecs,
		"oneshot Exec", "docker exec CONTAINER true (CLI)", 0.6)
	fmt.Println("\nfor scale, isol8 publishes 188-223 ms cold and 117-150 ms from a warm pool (Apple M3)")
	return nil
}

func timeCommand(name string, args ...string) (time.Duration, error) {
	begin := time.Now()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s %v: %w: %s", name, args, err, out)
	}
	return time.Since(begin), nil
}

package main

import (
	"context"
	"fmt"
	"os/exec"
	"time"

	"github.com/oneshot-dev/oneshot/sandbox"
)

// minRepetitions is the fewest runs of each contender the comparison
// takes.
const minRepetitions = 20

// benchSandbox compares a session's start and an exec's round trip with
// what the Docker CLI takes for the same.
func benchSandbox(args []string) error {
	fs := newFlagSet("sandbox")
	n := fs.Int("n", minRepetitions, "repetitions of each contender")
	image := fs.String("image", sandbox.DefaultImage, "sandbox image")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < minRepetitions {
		return fmt.Errorf("-n must be at least %d: fewer give no median worth comparing", minRepetitions)
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
	// The whole life, to Close's return, is measured too: the CLI's run
	// removes its container before it returns.
	startOnce := func(spec sandbox.Spec) (first, whole time.Duration, err error) {
		begin := time.Now()
		s, err := engine.Start(ctx, spec)
		if err != nil {
			return 0, 0, err
		}
		_, err = s.Exec(ctx, sandbox.Command{Args: []string{"echo", "ready"}, OnEvent: func(sandbox.Event) {
			if first == 0 {
				first = time.Since(begin)
			}
		}})
		s.Close()
		return first, time.Since(begin), err
	}
	cliRun := func() (time.Duration, error) { return timeCommand("docker", "run", "--rm", *image, "true") }
	filtered := spec
	filtered.Network = sandbox.Network{Mode: sandbox.NetworkFiltered, Allow: []string{"*.example.com"}}

	var ours, oursWhole, oursFiltered, cli samples
	for i := -1; i < *n; i++ { // i == -1 warms up caches and is not counted
		a, whole, err := startOnce(spec)
		if err != nil {
			return err
		}
		b, err := cliRun()
		if err != nil {
			return err
		}
		c, _, err := startOnce(filtered)
		if err != nil {
			return err
		}
		if i >= 0 {
			ours, oursWhole, cli, oursFiltered = append(ours, a), append(oursWhole, whole), append(cli, b), append(oursFiltered, c)
		}
	}
	comparison("session start to first exec output", ours, cli,
		"oneshot session (network none)", "docker run --rm IMAGE true (CLI)", 1.0)
	fmt.Printf("  %-44s median %9s   (same start, with the egress proxy)\n", "oneshot session (network filtered)", ms(oursFiltered.median()))
	fmt.Printf("  %-44s median %9s   (start, first output and Close, as the CLI's run includes removal)\n", "oneshot session, whole life", ms(oursWhole.median()))

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

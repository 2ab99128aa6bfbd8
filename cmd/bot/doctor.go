package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/workspace"
)

// doctor checks, in the order a newcomer would trip on them, that git is
// there, that Docker answers, that the sandbox image is usable, and that a
// hardened session starts and runs a command.
func doctor(args []string, out io.Writer) error {
	fs := newFlagSet("doctor")
	configPath := fs.String("config", os.Getenv("ONESHOT_CONFIG"), "the bot's configuration file, whose sandbox settings are tried; the environment overrides it, as for serve")
	image := fs.String("image", "", "sandbox image to start a session in (default: sandbox.image of the configuration)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *timeout <= 0 {
		return fmt.Errorf("--timeout is %v; it must be positive", *timeout)
	}
	bot, err := loadLocal(*configPath)
	if err != nil {
		return err
	}
	settings := bot.Sandbox
	// The images the bot would run: the one it starts tasks in, then those
	// a repository may choose; or the one asked for alone.
	images := []string{cmp.Or(*image, settings.Image)}
	for _, name := range settings.ImageNames() {
		if *image == "" && !slices.Contains(images, name) {
			images = append(images, name)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	err = diagnose(ctx, out, images)
	if err != nil && ctx.Err() != nil {
		// What failed failed for want of time, whatever it says.
		return fmt.Errorf("doctor ran out of time (--timeout %v): %w", *timeout, err)
	}
	return err
}

// diagnose checks what a task needs of this machine: git, Docker, and
// images, the first of which it starts a sandbox in.
func diagnose(ctx context.Context, out io.Writer, images []string) error {
	// Every task clones, checks and pushes with git on the bot's host.
	cmd := exec.CommandContext(ctx, "git", "version")
	cmd.Env = workspace.HostEnv()
	version, err := cmd.Output()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("git: %w\n  install git: every task runs it on this host", err)
	} else if err != nil {
		return fmt.Errorf("git: %w", err)
	}
	fmt.Fprintf(out, "git: %s\n", strings.TrimSpace(string(version)))

	engine, err := sandbox.NewEngine(sandbox.Options{Owner: "oneshot-doctor"})
	if err != nil {
		return err
	}
	defer engine.Close()
	if err := engine.Ping(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("%w\n  start Docker, or point DOCKER_HOST at it", err)
	} else if err != nil {
		return err
	}
	fmt.Fprintln(out, "docker: answers")
	// What a doctor killed outright left, as bot run removes its own.
	if n, err := engine.ReapEnded(ctx); err == nil && n > 0 {
		fmt.Fprintf(out, "docker: removed %d sandboxes an earlier doctor left\n", n)
	}

	for _, name := range images[1:] {
		if err := engine.CheckImage(ctx, name); err != nil {
			return err
		}
		fmt.Fprintf(out, "image %s: has a sandboxd this bot speaks to\n", name)
	}

	started := time.Now()
	s, err := engine.Start(ctx, sandbox.Spec{Image: images[0], TaskID: "doctor", Memory: "512m", Disk: "256m"})
	if err != nil {
		return err
	}
	defer s.Close()
	startTime := time.Since(started)

	started = time.Now()
	res, err := s.Exec(ctx, sandbox.Command{Args: []string{"id", "-u"}})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("the test command exited %d: %s", res.ExitCode, res.Stderr)
	}
	fmt.Fprintf(out, "sandbox: %s started in %v; a command ran in %v as uid %s\n",
		images[0], startTime.Round(time.Millisecond), time.Since(started).Round(time.Microsecond),
		strings.TrimSpace(string(res.Stdout)))
	if err := s.Close(); err != nil {
		return err
	}
	fmt.Fprintln(out, "ok")
	return nil
}

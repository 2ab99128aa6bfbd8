package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/server"
)

// serve runs the bot until SIGINT or SIGTERM.
func serve(args []string, out io.Writer) error {
	fs := newFlagSet("serve")
	configPath := fs.String("config", os.Getenv("ONESHOT_CONFIG"), "configuration file (YAML); the environment overrides it (see docs/configuration.md)")
	workers := fs.Bool("workers", true, "work the queue; with -workers=false this process only receives webhooks and queues them")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*configPath, nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, os.Stderr)
	for _, line := range config.UnknownVariables(os.Environ(), cfg.Agent.SecretNames()) {
		log.Warn().Msg(line)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// The first signal stops the bot in order; a second, as from someone
	// who will not wait for a slow Docker or database, ends it at once.
	go func() {
		<-ctx.Done()
		stop()
	}()

	// A process that only receives webhooks runs no agent: it need not,
	// and should not, hold the agent's keys.
	var secrets map[string]string
	if *workers {
		if secrets, err = agentSecrets(cfg.Agent); err != nil {
			return err
		}
	}
	srv, err := server.New(ctx, cfg, server.Options{
		Version:      version,
		Logger:       log,
		AcceptOnly:   !*workers,
		AgentSecrets: secrets,
	})
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

// agentSecrets reads the values of the agent's secrets from the bot's
// environment, where an operator keeps them, and refuses any the sandbox
// would: better said at start than by every task.
func agentSecrets(a config.Agent) (map[string]string, error) {
	secrets := map[string]string{}
	for _, name := range a.SecretNames() {
		value, ok := os.LookupEnv(name)
		switch {
		case !ok || value == "":
			return nil, fmt.Errorf("agent.secrets names %s, which is not set in the bot's environment", name)
		case len(value) < sandbox.MinSecretLen:
			return nil, fmt.Errorf("agent.secrets names %s, whose value is shorter than %d characters, too short to mask in the agent's output", name, sandbox.MinSecretLen)
		case !utf8.ValidString(value):
			return nil, fmt.Errorf("agent.secrets names %s, whose value is not valid UTF-8, which the way into the sandbox would change", name)
		}
		secrets[name] = value
	}
	return secrets, nil
}

// newLogger makes the bot's logger from its configuration.
func newLogger(c config.Log, w io.Writer) zerolog.Logger {
	level, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		level = zerolog.InfoLevel
	}
	if c.Format == "text" {
		// Colours only for a person at a terminal: in a file or a
		// journal their escape codes are noise.
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: !isTerminal(w)}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// isTerminal says whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

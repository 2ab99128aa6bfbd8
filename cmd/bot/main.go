// Command bot is oneshot, a self-hosted GitHub App that turns issues into
// verified pull requests with an unattended coding agent.
//
//	bot serve     run the GitHub App
//	bot run       run one task on a local repository
//	bot locate    rank a checkout's files for an issue
//	bot prompt    print the prompt a task would get
//	bot version   print the version
//	bot doctor    check that this machine can run sandboxes
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/sandbox/protocol"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = `usage: bot <command> [flags]

commands:
  serve     run the GitHub App (configuration: docs/configuration.md)
  run       run one task on a local repository, without GitHub
  locate    rank a checkout's files for an issue, best first
  prompt    print the prompt a task would get
  version   print the version
  doctor    check that Docker runs and the sandbox images work

Run "bot <command> -h" for a command's flags.
`

func main() {
	err := run(os.Args[1:], os.Stdout)
	if err == nil || errors.Is(err, flag.ErrHelp) { // -h: the flags were printed
		return
	}
	fmt.Fprintln(os.Stderr, "bot:", err)
	os.Exit(exitStatus(os.Args[1:], err))
}

// exitStatus is the status bot exits with after err: 1, but for bot
// locate, which answers as grep does, so that a script can tell nothing
// found (1) from an error (2).
func exitStatus(args []string, err error) int {
	switch {
	case errors.Is(err, errNoMatch), errors.Is(err, errNothingToRank):
		return 1
	case len(args) > 0 && args[0] == "locate":
		return 2
	}
	return 1
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(out, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "version":
		// No flags, but -h answers as every command's does.
		if err := parseFlags(newFlagSet("version"), args[1:]); err != nil {
			return err
		}
		fmt.Fprintln(out, versionString())
		return nil
	case "serve":
		return serve(args[1:], out)
	case "run":
		return runTask(args[1:], out)
	case "locate":
		return locate(args[1:], out)
	case "prompt":
		return prompt(args[1:], out)
	case "doctor":
		return doctor(args[1:], out)
	case "help", "-h", "--help":
		fmt.Fprint(out, usage)
		return nil
	default:
		fmt.Fprint(out, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func versionString() string {
	v := "oneshot " + version
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				v += " (" + s.Value[:min(12, len(s.Value))] + ")"
			}
		}
		v += " " + info.GoVersion
	}
	return fmt.Sprintf("%s, sandbox protocol %d", v, protocol.Version)
}

// newFlagSet makes a command's flag set that reports errors instead of
// exiting, so that main prints them the same way as any other.
func newFlagSet(name string) *flag.FlagSet {
	return flag.NewFlagSet("bot "+name, flag.ContinueOnError)
}

// parseFlags parses a command's flags and refuses words left after them,
// which no command takes: --task fix the bug would otherwise run "fix"
// and drop the rest, with any flags after it. A flag that is wrong is
// said once, by main, after the flags' usage: the flag package says it
// before the usage too, and so twice.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	if err != nil {
		fs.Usage() // what -h asks for; an error is said after it
		return err
	}
	if fs.NArg() > 0 {
		// main names the bot: "bot: run: unexpected ...".
		command := strings.TrimPrefix(fs.Name(), "bot ")
		return fmt.Errorf("%s: unexpected %q after the flags%s", command, fs.Arg(0), leftOverHint(fs, args))
	}
	return nil
}

// leftOverHint says, after a space, how to write what args left over
// after fs's flags, or is "". A command without a flag of words takes no
// words at all.
func leftOverHint(fs *flag.FlagSet, args []string) string {
	if left := fs.Arg(0); left == "true" || left == "false" {
		// A switch takes no word after it: -workers false is -workers,
		// then a word.
		if i := len(args) - fs.NArg() - 1; i >= 0 && strings.HasPrefix(args[i], "-") {
			if f := fs.Lookup(strings.TrimLeft(args[i], "-")); f != nil && isSwitch(f) {
				return fmt.Sprintf(" (write %s=%s: a switch takes its value after =, not after a space)", args[i], left)
			}
		}
	}
	if fs.Lookup("task") != nil {
		return ` (a value with spaces needs quotes, as in --task "fix the bug")`
	}
	return ""
}

// isSwitch says whether f is a boolean flag, which -f alone sets.
func isSwitch(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// flagGiven says whether a flag was set on the command line, rather than
// left at its default.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// loadLocal reads the bot's configuration as a command on this machine
// does (see config.LoadLocal), warning on stderr, as serve does in its
// log, of ONESHOT_ variables that are no setting: a misspelt one would
// leave its default in force without a word.
func loadLocal(path string) (config.App, error) {
	bot, err := config.LoadLocal(path, nil)
	if err == nil {
		warnOfUnknownVariables(bot)
	}
	return bot, err
}

// warnOfUnknownVariables warns on stderr of ONESHOT_ variables that are
// no setting of bot's.
func warnOfUnknownVariables(bot config.App) {
	for _, line := range config.UnknownVariables(os.Environ(), bot.Agent.SecretNames()) {
		fmt.Fprintln(os.Stderr, "warning:", line)
	}
}

package main

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/sandbox/protocol"
)

func TestVersionNamesTheSandboxProtocol(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"version"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "oneshot ") || !strings.Contains(out.String(), fmt.Sprintf("sandbox protocol %d\n", protocol.Version)) {
		t.Fatalf("got %q", out.String())
	}
}

func TestVersionRefusesArgumentsAndAnswersHelp(t *testing.T) {
	for args, want := range map[string]string{
		"--json": "flag provided but not defined: -json",
		"extra":  `version: unexpected "extra" after the flags`,
	} {
		var out bytes.Buffer
		if err := run([]string{"version", args}, &out); err == nil || err.Error() != want || out.Len() != 0 {
			t.Errorf("version %s: err %v, printed %q; want %q", args, err, out.String(), want)
		}
	}
	// main exits 0 for it, as for every command's -h.
	if err := run([]string{"version", "-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("version -h: err %v", err)
	}
}

func TestUnknownCommandIsAnErrorWithUsage(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"serve-me"}, &out)
	if err == nil || !strings.Contains(err.Error(), `unknown command "serve-me"`) || !strings.Contains(out.String(), "usage: bot") {
		t.Fatalf("err %v, out %q", err, out.String())
	}
}

func TestWordsAfterTheFlagsOfACommandWithoutATaskGetNoHintAboutOne(t *testing.T) {
	err := run([]string{"doctor", "now"}, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), `unexpected "now" after the flags`) || strings.Contains(err.Error(), "--task") {
		t.Errorf("err = %v, want the word refused without a hint about --task, which doctor lacks", err)
	}
}

// The flag package says what is wrong before the usage it prints; main
// says it again, as it says every error.
func TestAWrongFlagIsSaidOnceAfterTheUsage(t *testing.T) {
	var err error
	stderr := stderrOf(t, func() { err = run([]string{"locate", "--bogus"}, new(bytes.Buffer)) })
	if err == nil || err.Error() != "flag provided but not defined: -bogus" {
		t.Errorf("err = %v, want the flag named", err)
	}
	if !strings.HasPrefix(stderr, "Usage of bot locate:\n") || strings.Contains(stderr, "bogus") {
		t.Errorf("stderr:\n%s\nwant the usage alone, the error left to main", stderr)
	}
	stderr = stderrOf(t, func() { err = run([]string{"locate", "-h"}, new(bytes.Buffer)) })
	if !errors.Is(err, flag.ErrHelp) || strings.Count(stderr, "Usage of bot locate:") != 1 || !strings.Contains(stderr, "-top int") {
		t.Errorf("-h: err = %v, stderr:\n%s\nwant the usage once", err, stderr)
	}
}

func TestASwitchWithItsValueAfterASpaceIsToldToUseEquals(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "-workers", "false"}, `serve: unexpected "false" after the flags (write -workers=false: a switch takes its value after =, not after a space)`},
		{[]string{"run", "--quiet", "true", "--task", "fix it"}, `run: unexpected "true" after the flags (write --quiet=true: a switch takes its value after =, not after a space)`},
		// Not after a flag that takes a word, nor with no flag before it.
		{[]string{"doctor", "--timeout", "1s", "false"}, `doctor: unexpected "false" after the flags`},
		{[]string{"doctor", "false"}, `doctor: unexpected "false" after the flags`},
	} {
		if err := run(tc.args, new(bytes.Buffer)); err == nil || err.Error() != tc.want {
			t.Errorf("%q: err = %v, want %s", tc.args, err, tc.want)
		}
	}
}

func TestDoctorSaysWhenGitIsMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := run([]string{"doctor"}, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "install git") {
		t.Errorf("err = %v, want git named as missing", err)
	}
}

// A check cut short by --timeout says so, not that what it checked is
// missing.
func TestDoctorOutOfTimeSaysSo(t *testing.T) {
	err := run([]string{"doctor", "--timeout", "1ns"}, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "doctor ran out of time (--timeout 1ns)") || strings.Contains(err.Error(), "install git") {
		t.Errorf("err = %v, want the timeout named", err)
	}
}

// The file serve reads names the images, as the environment may: doctor
// tries those, and an image a repository may choose is checked too.
func TestDoctorTriesTheImagesOfTheBotsConfigurationFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oneshot.yml")
	if err := os.WriteFile(path, []byte("sandbox:\n  image: oneshot-test/absent:2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"doctor", "--config", path}, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "oneshot-test/absent:2") {
		t.Errorf("err = %v, want the image of the file tried", err)
	}
	t.Setenv("ONESHOT_SANDBOX_IMAGE", cmp.Or(os.Getenv("ONESHOT_TEST_IMAGE"), sandbox.DefaultImage))
	t.Setenv("ONESHOT_SANDBOX_IMAGES", "oneshot-test/absent:3")
	var out bytes.Buffer
	if err := run([]string{"doctor", "--config", path}, &out); err == nil || !strings.Contains(err.Error(), "image oneshot-test/absent:3 not found") {
		t.Errorf("err = %v, printed\n%s\nwant the absent image a repository may choose named", err, out.String())
	}
}

func TestDoctorRunsACommandInASandboxOfTheImage(t *testing.T) {
	image := cmp.Or(os.Getenv("ONESHOT_TEST_IMAGE"), sandbox.DefaultImage)
	t.Setenv("ONESHOT_SANDBOX_IMAGE", image)
	t.Setenv("ONESHOT_SANDBOX_IMAGES", image) // named twice, tried once
	var out bytes.Buffer
	if err := run([]string{"doctor"}, &out); err != nil {
		t.Fatalf("doctor: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "sandbox: "+image+" started in") || strings.Contains(out.String(), "as uid 0\n") ||
		strings.Contains(out.String(), "image "+image+":") || !strings.HasSuffix(out.String(), "\nok\n") {
		t.Errorf("doctor printed\n%s", out.String())
	}
}

// An image asked for by name is the one tried: the configuration's,
// absent from this machine, are no reason to fail.
func TestDoctorWithAnImageTriesThatOneAlone(t *testing.T) {
	t.Setenv("ONESHOT_SANDBOX_IMAGE", "oneshot-test/absent:4")
	t.Setenv("ONESHOT_SANDBOX_IMAGES", "oneshot-test/absent:5")
	image := cmp.Or(os.Getenv("ONESHOT_TEST_IMAGE"), sandbox.DefaultImage)
	var out bytes.Buffer
	if err := run([]string{"doctor", "--image", image}, &out); err != nil || !strings.HasSuffix(out.String(), "\nok\n") {
		t.Fatalf("doctor --image %s: %v\n%s", image, err, out.String())
	}
}

func TestDoctorRefusesABadConfigurationSayingWhy(t *testing.T) {
	t.Setenv("ONESHOT_SANDBOX_IMAGE", "not an image")
	err := run([]string{"doctor"}, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "sandbox.image (ONESHOT_SANDBOX_IMAGE) is not an image name") {
		t.Errorf("err = %v, want the setting named", err)
	}
}

func TestDoctorTriesTheImageTheBotWouldUse(t *testing.T) {
	t.Setenv("ONESHOT_SANDBOX_IMAGE", "oneshot-test/absent:1")
	err := run([]string{"doctor"}, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "oneshot-test/absent:1") {
		t.Errorf("err = %v, want the image of ONESHOT_SANDBOX_IMAGE tried", err)
	}
}

// A misspelt variable leaves its default in force: the commands run on
// this machine say so, as serve does.
func TestLocalCommandsWarnOfVariablesThatAreNoSetting(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // doctor stops at git, after reading the settings
	t.Setenv("ONESHOT_AGENT_SECRET", "ANTHROPIC_API_KEY")
	want := "warning: ONESHOT_AGENT_SECRET is set, but is no setting of oneshot's, so it changes nothing; did you mean ONESHOT_AGENT_SECRETS?\n"
	for _, args := range [][]string{{"doctor"}, {"run", "--repo-dir", t.TempDir(), "--task", "fix it"}} {
		if stderr := stderrOf(t, func() { _ = run(args, new(bytes.Buffer)) }); !strings.Contains(stderr, want) {
			t.Errorf("%s wrote %q on stderr, want %q in it", args[0], stderr, want)
		}
	}
}

// stderrOf is what f wrote to os.Stderr, read as it writes, so that
// more than a pipe holds does not stop it.
func stderrOf(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	read := make(chan []byte)
	go func() {
		written, _ := io.ReadAll(r)
		read <- written
	}()
	saved := os.Stderr
	os.Stderr = w
	func() {
		defer func() { os.Stderr = saved; w.Close() }()
		f()
	}()
	return string(<-read)
}

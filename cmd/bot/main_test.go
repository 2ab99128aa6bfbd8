package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

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

func TestVersionRefusesArguments(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"version", "--json"}, &out); err == nil || !strings.Contains(err.Error(), "no arguments") || out.Len() != 0 {
		t.Fatalf("err %v, printed %q", err, out.String())
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

func TestDoctorSaysWhenGitIsMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := run([]string{"doctor"}, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "install git") {
		t.Errorf("err = %v, want git named as missing", err)
	}
}

func TestDoctorTriesTheImageTheBotWouldUse(t *testing.T) {
	t.Setenv("ONESHOT_SANDBOX_IMAGE", "oneshot-test/absent:1")
	err := run([]string{"doctor"}, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "oneshot-test/absent:1") {
		t.Errorf("err = %v, want the image of ONESHOT_SANDBOX_IMAGE tried", err)
	}
}

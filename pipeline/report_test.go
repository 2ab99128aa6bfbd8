package pipeline

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/tasks"
)

// TestACommandWithBackticksIsShownWhole: a check such as
// test -z "`gofmt -l .`" is common, and single backticks around it would
// end the code span at its first backtick.
func TestACommandWithBackticksIsShownWhole(t *testing.T) {
	rep := Report{Checks: []CheckResult{{Name: "fmt", Command: "test -z \"`gofmt -l .`\" | cat", Passed: true}}}
	want := "| fmt | ``test -z \"`gofmt -l .`\" \\| cat`` | ✅ passed |"
	if table := rep.ChecksTable(); !strings.Contains(table, want) {
		t.Fatalf("table\n%s\nwant a row starting %s", table, want)
	}
}

// Refusals past the listed hosts are not lost without a word.
func TestTheBlockedListSaysHowManyRefusalsItDoesNotList(t *testing.T) {
	rep := Report{Blocked: []sandbox.Refusal{{Host: "exfil.example:443", Reason: "host is not on the allow-list", Count: 1}}, Unlisted: 7}
	list := rep.BlockedList()
	if !strings.Contains(list, "- `exfil.example:443`: host is not on the allow-list\n") ||
		!strings.Contains(list, "- and 7 more refused requests to other hosts, not listed\n") {
		t.Fatalf("list:\n%s", list)
	}
	rep.Unlisted = 0
	if strings.Contains(rep.BlockedList(), "more refused") {
		t.Fatalf("list:\n%s\nwant nothing said of unlisted hosts when there are none", rep.BlockedList())
	}
}

// Checks may be long scripts: the pull request lists every one, and
// GitHub refuses a description over 65,536 characters, after the checks
// passed. A command is shown by its first line, cut.
func TestLongCheckScriptsStillFitThePullRequestsDescription(t *testing.T) {
	script := "set -e\n" + strings.Repeat("echo checking one more thing in this long script\n", 60)
	var checks []CheckResult
	for i := range 40 {
		checks = append(checks, CheckResult{Name: fmt.Sprintf("check-%d", i), Command: script, Passed: true})
	}
	r := &run{p: &Pipeline{}, task: &tasks.Task{Issue: 7, Requester: "octocat"}, cfg: config.DefaultRepo(), report: Report{Checks: checks}}
	body := r.pullRequestBody()
	if n := utf8.RuneCountInString(body); n > 65536 || !strings.Contains(body, "| check-39 | `set -e …` | ✅ passed |") {
		t.Fatalf("a description of %d characters:\n%.600s", n, body)
	}
	long := strings.Repeat("x", 500)
	if got := commandSpan(long); got != "`"+strings.Repeat("x", maxShownCommand)+" …`" {
		t.Errorf("a one-line command of 500 characters is shown as %q", got)
	}
}

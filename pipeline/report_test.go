package pipeline

import (
	"strings"
	"testing"

	"github.com/oneshot-dev/oneshot/sandbox"
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

package pipeline

import (
	"strings"
	"testing"
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

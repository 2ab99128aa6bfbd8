package pipeline

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/oneshot-dev/oneshot/tasks"
)

// The end reads as words, and says where the change went once.
func TestTheConsoleSaysTheEndInWordsAndOnce(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	c := NewConsole(&out, false)
	c.Finish(context.Background(), Report{Final: &Outcome{State: tasks.TimedOut, Reason: "the time limit of 1m (bot run --timeout) ran out during verify"}})
	if !strings.Contains(out.String(), "\ntimed out: the time limit") {
		t.Errorf("printed:\n%s", out.String())
	}
	out.Reset()
	c.Finish(context.Background(), Report{Published: Published{URL: "branch oneshot/task-1, patch /tmp/p.patch"},
		Final: &Outcome{State: tasks.Succeeded, Reason: "Made branch oneshot/task-1, patch /tmp/p.patch"}})
	if n := strings.Count(out.String(), "branch oneshot/task-1"); n != 1 {
		t.Errorf("the branch is named %d times:\n%s", n, out.String())
	}
}

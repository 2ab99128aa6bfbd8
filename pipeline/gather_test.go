package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/contextgather"
	"github.com/oneshot-dev/oneshot/tasks"
)

// TestWhatMaintainersSayPastALongIssueStillRanksTheFiles gives an issue
// whose body is a long pasted log, near what GitHub allows, that names
// one file, and a maintainer who names another: the file the maintainer
// names is shown, whether in the trigger's instructions or in a comment.
func TestWhatMaintainersSayPastALongIssueStillRanksTheFiles(t *testing.T) {
	t.Parallel()
	files := fstest.MapFS{
		"app/views.py":   {Data: []byte("def render_page(request):\n    return template(request)\n")},
		"app/billing.py": {Data: []byte("def compute_invoice_total(items):\n    return sum(i.price for i in items)\n")},
	}
	body := "The page renders badly.\n\n```\n" + strings.Repeat("GET /page 200 render_page ok\n", 2000) + "```"
	const pointer = "the real bug is in compute_invoice_total in app/billing.py"
	for _, tc := range []struct {
		name   string
		change func(*contextgather.Material)
	}{
		{"in the instructions", func(m *contextgather.Material) { m.Instructions = pointer }},
		{"in a comment", func(m *contextgather.Material) {
			m.Comments = []contextgather.Comment{{Author: "maint", Body: pointer}}
		}},
	} {
		m := contextgather.Material{Repo: "acme/shop", Requester: "maint",
			Issue: contextgather.Item{Number: 1, Title: "Page renders badly", Body: body, Author: "someone"}}
		tc.change(&m)
		prompt, err := Prompt(t.Context(), m, files, config.Repo{}, "oneshot/issue-1", 32_000)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(prompt, "### app/billing.py") {
			t.Errorf("%s: the file the maintainer names is not shown:\n%.3000s", tc.name, prompt)
		}
	}
}

// gatherForge gathers as its function says; nothing else of it is reached.
type gatherForge struct {
	Forge
	gather func(ctx context.Context) (contextgather.Material, error)
}

func (f gatherForge) Gather(ctx context.Context, _ *tasks.Task, _ fs.FS) (contextgather.Material, error) {
	return f.gather(ctx)
}

func gatheringRun(gather func(ctx context.Context) (contextgather.Material, error)) *run {
	return &run{p: &Pipeline{Forge: gatherForge{gather: gather}}, task: &tasks.Task{Issue: 1, Requester: "writer"},
		report: Report{Steps: []Step{{Name: "setup"}, {Name: "gather"}}}, current: 1}
}

// The gather step's work runs beside setup, on a goroutine of its own,
// where a panic would end the bot: it is passed on where the gather step
// runs, which shows the attempt's end.
func TestAPanicWhileGatheringIsPassedOnByTheGatherStep(t *testing.T) {
	t.Parallel()
	r := gatheringRun(func(context.Context) (contextgather.Material, error) { panic("reading the issue broke") })
	r.startGathering(t.Context())
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		_ = r.gather(t.Context())
	}()
	if s, _ := recovered.(string); !strings.Contains(s, "gathering the context panicked: reading the issue broke") {
		t.Fatalf("the gather step passed on %#v", recovered)
	}
}

func TestAnIssueEditedSinceItWasAskedForEndsTheAttemptSayingSo(t *testing.T) {
	t.Parallel()
	r := gatheringRun(func(context.Context) (contextgather.Material, error) {
		return contextgather.Material{}, fmt.Errorf("issue #1: %w", contextgather.ErrEditedSinceAsked)
	})
	r.startGathering(t.Context())
	var stop *stopError
	if err := r.gather(t.Context()); !errors.As(err, &stop) || stop.outcome.State != tasks.Failed ||
		stop.outcome.Reason != "the issue was edited after the work was asked for" || !strings.Contains(stop.outcome.Details, "/oneshot retry") ||
		// The task's requester may not be who asked for this attempt.
		strings.Contains(stop.outcome.Details, "@writer") {
		t.Fatalf("gather returned %v", err)
	}
}

// An attempt that ends before its gather step, its setup failing say,
// ends the gathering too, which may be waiting on a GitHub that stalls.
func TestAnAttemptEndedInSetupStopsTheGathering(t *testing.T) {
	t.Parallel()
	stopped := make(chan error, 1)
	r := gatheringRun(func(ctx context.Context) (contextgather.Material, error) {
		<-ctx.Done()
		stopped <- ctx.Err()
		return contextgather.Material{}, ctx.Err()
	})
	r.startGathering(t.Context())
	cleansUp(t, r)
	if err := <-stopped; !errors.Is(err, context.Canceled) {
		t.Fatalf("the gathering saw %v", err)
	}
}

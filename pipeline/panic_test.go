package pipeline_test

import (
	"context"
	"strings"
	"testing"

	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/tasks"
)

func TestAPanicInAStepIsShownAsTheEndAndPassedOn(t *testing.T) {
	reporter := &finalReporter{}
	p := &pipeline.Pipeline{
		Forge:    panickingForge{},
		Reporter: func(*tasks.Task) pipeline.Reporter { return reporter },
	}
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		_, _, _ = p.Run(context.Background(), &tasks.Task{ID: "t1", Repo: "o/r", Issue: 1, Attempt: 1})
	}()
	if recovered != "checkout broke" {
		t.Fatalf("recovered %v, want the step's own panic passed on", recovered)
	}
	final := reporter.final
	if final == nil {
		t.Fatal("the reporter was not told the attempt ended")
	}
	if f := final.Final; f == nil || f.State != tasks.Failed || !strings.Contains(f.Reason, "internal error") ||
		!strings.Contains(f.Reason, "setup") || strings.Contains(f.Reason, "checkout broke") {
		t.Fatalf("final outcome %+v", final.Final)
	}
	if s := final.Steps[0]; s.Name != "setup" || s.State != pipeline.StepFailed {
		t.Fatalf("first step %+v, want setup failed", s)
	}
}

// panickingForge panics where the first step starts; nothing else of it
// is reached.
type panickingForge struct{ pipeline.Forge }

func (panickingForge) Checkout(context.Context, *tasks.Task) (*pipeline.Checkout, error) {
	panic("checkout broke")
}

// finalReporter keeps the report it finished with.
type finalReporter struct{ final *pipeline.Report }

func (r *finalReporter) Update(pipeline.Report) {}
func (r *finalReporter) Log(sandbox.Event)      {}

func (r *finalReporter) Finish(_ context.Context, rep pipeline.Report) { r.final = &rep }

package pipeline

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/oneshot-dev/oneshot/sandbox"
)

// Console reports to a terminal: each step as it starts and ends, and the
// steps' output as it comes. bot run uses it.
type Console struct {
	mu     sync.Mutex
	w      io.Writer
	shown  map[string]StepState
	output bool // stream the steps' output too
}

// NewConsole reports to w; with output, the steps' output is shown too.
func NewConsole(w io.Writer, output bool) *Console {
	return &Console{w: w, shown: map[string]StepState{}, output: output}
}

// Update prints the steps whose state changed.
func (c *Console) Update(r Report) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range r.Steps {
		if c.shown[s.Name] == s.State || s.State == StepPending {
			continue
		}
		c.shown[s.Name] = s.State
		line := fmt.Sprintf("==> %s: %s", s.Name, s.State)
		if s.State != StepRunning && s.Duration > 0 {
			line += fmt.Sprintf(" in %s", s.Duration.Round(1e8))
		}
		if s.Note != "" {
			line += " (" + s.Note + ")"
		}
		fmt.Fprintln(c.w, line)
	}
}

// Log prints a step's output.
func (c *Console) Log(e sandbox.Event) {
	if !c.output {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w.Write(e.Data)
}

// Finish prints the outcome and the checks.
func (c *Console) Finish(_ context.Context, r Report) {
	c.Update(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(r.Checks) > 0 {
		fmt.Fprintln(c.w)
		for _, ch := range r.Checks {
			result := "passed"
			if !ch.Passed {
				result = fmt.Sprintf("failed (exit %d)", ch.ExitCode)
			}
			fmt.Fprintf(c.w, "    %-12s %s: %s\n", ch.Name, ch.Command, result)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(c.w, "note:", n)
	}
	for _, p := range r.LeftOut {
		fmt.Fprintf(c.w, "note: left out %q, a git repository made inside the checkout\n", p)
	}
	if r.LeftOutMore > 0 {
		fmt.Fprintf(c.w, "note: left out %d more git repositories made inside the checkout, not listed\n", r.LeftOutMore)
	}
	for _, x := range r.Blocked {
		// Quoted: the sandbox chose the name.
		fmt.Fprintf(c.w, "note: the network filter refused %q: %s\n", x.Host, x.Reason)
	}
	if r.Unlisted > 0 {
		fmt.Fprintf(c.w, "note: the network filter refused %d more requests to other hosts, not listed\n", r.Unlisted)
	}
	if r.Final != nil {
		fmt.Fprintf(c.w, "\n%s: %s\n", r.Final.State.Words(), r.Final.Reason)
		if r.Final.Details != "" {
			fmt.Fprintln(c.w, r.Final.Details)
		}
		if r.Published.URL != "" && !strings.Contains(r.Final.Reason, r.Published.URL) {
			fmt.Fprintln(c.w, r.Published.URL)
		}
	}
}

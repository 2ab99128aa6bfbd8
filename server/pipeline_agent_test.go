package server_test

import (
	"strings"
	"testing"
)

func TestNothingTheAgentLeftRunningOutlivesItsRound(t *testing.T) {
	t.Parallel()
	// An agent that leaves a process behind, which could change the code
	// after the checks passed; a check that fails while it runs.
	agent := "setsid sleep 1020 > /dev/null 2>&1 &\n" + goodAgent
	config := strings.Replace(testConfig(0), "    run: go test ./...\n", `    run: go test ./...
  - name: alone
    run: "! ps -eo args= | grep -q '^sleep 1020'"
`, 1)
	b := pipelineBundle(t, agent, config)
	if run := b.runTask(t); run.Conclusion != "success" {
		t.Fatalf("check run concluded %q: %s\n%s", run.Conclusion, run.Output.Summary, run.Output.Text)
	}
}

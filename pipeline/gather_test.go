package pipeline

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/contextgather"
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

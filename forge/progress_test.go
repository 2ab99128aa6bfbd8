package forge

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/tasks"
)

func TestLimitKeepsWideCharactersWithinGitHubsByteLimit(t *testing.T) {
	for _, text := range []string{
		strings.Repeat("✅ passed\n", 10_000), // three bytes a mark
		strings.Repeat("x", maxOutput+1),
		strings.Repeat("é", maxOutput),
	} {
		got := limit(text, maxOutput)
		if len(got) > maxOutput || !utf8.ValidString(got) || !strings.HasSuffix(got, "[... cut ...]") {
			t.Errorf("cut to %d bytes, valid %v, ends %q", len(got), utf8.ValidString(got), got[max(0, len(got)-20):])
		}
	}
	if short := "✅ passed"; limit(short, maxOutput) != short {
		t.Error("a short text was changed")
	}
}

func TestTheFinalCommentAdvisesTheConfiguredCommand(t *testing.T) {
	for _, state := range []tasks.State{tasks.Failed, tasks.Cancelled, tasks.TimedOut} {
		rep := pipeline.Report{Final: &pipeline.Outcome{State: state, Reason: "it stopped"}}
		if got := finalComment(rep, "/bot"); !strings.Contains(got, "`/bot retry`") {
			t.Errorf("%s: final comment %q does not advise /bot retry", state, got)
		}
	}
}

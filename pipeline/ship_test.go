package pipeline

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/tasks"
	"github.com/oneshot-dev/oneshot/workspace"
)

func TestALongTitleIsCutBetweenCharacters(t *testing.T) {
	t.Parallel()
	task := &tasks.Task{Issue: 7, Requester: "writer"}
	// 70 characters of two bytes each: a cut at byte 61 would split the
	// 31st.
	long := strings.Repeat("é", 70)
	subject, _, _ := strings.Cut(commitMessage(task, long, ""), "\n")
	if !utf8.ValidString(subject) || subject != strings.Repeat("é", 61)+"... (#7)" {
		t.Errorf("subject %q", subject)
	}
	// 64 characters fit, however many bytes they take.
	fits := strings.Repeat("日", 64)
	if subject, _, _ := strings.Cut(commitMessage(task, fits, ""), "\n"); subject != fits+" (#7)" {
		t.Errorf("subject %q", subject)
	}
}

func TestALongCommandIsShownCutBetweenCharacters(t *testing.T) {
	t.Parallel()
	line := firstLine("cat " + strings.Repeat("ü", 100) + "\nexit 1")
	if !utf8.ValidString(line) || line != "cat "+strings.Repeat("ü", 73)+"..." {
		t.Errorf("line %q", line)
	}
}

func TestAnIssuesTitleCannotCloseAnotherIssue(t *testing.T) {
	t.Parallel()
	task := &tasks.Task{Issue: 7, Requester: "writer"}
	title := "Crash, closes #42 and https://github.com/acme/widgets/issues/43 or gh-44"
	subject, _, _ := strings.Cut(commitMessage(task, title, ""), "\n")
	if subject != "Crash, closes \uFF0342 and (link) or gh\uFF0D44 (#7)" {
		t.Errorf("subject %q", subject)
	}
	r := &run{p: &Pipeline{}, task: task, title: title}
	if body := r.pullRequestBody(); strings.Contains(body, "42") || strings.Contains(body, "43") || strings.Contains(body, "gh-") || !strings.HasPrefix(body, "Fixes #7\n") {
		t.Errorf("body:\n%s", body)
	}
}

func TestAFileTooLargeToReviewIsNamedWithTheCredentialItsNameHoldsMasked(t *testing.T) {
	t.Parallel()
	const token = "ghp_R3aLk3yW1thEntr0pyAbCdEfGhIjKlMnOp12"
	err := tooLargeToReview(fmt.Errorf("dump/%s.bin is over 100 MB: %w", token, workspace.ErrTooLarge))
	var stop *stopError
	if !errors.As(err, &stop) {
		t.Fatalf("%v, want a refusal", err)
	}
	if d := stop.outcome.Details; strings.Contains(d, token) || !strings.Contains(d, "dump/***.bin is over 100 MB") {
		t.Errorf("details %q", d)
	}
}

// The agent may make any number of repositories inside the checkout: the
// first few are named, masked, and the rest counted, not each masked and
// kept, and copied with every report.
func TestOnlyTheFirstRepositoriesLeftOutAreNamed(t *testing.T) {
	t.Parallel()
	r := &run{}
	for i := range maxLeftOut + 5 {
		if err := r.leaveOut(fmt.Sprintf("vendor/clone-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	list := r.report.LeftOutList()
	if len(r.report.LeftOut) != maxLeftOut || r.report.LeftOutMore != 5 || !strings.Contains(list, "- and 5 more\n") {
		t.Fatalf("%d named, %d more; list:\n%s", len(r.report.LeftOut), r.report.LeftOutMore, list)
	}
}

// A long name is cut for the list after it was masked: a byte that is no
// character, which kept the masking from seeing the secret it splits,
// stays apart from it rather than join the secret's halves.
func TestALongRepositoryNameLeftOutCannotJoinASecretWhenCut(t *testing.T) {
	t.Parallel()
	const secret = "sk-live-Q7mZp2Lx9WvR4tKc8HbN"
	mask := sandbox.Masking(map[string]string{"AGENT_KEY": secret})
	r := &run{mask: mask}
	if err := r.leaveOut(mask("vendor/" + secret[:10] + "\xff" + secret[10:] + "/" + strings.Repeat("x", 250))); err != nil {
		t.Fatal(err)
	}
	if list := r.shown().Summary(); strings.Contains(list, secret) || !strings.Contains(list, "vendor/sk-live-Q7\uFFFDmZp") {
		t.Fatalf("the summary shows the name as:\n%s", list)
	}
}

package handlers

import (
	"testing"

	"github.com/oneshot-dev/oneshot/tasks"
)

func TestParseCommand(t *testing.T) {
	cases := []struct {
		body         string
		ok           bool
		command      tasks.Command
		instructions string
	}{
		{"/oneshot", true, tasks.CommandStart, ""},
		{"/oneshot fix this", true, tasks.CommandStart, "fix this"},
		{"  \n/oneshot fix this\r\nand keep the API\n", true, tasks.CommandStart, "fix this\nand keep the API"},
		{"/ONESHOT Cancel", true, tasks.CommandCancel, ""},
		{"/oneshot retry", true, tasks.CommandRetry, ""},
		{"/oneshot help", true, tasks.CommandHelp, ""},
		{"/oneshot cancel\nthis was wrong", true, tasks.CommandCancel, "this was wrong"},
		{"/oneshot cancel, this was wrong", true, tasks.CommandCancel, "this was wrong"},
		{"/oneshot cancel the timeout change", true, tasks.CommandCancel, "the timeout change"},
		{"/oneshot retry\nbut with tests", true, tasks.CommandRetry, "but with tests"},
		{"/oneshot retry: the runner was down", true, tasks.CommandRetry, "the runner was down"},
		{"/oneshot Help me", true, tasks.CommandHelp, "me"},
		{"/oneshot helpful errors please", true, tasks.CommandStart, "helpful errors please"},
		{"/oneshot make cancel idempotent", true, tasks.CommandStart, "make cancel idempotent"},
		{"/oneshot fix\x00 it", true, tasks.CommandStart, "fix it"},
		// A question or markup around the word does not make it a task.
		{"/oneshot help?", true, tasks.CommandHelp, ""},
		{"/oneshot cancel?", true, tasks.CommandCancel, ""},
		{"/oneshot `cancel`", true, tasks.CommandCancel, ""},
		{"/oneshot **retry**", true, tasks.CommandRetry, ""},
		{"/oneshot (cancel)", true, tasks.CommandCancel, ""},
		// Nor does a dash or a colon before it on the command's line;
		// before other words, it stays in the instructions, and on a
		// line of its own it starts a list of them.
		{"/oneshot — cancel", true, tasks.CommandCancel, ""},
		{"/oneshot : retry, the runner was down", true, tasks.CommandRetry, "the runner was down"},
		{"/oneshot - fix the - bug", true, tasks.CommandStart, "- fix the - bug"},
		{"/oneshot —", true, tasks.CommandStart, "—"},
		{"/oneshot\n- retry failed webhook deliveries\n- log them", true, tasks.CommandStart, "- retry failed webhook deliveries\n- log them"},
		{"/oneshot\n* cancel the subscription on expiry", true, tasks.CommandStart, "* cancel the subscription on expiry"},
		{"/oneshot * help text for the CLI", true, tasks.CommandStart, "* help text for the CLI"},
		{"/oneshot - [ ] help text for the CLI", true, tasks.CommandStart, "- [ ] help text for the CLI"},
		{"/oneshot -> cancel", true, tasks.CommandCancel, ""},
		{"/oneshot → cancel", true, tasks.CommandCancel, ""},
		{"/oneshot ⇒ cancel, it is wrong", true, tasks.CommandCancel, "it is wrong"},
		{"/oneshot ➜ retry", true, tasks.CommandRetry, ""},
		{"/oneshot ⟶ help", true, tasks.CommandHelp, ""},
		{"/oneshot → fix the → bug", true, tasks.CommandStart, "→ fix the → bug"},
		{"/oneshot — — cancel, wrong issue", true, tasks.CommandCancel, "wrong issue"},
		{"/oneshot … retry", true, tasks.CommandRetry, ""},
		// A leading no-break space is space, not part of the instructions.
		{"\u00a0/oneshot fix the bug", true, tasks.CommandStart, "fix the bug"},
		// Code that opens the instructions keeps its indent.
		{"/oneshot\n\n    <?php\n    echo 1;\n\nfix the echo\n", true, tasks.CommandStart, "    <?php\n    echo 1;\n\nfix the echo"},
		// The next word decides on the next line too.
		{"/oneshot\ncancel", true, tasks.CommandCancel, ""},
		{"/oneshot\n\nRetry, the runner was down", true, tasks.CommandRetry, "the runner was down"},
		{"/oneshot\nfix the retry loop", true, tasks.CommandStart, "fix the retry loop"},
		// An invisible character pasted after the word is no instruction.
		{"/oneshot cancel\u200b", true, tasks.CommandCancel, ""},
		// Indented four columns, it is a code block: an example, not a command.
		{"    /oneshot cancel\n\nis how you stop it", false, "", ""},
		{"\n\t/oneshot retry", false, "", ""},
		{"  \t/oneshot retry", false, "", ""},
		{"   /oneshot fix it", true, tasks.CommandStart, "fix it"},
		{"/oneshotx fix", false, "", ""},
		{"please /oneshot fix", false, "", ""},
		{"", false, "", ""},
	}
	for _, tc := range cases {
		got, ok := ParseCommand(tc.body, "/oneshot")
		if ok != tc.ok || got.Command != tc.command || got.Instructions != tc.instructions {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %s %q, %v", tc.body, got, ok, tc.command, tc.instructions, tc.ok)
		}
	}
}

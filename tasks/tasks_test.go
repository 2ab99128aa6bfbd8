package tasks

import "testing"

func TestAStartOnIDNamesItsIssueAndDigestAndNothingElse(t *testing.T) {
	digest := DigestOf("Fix it", "The parser crashes.")
	for _, tc := range []struct {
		id     string
		issue  int
		digest string
		ok     bool
	}{
		{StartOnID(7, digest), 7, digest, true},
		{StartOnID(7, ""), 7, "", true},
		{"start-on-issue-07", 0, "", false},
		{"start-on-issue-7-" + digest[:10], 0, "", false},
		{"start-on-issue-", 0, "", false},
		{"t0123456789abcdef", 0, "", false},
	} {
		issue, digest, ok := StartOnIssue(tc.id)
		if issue != tc.issue || digest != tc.digest || ok != tc.ok {
			t.Errorf("StartOnIssue(%q) = %d, %q, %v", tc.id, issue, digest, ok)
		}
	}
}

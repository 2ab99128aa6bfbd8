package githubapi

import "testing"

func TestATaskPageIsLinkedUnderThePublicURLWithOrWithoutItsSlash(t *testing.T) {
	for _, public := range []string{"https://oneshot.example.com", "https://oneshot.example.com/"} {
		if got := TaskURL(public, "t1"); got != "https://oneshot.example.com/tasks/t1" {
			t.Errorf("TaskURL(%q) = %q", public, got)
		}
	}
	if got := TaskURL("https://example.com/oneshot/", "t1"); got != "https://example.com/oneshot/tasks/t1" {
		t.Errorf("under a path: %q", got)
	}
}

package contextgather

import (
	"slices"
	"strings"
	"testing"
)

func TestFindRefs(t *testing.T) {
	t.Parallel()
	const web = "https://github.example.com"
	for _, tc := range []struct {
		name  string
		texts []string
		want  []int
	}{
		{"short", []string{"Fixes #12, see (#3) and #4."}, []int{12, 3, 4}},
		{"gh prefix", []string{"Like GH-7 and gh-8."}, []int{7, 8}},
		{"same repository by name", []string{"acme/widgets#5 and ACME/Widgets#6"}, []int{5, 6}},
		{"other repositories", []string{"other/widgets#5, acme/gadgets#6, acme/widgets.old#7"}, nil},
		{"addresses", []string{"https://github.example.com/acme/widgets/issues/9 and http://github.example.com/acme/widgets/pull/10#discussion_r1"}, []int{9, 10}},
		{"other hosts and repositories", []string{"https://github.com/acme/widgets/issues/9 https://github.example.com/other/widgets/issues/10"}, nil},
		{"not references", []string{"issue#3, &#39;, a/b/#4, v1.2#5, #6abc, C#7, https://example.com/page#8"}, nil},
		{"inside other addresses", []string{"https://other.example/search?q=#5, https://other.example/?r=acme/widgets#14, then #6"}, []int{6}},
		{"beside an address in a table", []string{"| run | issue |\n|---|---|\n|https://ci.example/run/1|#5|"}, []int{5}},
		{"code", []string{"```\n#0 0x4005 in main\n```\nand `#3` but #4"}, []int{4}},
		{"self and repeats", []string{"#1 #2 #2", "#2 #3"}, []int{2, 3}},
		{"order across texts", []string{"#9", "#3 https://github.example.com/acme/widgets/issues/2"}, []int{9, 3, 2}},
		{"at most a handful", []string{"#2 #3 #4 #5 #6 #7 #8"}, []int{2, 3, 4, 5, 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := findRefs(web, "acme", "widgets", 1, tc.texts...); !slices.Equal(got, tc.want) {
				t.Errorf("findRefs(%q) = %v, want %v", tc.texts, got, tc.want)
			}
		})
	}
	if got := findRefs("", "acme", "widgets", 1, "https://github.com/acme/widgets/issues/2 #3"); !slices.Equal(got, []int{3}) {
		t.Errorf("without a web address: %v, want [3]", got)
	}
}

func TestDistinctiveWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		title string
		want  []string
	}{
		{"Parser crashes on unicode filenames", []string{"crashes", "unicode", "filenames"}},
		{"Fix the bug", nil},
		{"repo:other/secret is:pr label:x", []string{"other", "secret", "label"}},
		{"Crash: config \"quoted\" (again)", []string{"crash", "config", "quoted"}},
		{"Ошибка при разборе конфигурации", []string{"ошибка", "разборе", "конфигурации"}},
		{"crash crash CRASH", []string{"crash"}},
	} {
		if got := distinctiveWords(tc.title, 3); !slices.Equal(got, tc.want) {
			t.Errorf("distinctiveWords(%q) = %q, want %q", tc.title, got, tc.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	if got := oneLine("a\nb\t c", 10); got != "a b c" {
		t.Errorf("oneLine = %q", got)
	}
	if got := oneLine("ééé", 3); got != "ééé" {
		t.Errorf("oneLine of a line that fits = %q", got)
	}
	if got := oneLine("éééé", 3); got != "éé…" {
		t.Errorf("oneLine cut = %q", got)
	}
	// Counted in characters, as GitHub counts a title's.
	if title := strings.Repeat("修复", 120); oneLine(title, maxTitle) != title {
		t.Errorf("a title of 240 characters was cut")
	}
}

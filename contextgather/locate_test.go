package contextgather

import (
	"slices"
	"testing"
	"testing/fstest"
)

// repo is a small Python project with the usual neighbours of the code:
// tests, docs, a vendored library.
func repo() fstest.MapFS {
	return fstest.MapFS{
		"pkg/__init__.py":                    {Data: []byte("from .sessions import Session\nfrom .models import Request\n")},
		"pkg/sessions.py":                    {Data: []byte("class Session:\n    def send(self, request):\n        return self.adapter.send(request)\n\n    def merge_environment_settings(self, url, proxies):\n        return proxies\n")},
		"pkg/models.py":                      {Data: []byte("class Request:\n    def prepare_body(self, data):\n        if data is None:\n            raise ValueError('Invalid body: data must not be None')\n")},
		"pkg/adapters.py":                    {Data: []byte("from .packages.urllib3.exceptions import ProtocolError\n\nclass HTTPAdapter:\n    def send(self, request, timeout=None):\n        pass\n")},
		"pkg/packages/urllib3/exceptions.py": {Data: []byte("class DecodeError(Exception):\n    pass\n\nclass ProtocolError(Exception):\n    pass\n")},
		"pkg/cli.py":                         {Data: []byte("def add_options(parser):\n    parser.add_argument('--collect-only', action='store_true')\n")},
		"tests/test_sessions.py":             {Data: []byte("from pkg.sessions import Session\n\ndef test_merge_environment_settings():\n    Session().merge_environment_settings('u', {})\n")},
		"docs/conf.py":                       {Data: []byte("project = 'pkg'\n")},
		"README.md":                          {Data: []byte("Session merge_environment_settings everywhere\n")},
	}
}

func TestLocate(t *testing.T) {
	cases := []struct {
		name, issue, want string
	}{
		{"a stack trace names the file", "Crash on send\n\n```\nTraceback (most recent call last):\n  File \"/usr/lib/python3/site-packages/pkg/models.py\", line 4, in prepare_body\nValueError\n```", "pkg/models.py"},
		{"a symbol the issue names is defined there", "Session.merge_environment_settings ignores proxies\n\nWhen I call `merge_environment_settings` the proxies are lost.", "pkg/sessions.py"},
		{"an error message quoted from the code", "Odd error\n\nI get: ValueError: Invalid body: data must not be None, even with data.", "pkg/models.py"},
		{"a command-line flag, written as code", "Shortcut wanted\n\nI type `--collect-only` all day.", "pkg/cli.py"},
		{"title words that name a path", "HTTPAdapter send times out\n\nadapters are slow.", "pkg/adapters.py"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ranked, err := Locate(repo(), tc.issue)
			if err != nil {
				t.Fatal(err)
			}
			if ranked[0].Path != tc.want {
				t.Fatalf("first is %s, want %s; ranking %v", ranked[0].Path, tc.want, paths(ranked))
			}
		})
	}
}

func TestTestsDocsAndVendoredCodeRankBelowTheCodeTheyMention(t *testing.T) {
	ranked, err := Locate(repo(), "merge_environment_settings and DecodeError\n\n`merge_environment_settings` drops proxies when urllib3 raises DecodeError.")
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, r := range ranked {
		pos[r.Path] = i
	}
	if pos["pkg/sessions.py"] > pos["tests/test_sessions.py"] {
		t.Errorf("a test outranks the code it tests: %v", paths(ranked))
	}
	if _, ok := pos["README.md"]; ok {
		t.Errorf("a non-source file was ranked")
	}
}

func TestLocateIgnoresPastedEnvironments(t *testing.T) {
	issue := "Session send hangs\n\n```\n$ pip list\nPackage    Version\nadapters   1.0\nmodels     2.3.1\n```\n"
	ranked, err := Locate(repo(), issue)
	if err != nil {
		t.Fatal(err)
	}
	if ranked[0].Path != "pkg/sessions.py" {
		t.Fatalf("ranking %v", paths(ranked))
	}
}

func TestSplitIdentifier(t *testing.T) {
	cases := map[string]string{
		"merge_environment_settings": "merge environment settings",
		"HTTPAdapter":                "HTTP Adapter",
		"junitxml":                   "junitxml",
		"a.b.CamelCase":              "a b Camel Case",
	}
	for in, want := range cases {
		got := ""
		for i, p := range splitIdentifier(in) {
			if i > 0 {
				got += " "
			}
			got += p
		}
		if got != want {
			t.Errorf("splitIdentifier(%q) = %q, want %q", in, got, want)
		}
	}
}

func paths(r []Ranked) []string {
	var out []string
	for _, x := range r {
		out = append(out, x.Path)
	}
	return out
}

// TestAnUnclosedCommentInCodeHidesNothing pins that an issue's text is
// read as Sanitize leaves it: "<!--" inside code is code, not the start
// of a comment that would swallow the rest of the issue.
func TestAnUnclosedCommentInCodeHidesNothing(t *testing.T) {
	issue := Sanitize("Session drops proxies\n\n<!-- Describe the bug. -->\n" +
		"The page I fetch starts with\n\n```html\n<!-- generated\n<html>\n```\n\n" +
		"and `merge_environment_settings` in pkg/sessions.py then loses them.\n")
	c := readClues(issue)
	if !c.identifiers["merge_environment_settings"] {
		t.Errorf("identifiers %v lack merge_environment_settings", c.identifiers)
	}
	if !slices.Contains(c.paths, "pkg/sessions.py") {
		t.Errorf("paths %v lack pkg/sessions.py", c.paths)
	}
	if c.words["describe"] != 0 {
		t.Errorf("the template's comment was read")
	}
}

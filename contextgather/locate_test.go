package contextgather

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
)

// repo is a small Python project with the usual neighbours of the code:
// tests, docs, a vendored library. For each TestLocate case about a
// signal other than the words, some other file shares more of the case's
// words than the file it wants, so only that signal puts the file first.
func repo() fstest.MapFS {
	return fstest.MapFS{
		"pkg/__init__.py": {Data: []byte("from .sessions import Session\nfrom .models import Request\n")},
		"pkg/sessions.py": {Data: []byte("class Session:\n    def send(self, request):\n        # A request may time out.\n        return self.adapter.send(request)\n\n" +
			"    def merge_environment_settings(self, url, proxies):\n        return proxies\n\n" +
			"    def resolve_redirects(self, resp):\n        return resp.headers['location']\n")},
		"pkg/api.py": {Data: []byte("from . import sessions\n\ndef request(method, url, proxies=None):\n" +
			"    with sessions.Session() as session:\n        proxies = proxies or {}\n" +
			"        settings = session.merge_environment_settings(url, proxies)\n        return session.send(method, url, proxies=proxies, **settings)\n")},
		"pkg/models.py": {Data: []byte("class Request:\n    def prepare_body(self, data):\n        if data is None:\n" +
			"            raise ValueError('Invalid body: data must not be None')\n")},
		"pkg/body.py": {Data: []byte("def encode_body(body, data):\n    \"\"\"Encode the body from data, an invalid body when data is none.\"\"\"\n" +
			"    return body.encode(data)\n")},
		"pkg/utils.py": {Data: []byte("def super_len(o):\n    return len(o)\n")},
		"pkg/adapters.py": {Data: []byte("from .packages.urllib3.exceptions import DecodeError, ProtocolError\n\nclass HTTPAdapter:\n" +
			"    def send(self, request, timeout=None):\n        try:\n            return self.conn.urlopen(request, timeout=timeout)\n" +
			"        except (DecodeError, ProtocolError) as e:\n            raise ConnectionError(e)\n")},
		"pkg/packages/urllib3/exceptions.py": {Data: []byte("class DecodeError(Exception):\n    pass\n\nclass ProtocolError(Exception):\n    pass\n")},
		"pkg/cli.py":                         {Data: []byte("def add_options(parser):\n    # Long options have a shortcut.\n    parser.add_argument('--collect-only', action='store_true')\n")},
		"pkg/shortcuts.py":                   {Data: []byte("# Shortcuts: what users type all day, shorter.\nSHORTCUTS = {}\n\ndef shortcut(name):\n    \"\"\"The shortcut for name: a shortcut is one letter.\"\"\"\n    return SHORTCUTS[name]\n")},
		"tests/test_sessions.py": {Data: []byte("from pkg.sessions import Session\n\ndef test_merge_environment_settings():\n" +
			"    Session().merge_environment_settings('u', {})\n")},
		"pkg/numeric.py": {Data: []byte(numeric())},
		"pkg/show.py":    {Data: []byte(show())},
		"docs/conf.py":   {Data: []byte("project = 'pkg'\n")},
		"README.md":      {Data: []byte("Session merge_environment_settings everywhere\n")},
	}
}

// numeric is a large file, one function of which rounds: many other
// functions around it, each of a few words nobody asks about.
func numeric() string {
	var b strings.Builder
	for i := range 150 {
		fmt.Fprintf(&b, "def step_%d(alpha, beta):\n    return alpha * beta - %d\n\n", i, i)
	}
	b.WriteString("def round_value(value):\n    # Rounding: a value halfway between two integers rounds half to even,\n" +
		"    # so halfway values round to the even integer.\n    return value\n\n")
	for i := range 150 {
		fmt.Fprintf(&b, "def step_%d(gamma, delta):\n    return gamma / delta + %d\n\n", 100+i, i)
	}
	return b.String()
}

// show is a file of middling length that mentions rounding once.
func show() string {
	var b strings.Builder
	b.WriteString("def show(value):\n    # Rounding is the caller's.\n    return str(value)\n\n")
	for i := range 15 {
		fmt.Fprintf(&b, "def show_%d(epsilon, zeta):\n    return epsilon %% zeta\n\n", i)
	}
	return b.String()
}

// TestLocate checks each signal on a case it alone decides: with its
// weight at zero, another file comes first.
func TestLocate(t *testing.T) {
	cases := []struct {
		name  string
		off   func(*weights) // turns the case's signal off
		issue string
		want  string
	}{
		{"a stack trace names the file", func(w *weights) { w.frames = 0 },
			"Crash on upload\n\n```\nTraceback (most recent call last):\n" +
				"  File \"/usr/lib/python3/site-packages/pkg/utils.py\", line 2, in <module>\nTypeError\n```\nThe body of the upload is lost.",
			"pkg/utils.py"},
		{"a link to the file on GitHub", func(w *weights) { w.frames = 0 },
			"Crash on upload\n\nIt fails [here](https://github.com/acme/pkg/blob/main/pkg/utils.py#L2). The body of the upload is lost.",
			"pkg/utils.py"},
		{"a symbol the issue names is defined there", func(w *weights) { w.defs = 0 },
			"Session.merge_environment_settings ignores proxies\n\nWhen I call `merge_environment_settings` the proxies are lost.",
			"pkg/sessions.py"},
		{"an error message quoted from the code", func(w *weights) { w.msgs = 0 },
			"Odd error with a body\n\n```\nValueError: Invalid body: data must not be None\n```\nThe body has data.",
			"pkg/models.py"},
		{"a message in a linter's or builder's diagnostic line", func(w *weights) { w.msgs = 0 },
			"The docs build warns\n\n```\ndocs/upload.rst:4: WARNING: Invalid body: data must not be None\n```\nThe body has data.",
			"pkg/models.py"},
		{"a command-line flag, written as code", func(w *weights) { w.lits = 0 },
			"Shortcut wanted\n\nI type `--collect-only` all day.",
			"pkg/cli.py"},
		{"title words that name a path", func(w *weights) { w.paths = 0 },
			"Adapters hang\n\nA request never returns when the server is slow.",
			"pkg/adapters.py"},
		{"the issue's words in one part of a large file", func(w *weights) { w.passages = 0 },
			"Rounding halfway values\n\nA value halfway between two integers should round half to even.",
			"pkg/numeric.py"},
		{"the issue's words", func(w *weights) { w.text, w.passages = 0, 0 },
			"Redirects are not followed\n\nThe location header of a redirect is ignored.",
			"pkg/sessions.py"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if ranked := locateWith(t, tc.issue, signalWeights); len(ranked) == 0 || ranked[0].Path != tc.want {
				t.Errorf("first is %s, want %s; ranking %v", ranked[0].Path, tc.want, paths(ranked))
			}
			without := signalWeights
			tc.off(&without)
			if ranked := locateWith(t, tc.issue, without); len(ranked) > 0 && ranked[0].Path == tc.want {
				t.Errorf("%s is first without the signal too: the case does not test it", tc.want)
			}
		})
	}
}

func locateWith(t *testing.T, issue string, w weights) []Ranked {
	t.Helper()
	ranked, err := locate(t.Context(), repo(), issue, w)
	if err != nil {
		t.Fatal(err)
	}
	return ranked
}

// TestTestsAndVendoredCodeRankBelowTheCodeTheyConcern checks the priors:
// a failing test or a vendored library's name points at the code, not at
// the test or the copy, though those match the issue best.
func TestTestsAndVendoredCodeRankBelowTheCodeTheyConcern(t *testing.T) {
	cases := []struct {
		name, issue, code, notCode string
	}{
		{"a test", "test_merge_environment_settings fails\n\n" +
			"`merge_environment_settings` returns the proxies unchanged, so test_merge_environment_settings fails.",
			"pkg/sessions.py", "tests/test_sessions.py"},
		{"vendored code", "DecodeError escapes\n\nurllib3 raises `DecodeError` and `ProtocolError`, which reach the caller.",
			"pkg/adapters.py", "pkg/packages/urllib3/exceptions.py"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ranked, err := Locate(t.Context(), repo(), tc.issue)
			if err != nil {
				t.Fatal(err)
			}
			pos := map[string]int{}
			for i, r := range ranked {
				pos[r.Path] = i
			}
			if pos[tc.code] > pos[tc.notCode] {
				t.Errorf("%s outranks %s: %v", tc.notCode, tc.code, paths(ranked))
			}
			if _, ok := pos["README.md"]; ok {
				t.Errorf("a non-source file was ranked")
			}
		})
	}
}

func TestFilesNothingPointsAtAreLeftOut(t *testing.T) {
	ranked, err := Locate(t.Context(), repo(), "Zzqx frobnicates\n\nwubwub plorp")
	if err != nil || len(ranked) != 0 {
		t.Fatalf("ranked %v (err %v) for an issue nothing matches", paths(ranked), err)
	}
	ranked, err = Locate(t.Context(), repo(), "Adapters hang")
	if err != nil || len(ranked) == 0 || len(ranked) == len(repo())-1 {
		t.Fatalf("ranked %v (err %v); want some files, not every source file", paths(ranked), err)
	}
	for _, r := range ranked {
		if r.Score <= 0 {
			t.Errorf("%s is ranked with score %v", r.Path, r.Score)
		}
	}
}

// Source files of the languages whose names are less common are ranked
// too: a Perl module, C++ sources named the other way, F#, PowerShell, a
// Kotlin script, Groovy (whose stack frames the JVM's pattern reads).
func TestSourceFilesOfLessCommonExtensionsAreRanked(t *testing.T) {
	for _, name := range []string{"lib/Parser.pm", "bin/parse.pl", "src/parser.cxx", "src/parser.hh", "src/Parser.fs",
		"tools/Parse.ps1", "parse.gradle.kts", "src/Parser.groovy"} {
		fsys := fstest.MapFS{name: {Data: []byte("parse the input\n")}, "README.md": {Data: []byte("parse crashes\n")}}
		ranked, err := Locate(t.Context(), fsys, "parse crashes in "+path.Base(name))
		if err != nil || !slices.Equal(paths(ranked), []string{name}) {
			t.Errorf("ranked %v (err %v); want %s", paths(ranked), err, name)
		}
		if some, err := HasSourceFiles(t.Context(), fsys); !some || err != nil {
			t.Errorf("%s: HasSourceFiles says %v (err %v)", name, some, err)
		}
	}
	docs := fstest.MapFS{"README.md": {Data: []byte("parse crashes\n")}, "vendor/parse.go": {Data: []byte("package parse\n")}}
	if some, err := HasSourceFiles(t.Context(), docs); some || err != nil {
		t.Errorf("a checkout of docs and vendored code: HasSourceFiles says %v (err %v)", some, err)
	}
}

// TestOnlyRegularFilesAreRead checks a checkout on disk: a link's size is
// not its target's, so a link could bring in a file past maxFileSize, and
// opening a named pipe would wait for ever.
func TestOnlyRegularFilesAreRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("pkg/adapters.py", "def adapters_hang():\n    pass\n")
	write("data/adapters.txt", "adapters hang "+strings.Repeat("adapters ", maxFileSize))
	if err := os.Symlink("../data/adapters.txt", filepath.Join(dir, "pkg/adapters_big.py")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pkg/adapters_pipe.py"), 0o644); err != nil {
		t.Fatal(err)
	}
	ranked, err := Locate(t.Context(), os.DirFS(dir), "Adapters hang")
	if err != nil || !slices.Equal(paths(ranked), []string{"pkg/adapters.py"}) {
		t.Fatalf("ranked %v (err %v); want the regular file only", paths(ranked), err)
	}
}

func TestLocateStopsWhenItsContextIsDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ranked, err := Locate(ctx, repo(), "Session.merge_environment_settings ignores proxies")
	if !errors.Is(err, context.Canceled) || ranked != nil {
		t.Fatalf("ranked %v, err %v; want context.Canceled", paths(ranked), err)
	}
}

// TestALongIssueIsReadOnlyInPart checks what bounds a long issue's cost:
// a message or a literal past maxIssueBytes, or past maxNeedles others,
// is not searched for.
func TestALongIssueIsReadOnlyInPart(t *testing.T) {
	const message, flag = "\nValueError: Invalid body: data must not be None\n", "\nI type `--collect-only`.\n"
	var quoted, flags strings.Builder
	for i := range maxNeedles {
		fmt.Fprintf(&quoted, "'some quoted text %d'\n", i)
		fmt.Fprintf(&flags, "`--some-flag-%d`\n", i)
	}
	msgs, lits := weights{msgs: 1}, weights{lits: 1}
	for _, tc := range []struct {
		name, issue string
		w           weights
		file        string
		searched    bool
	}{
		{"a message near the start", "Odd error\n" + message, msgs, "pkg/models.py", true},
		{"a message past the bytes read", "Odd error\n" + strings.Repeat("zzz ", maxIssueBytes/4) + message, msgs, "pkg/models.py", false},
		{"a message past the needles searched", "Odd error\n" + quoted.String() + message, msgs, "pkg/models.py", false},
		{"a flag near the start", "Shortcut wanted\n" + flag, lits, "pkg/cli.py", true},
		{"a flag past the needles searched", "Shortcut wanted\n" + flags.String() + flag, lits, "pkg/cli.py", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range locateWith(t, tc.issue, tc.w) {
				if r.Path == tc.file && (r.Score > 0) != tc.searched {
					t.Errorf("%s scores %v", r.Path, r.Score)
				}
			}
		})
	}
}

// TestWhatPeopleSaidSharesWhatLocateReads gives a task a long body and a
// long comment beside short texts: the title is the first line, the short
// texts are whole, the long ones share the rest evenly, each keeping its
// start, and all of it is read.
func TestWhatPeopleSaidSharesWhatLocateReads(t *testing.T) {
	log := strings.Repeat("GET /page 200 ok\n", 4000)
	m := Material{Issue: Item{Title: "Page renders badly", Body: "The body's start.\n" + log},
		Instructions: "it's in app/billing.py",
		Comments:     []Comment{{Body: "The comment's start.\n" + log}, {Body: "Short and whole."}}}
	said := m.Said()
	if len(said) > maxIssueBytes || len(said) < maxIssueBytes-8 {
		t.Errorf("%d bytes, want about %d", len(said), maxIssueBytes)
	}
	const short = "Page renders badly\nit's in app/billing.py\n"
	comment, body, ok := strings.Cut(strings.TrimPrefix(said, short), "\nShort and whole.\n")
	if !strings.HasPrefix(said, short) || !ok || !strings.HasPrefix(comment, "The comment's start.\n") || !strings.HasPrefix(body, "The body's start.\n") {
		t.Fatalf("the texts are not in order, or a start is missing:\n%.300s", said)
	}
	if d := len(comment) - len(body); d < -1 || d > 1 {
		t.Errorf("the comment keeps %d bytes and the body %d: not an even share", len(comment), len(body))
	}
}

func TestIsVendored(t *testing.T) {
	for p, want := range map[string]bool{
		"requests/packages/urllib3/response.py": true,
		"pip/_vendor/rich/console.py":           true,
		"packages/core/src/index.ts":            false, // a monorepo's own packages
		"requests/models.py":                    false,
	} {
		if got := isVendored(p); got != want {
			t.Errorf("isVendored(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestLocateIgnoresPastedEnvironments(t *testing.T) {
	issue := "Session.send hangs\n\n```\n$ pip list\nPackage    Version\nadapters   1.0\nmodels     2.3.1\nbody       0.4\n```\n"
	for _, pasted := range []string{"package", "adapters", "models", "body"} {
		if n := readClues(issue).words[pasted]; n != 0 {
			t.Errorf("the pasted %q counts %v", pasted, n)
		}
	}
	ranked, err := Locate(t.Context(), repo(), issue)
	if err != nil {
		t.Fatal(err)
	}
	if ranked[0].Path != "pkg/sessions.py" {
		t.Fatalf("ranking %v", paths(ranked))
	}
}

// TestLocateIgnoresAPastedShowVersions checks that a pasted report of
// versions is dropped whole, its lines about the machine too, while a code
// block with a few lines that look like versions is kept.
func TestLocateIgnoresAPastedShowVersions(t *testing.T) {
	versions := "```\ncommit: None\npython: 3.8.3 (default, Jul  2 2020, 11:26:31)\n[Clang 10.0.0 ]\nOS: Darwin\n" +
		"machine: x86_64\nprocessor: i386\nbyteorder: little\nLANG: en_US.UTF-8\nnumpy: 1.18.5\nscipy: None\n" +
		"libhdf5: 1.10.6\nlibnetcdf: None\n\nxarray: 0.16.0\npandas: 1.0.5\nh5py: 2.10.0\nzarr: None\ndask: 2.20.0\n" +
		"setuptools: 49.2.0.post20200714\n```\n"
	code := "```python\nsession = Session()\nretries 3\nsession.send(request)\nprocessor = make_processor()\n" +
		"session.close()\n```\n"
	issue := "Session.send hangs\n\n" + code + "\n<details><summary>Output of show_versions()</summary>\n\n" + versions + "</details>\n"
	c := readClues(issue)
	for _, pasted := range []string{"darwin", "machine", "byteorder", "clang", "numpy"} {
		if n := c.words[pasted]; n != 0 {
			t.Errorf("the pasted %q counts %v", pasted, n)
		}
	}
	for _, kept := range []string{"processor", "session", "close"} {
		if c.words[kept] == 0 {
			t.Errorf("%q of the code block was dropped", kept)
		}
	}
	// Output whose lines start like versions, but go on, is kept.
	for _, output := range []string{
		"lint.py:5:0: R0903: Too few public methods\nlint.py:9:4: W0612: Unused variable 'a'\nlint.py:12:0: C0115: Missing class docstring\n" +
			"lint.py:20:8: W0104: Statement seems to have no effect\nlint.py:31:0: E1101: Instance has no member\n",
		"2023-05-01 10:00:00,123 ERROR session.client: retry\n2023-05-01 10:00:01,456 ERROR session.client: retry\n" +
			"2023-05-01 10:00:02,789 ERROR session.client: retry\n2023-05-01 10:00:03,012 ERROR session.client: retry\n" +
			"2023-05-01 10:00:04,345 ERROR session.client: gave up\n",
		"test_send  10.1  12.0  11.0\ntest_recv  3.2  3.9  3.5\ntest_close  0.1  0.2  0.1\ntest_open  1.0  1.1  1.0\ntest_retry  9.0  9.9  9.5\n",
	} {
		c := readClues("Output\n\n```\n" + output + "```\n")
		if c.words["session"]+c.words["lint"]+c.words["send"] == 0 {
			t.Errorf("the block was dropped: %q", output)
		}
	}
	fsys := repo()
	fsys["pkg/versions.py"] = &fstest.MapFile{Data: []byte("import platform\n\ndef show_versions():\n" +
		"    print('OS:', platform.system(), 'machine:', platform.machine(), 'processor:', platform.processor())\n" +
		"    print('byteorder:', sys.byteorder, 'LANG:', os.environ.get('LANG'), 'commit: None')\n")}
	ranked, err := Locate(t.Context(), fsys, issue)
	if err != nil {
		t.Fatal(err)
	}
	if ranked[0].Path != "pkg/sessions.py" {
		t.Fatalf("ranking %v", paths(ranked))
	}
}

func TestADiagnosticsMessageIsSearchedForButNotAnExceptionsName(t *testing.T) {
	c := readClues("Tests fail\n\n```\ntest_upload.py:14: AssertionError\n" +
		"pkg/a.py:1:0: F0010: error while code parsing: Unable to load file pkg/a.py\n```\n")
	want := []string{"error while code parsing: Unable to load file pkg/a.py"}
	if !slices.Equal(c.messages, want) {
		t.Errorf("messages %q, want %q", c.messages, want)
	}
}

func TestSplitIdentifier(t *testing.T) {
	cases := map[string]string{
		"merge_environment_settings": "merge environment settings",
		"HTTPAdapter":                "HTTP Adapter",
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

func TestHitsAreTheLinesThatUseTheIssuesIdentifiers(t *testing.T) {
	t.Parallel()
	content := []byte("package x\n\nfunc parse_args() {\n\treturn ParseArgs(os.Args)\n}\n// parse_args_more is another\nvar last = parse_args")
	got := hits(content, map[string]bool{"parse_args": true, "ParseArgs": true, "missing": true})
	if want := []int{3, 4, 7}; !slices.Equal(got, want) {
		t.Fatalf("hits = %v, want %v", got, want)
	}
}

func TestATitleShapedLikeAPastedVersionStillCounts(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"lib/colorbar.py":   {Data: []byte("def colorbar(mappable):\n    return Colorbar(mappable)\n")},
		"lib/projection.py": {Data: []byte("def projection(name):\n    return registry[name]\n")},
		"lib/legend.py":     {Data: []byte("def legend(handles):\n    return Legend(handles)\n")},
	}
	// "Colorbar 3d projection" is a name, a version-like word and a word,
	// as "numpy 1.2 (conda)" is in a pasted environment.
	ranked, err := Locate(t.Context(), fsys, "Colorbar 3d projection\n\nIt is drawn in the wrong place.")
	if err != nil || !slices.Contains(paths(ranked), "lib/projection.py") {
		t.Fatalf("ranked %v (err %v); the title names projection", paths(ranked), err)
	}
}

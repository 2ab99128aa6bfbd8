package contextgather

import (
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The patterns the scanners stand for: what they must find, match for match.
var (
	identifierPattern = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*`)
	definitionPattern = regexp.MustCompile(`(?m)^[ \t]*(?:export\s+)?(?:async\s+)?(?:pub(?:\([a-z]+\))?\s+)?(?:def|class|func|function|fn|type|struct|interface|enum|trait|module|object)\s+(?:\([^)\n]*\)\s*)?([A-Za-z_][A-Za-z0-9_]*)`)
)

// trickyInputs are where a scanner could part from its pattern: dots,
// digits, bytes past ASCII, keywords that are prefixes of words or of each
// other, definitions spread over lines, and prefixes that do not lead to a
// definition.
var trickyInputs = []string{
	"", "a", "_", "9", "a9", "9a", "a.b.c", "a..b", "a.", ".a", "a.9", "a.b9.c_", "x.y.", "1.5e3", "0x1F",
	"é", "aéb", "\xff\xfeabc", "x\xc3", "a.\u00e9", "日本a語", "a\x00b",
	"def foo():", "  def foo", "\tclass Foo(Base):", "def\nfoo", "def  \n\n  foo", "def\nclass Foo",
	"async def f", "export async function f", "export default function f", "export\ndef foo",
	"pub fn f", "pub(crate) fn f", "pub(crate)fn f", "pub (crate) fn f", "pub(in crate) fn f", "pub(Crate) fn f", "pub\n(crate) fn f",
	"pub() fn f", "pubfn f", "pub", "export", "async",
	"func (r *T) Name()", "func (r T)Name", "func (r T) (", "func (unclosed\nfoo", "func ()x", "func (a) (b) c",
	"function f", "functions f", "func\tf", "fn\ff", "fn\vf", "type T struct", "typeof x", "def def x", "def 9x", "def _x9",
	"class\r\nFoo", "  export  class  Foo", "# def foo", "x = 1; def foo", "def foo(): pass\ndef bar(): pass",
	"struct\n\nenum E", "module", "def", "def ", "def (", "def (x", "def ()", "def () x", "object O", "interface I",
	"trait T", "enum E", "\ndef a\n\ndef b\n", "\r\ndef a", "\vdef a", " \t def\t\ta", "def a\n", "class",
	"def f\n  def g\ndef h", "def (\n) \n x\ndef y", "async async def f", "export export def f", "\n\n\n",
}

func TestScannersFindWhatThePatternsFind(t *testing.T) {
	for _, in := range trickyInputs {
		compareScanners(t, "", []byte(in))
	}
}

func FuzzScanners(f *testing.F) {
	for _, in := range trickyInputs {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) { compareScanners(t, "", data) })
}

// TestScannersOnACheckout compares the scanners with their patterns on
// every source file under $LOCATE_SCAN_DIR, a checkout of a real project:
//
//	git --git-dir /work/.mirror/sympy+sympy/repo archive HEAD | tar -x -C /tmp/sympy
//	LOCATE_SCAN_DIR=/tmp/sympy go test ./contextgather -run OnACheckout
func TestScannersOnACheckout(t *testing.T) {
	dir := os.Getenv("LOCATE_SCAN_DIR")
	if dir == "" {
		t.Skip("LOCATE_SCAN_DIR is not set")
	}
	fsys := os.DirFS(dir)
	files := 0
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !sourceExt[strings.ToLower(path.Ext(p))] {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files++
		compareScanners(t, p, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d files agree", files)
}

func compareScanners(t *testing.T, name string, data []byte) {
	t.Helper()
	var toks, names []string
	eachIdentifier(data, func(tok []byte) { toks = append(toks, string(tok)) })
	eachDefinition(data, func(n []byte) { names = append(names, string(n)) })
	if want := identifierPattern.FindAllString(string(data), -1); !slices.Equal(toks, want) {
		t.Errorf("%s %q: identifiers %q, the pattern finds %q", name, clip(data), toks, want)
	}
	var want []string
	for _, m := range definitionPattern.FindAllSubmatch(data, -1) {
		want = append(want, string(m[1]))
	}
	if !slices.Equal(names, want) {
		t.Errorf("%s %q: definitions %q, the pattern finds %q", name, clip(data), names, want)
	}
}

func clip(data []byte) []byte {
	if len(data) > 200 {
		return data[:200]
	}
	return data
}

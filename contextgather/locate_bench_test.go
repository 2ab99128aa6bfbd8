package contextgather

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

// generatedProject is a Python project of some megabytes: modules of
// classes and functions named from a small vocabulary, as a real
// project's names repeat, with tests and docs beside them. The same
// seed gives the same project.
func generatedProject(modules int) fstest.MapFS {
	words := strings.Fields(`request session adapter model body header cookie proxy url timeout retry
		stream chunk encode decode parse config option plugin hook fixture node item report capture
		terminal path cache lock queue worker token scope frame trace symbol matrix integral series`)
	r := rand.New(rand.NewPCG(1, 2))
	word := func() string { return words[r.IntN(len(words))] }
	snake := func() string { return word() + "_" + word() }
	camel := func() string {
		a, b := word(), word()
		return strings.ToUpper(a[:1]) + a[1:] + strings.ToUpper(b[:1]) + b[1:]
	}
	fsys := fstest.MapFS{}
	for i := range modules {
		var b strings.Builder
		fmt.Fprintf(&b, "\"\"\"The %s of a %s.\"\"\"\n\nimport %s.%s\n\n", word(), word(), word(), word())
		for range 30 {
			fmt.Fprintf(&b, "class %s(%s):\n    \"\"\"A %s %s for the %s.\"\"\"\n\n", camel(), camel(), word(), word(), word())
			for range 4 {
				fmt.Fprintf(&b, "    def %s(self, %s, %s=None):\n", snake(), word(), snake())
				fmt.Fprintf(&b, "        # Retry the %s when the %s is slow.\n", word(), word())
				fmt.Fprintf(&b, "        value = self.%s.%s(%s, %d)\n", word(), snake(), word(), r.IntN(1000))
				fmt.Fprintf(&b, "        if value is None:\n            raise ValueError('%s %s: %s')\n", word(), word(), word())
				fmt.Fprintf(&b, "        return value.%s()\n\n", snake())
			}
		}
		dir := fmt.Sprintf("pkg/%s", words[i%len(words)])
		switch i % 10 {
		case 8:
			dir = "tests"
		case 9:
			dir = "docs/examples"
		}
		fsys[fmt.Sprintf("%s/module_%d.py", dir, i)] = &fstest.MapFile{Data: []byte(b.String())}
	}
	return fsys
}

// BenchmarkLocate ranks a generated project of about 5 MB for an issue
// that uses every signal; its MB/s is the locator's speed on a checkout.
func BenchmarkLocate(b *testing.B) {
	fsys := generatedProject(150)
	size := 0
	for _, f := range fsys {
		size += len(f.Data)
	}
	issue := "Session timeout is ignored by ProxyAdapter.retry_stream\n\n" +
		"When I call `retry_stream` with `--chunk-size` set, the `ProxyAdapter` drops the timeout:\n\n" +
		"```\nTraceback (most recent call last):\n  File \"pkg/chunk/module_12.py\", line 40, in retry_stream\n" +
		"ValueError: cookie session: header\n```\n"
	b.SetBytes(int64(size))
	for b.Loop() {
		if _, err := Locate(b.Context(), fsys, issue); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLocateCheckout ranks a real project, a checkout at
// $LOCATE_BENCH_DIR, for an issue of sympy's kind:
//
//	git --git-dir /work/.mirror/sympy+sympy/repo archive HEAD | tar -x -C /tmp/sympy
//	LOCATE_BENCH_DIR=/tmp/sympy go test -run '^$' -bench Checkout ./contextgather
func BenchmarkLocateCheckout(b *testing.B) {
	dir := os.Getenv("LOCATE_BENCH_DIR")
	if dir == "" {
		b.Skip("LOCATE_BENCH_DIR is not set")
	}
	issue := "simplify(cos(x)**I) raises Invalid comparison of complex I\n\n" +
		"```\n>>> from sympy import *\n>>> x = Symbol('x')\n>>> print(simplify(cos(x)**I))\n" +
		"Traceback (most recent call last):\n  File \"/home/e/se/sympy/simplify/fu.py\", line 504, in _f\n" +
		"    if (rv.exp < 0) == True:\n  File \"/home/e/se/sympy/core/expr.py\", line 406, in __lt__\n" +
		"    raise TypeError(\"Invalid comparison of complex %s\" % me)\nTypeError: Invalid comparison of complex I\n```\n" +
		"`TR6` and `_TR56` in `sympy.simplify.fu` compare the exponent with `rv.exp < 0`.\n"
	for b.Loop() {
		if _, err := Locate(b.Context(), os.DirFS(dir), issue); err != nil {
			b.Fatal(err)
		}
	}
}

package contextgather

import (
	"math"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// blockRepo is a project where the issue's words are in the block matrix
// and in a printer, and the module the block matrix imports, where the
// fix lands, has fewer of them than an unrelated file.
func blockRepo() fstest.MapFS {
	return fstest.MapFS{
		"mat/blocks.py": {Data: []byte("from .zeros import (\n    ZeroBlock,\n    is_zero,\n)\n\n" +
			"class BlockMatrix:\n    def multiply(self, other):\n        \"\"\"Multiply block by block; a zero block stays a zero block.\"\"\"\n" +
			"        return [[a * b for a, b in zip(row, other)] for row in self.blocks]\n")},
		"mat/printer.py": {Data: []byte("from mat.blocks import BlockMatrix\n\ndef print_blocks(matrix):\n    \"\"\"Print a block matrix, block by block.\"\"\"\n    return str(matrix.blocks)\n")},
		"mat/zeros.py":   {Data: []byte("class ZeroBlock:\n    \"\"\"A zero block.\"\"\"\n    shape = (0, 0)\n\ndef is_zero(x):\n    return x == 0\n")},
		"mat/plot.py":    {Data: []byte("def plot(matrix):\n    \"\"\"Plot a matrix: its blocks, a zero one too.\"\"\"\n    return matrix.scale * 2\n")},
	}
}

func TestAModuleTheBestMatchImportsRisesToTheFirstFew(t *testing.T) {
	issue := "Multiplying a BlockMatrix with zero blocks fails\n\nblock by block multiply of a block matrix loses the zero block."
	rank := func(w weights) []Ranked {
		ranked, err := locate(t.Context(), blockRepo(), issue, w)
		if err != nil {
			t.Fatal(err)
		}
		return ranked
	}
	with := rank(signalWeights)
	got := paths(with)
	if got[0] != "mat/blocks.py" || slices.Index(got, "mat/zeros.py") > slices.Index(got, "mat/plot.py") {
		t.Errorf("ranking %v: want mat/blocks.py first and mat/zeros.py, which it imports, before mat/plot.py", got)
	}
	weightsWithout := signalWeights
	weightsWithout.imports = 0
	without := rank(weightsWithout)
	if got := paths(without); slices.Index(got, "mat/zeros.py") < slices.Index(got, "mat/plot.py") {
		t.Errorf("mat/zeros.py comes before mat/plot.py without following imports too: the case does not test it; %v", got)
	}
	// The printer, second best, imports the block matrix: the best gains
	// nothing from that.
	if with[0].Score != without[0].Score {
		t.Errorf("the best match's score went from %v to %v", without[0].Score, with[0].Score)
	}
}

func TestAddImported(t *testing.T) {
	docs := []*doc{
		{path: "p/a.py", prior: 1, content: []byte("from .c import x\nfrom p.c import y\nimport p.b\nfrom . import helpers\n")},
		{path: "p/b.py", prior: 1, content: []byte("from .a import run\n")},
		{path: "p/c.py", prior: 1},
		{path: "p/__init__.py", prior: 0.7},
		{path: "p/d.py", prior: 1},
	}
	scores := []float64{4, 2, 1, 0.5, 1.1}
	addImported(docs, scores, 0.05)
	// a and b are the best: neither gains from the other. c, imported
	// twice, gains once; the package (from . import helpers) by its prior.
	want := []float64{4, 2, 1 + 0.05*4, 0.5 + 0.05*4*0.7, 1.1}
	for i, d := range docs {
		if math.Abs(scores[i]-want[i]) > 1e-12 {
			t.Errorf("%s scores %v, want %v", d.path, scores[i], want[i])
		}
	}
}

func TestBestOfBreaksTiesByPath(t *testing.T) {
	docs := []*doc{{path: "z.py"}, {path: "b.py"}, {path: "a.py"}, {path: "c.py"}}
	if got := bestOf([]float64{1, 1, 1, 2}, docs, 2); !slices.Equal(got, []int{3, 2}) {
		t.Errorf("best %v, want c.py then a.py ([3 2])", got)
	}
}

func TestPythonImports(t *testing.T) {
	src := strings.Join([]string{
		"import os, numpy as np  # used to import json, a.b",
		"import a.b.c as abc",
		"from . import sibling",
		"from .local import thing as other, *",
		"from ..up import (",
		"    first,  # a comment, with: commas",
		"    second,",
		")",
		"from ...too.far import x",
		"from abs.mod import name",
		"def f():",
		"    from .lazy import late",
		"\timport tabbed; import after.semicolon",
		"# from the docs: import nothing",
		"x = 1  # import not.this",
	}, "\n")
	got := pythonImports("pkg/sub/file.py", []byte(src))
	want := []string{
		"os", "numpy", "a.b.c",
		"pkg.sub", "pkg.sub.sibling",
		"pkg.sub.local", "pkg.sub.local.thing",
		"pkg.up", "pkg.up.first", "pkg.up.second",
		"abs.mod", "abs.mod.name",
		"pkg.sub.lazy", "pkg.sub.lazy.late",
		"tabbed", "after.semicolon",
	}
	if !slices.Equal(got, want) {
		t.Errorf("imports\n got %q\nwant %q", got, want)
	}
}

// TestAnUnclosedImportListReadsToTheEnd checks that a parenthesis never
// closed (a broken file) takes the rest of the file as names, once.
func TestAnUnclosedImportListReadsToTheEnd(t *testing.T) {
	src := "from a import (\n" + strings.Repeat("x,\n", 100_000) + "import b\n"
	got := pythonImports("f.py", []byte(src))
	if len(got) != 100_002 || got[0] != "a" || got[len(got)-1] != "a.import" {
		t.Errorf("%d imports, first %q, last %q", len(got), got[0], got[len(got)-1])
	}
}

func TestModuleIndex(t *testing.T) {
	docs := []*doc{{path: "src/tool/core.py"}, {path: "tool/__init__.py"}, {path: "pkg/a.py"}, {path: "pkg/a.go"}}
	modules := moduleIndex(docs)
	for name, want := range map[string]int{"src.tool.core": 0, "tool.core": 0, "tool": 1, "pkg.a": 2} {
		if got, ok := modules[name]; !ok || got != want {
			t.Errorf("%s is %d (%v), want %d", name, got, ok, want)
		}
	}
	if len(modules) != 4 {
		t.Errorf("modules %v: a Go file has no Python module name", modules)
	}
}

package contextgather

import (
	"path"
	"strings"
)

// An issue describes what its reporter called, and the best matches are
// often that surface; the fix is as often in a module the surface calls
// (a block matrix misbehaves because of the zero matrix it is built
// from). So the files the best matches import gain a small share of
// their score: enough to lift a fair match into the first few, seldom
// enough to pass the best. Only Python imports are read: they name
// modules by path, and the measured issues are Python's.

// importers is how many of the best matches have their imports followed.
const importers = 2

// addImported raises the scores (final, one a doc) of the files the best
// matches import: each gains share of each importer's score, weighed by
// its own prior, as its other signals are, so a re-exporting __init__.py
// or a test gains less than code. The best matches gain nothing from each
// other; a file they both import may still pass them.
func addImported(docs []*doc, scores []float64, share float64) {
	best := bestOf(scores, docs, importers)
	if len(best) == 0 || share == 0 {
		return
	}
	modules := moduleIndex(docs)
	isBest := map[int]bool{}
	for _, i := range best {
		isBest[i] = true
	}
	for _, i := range best {
		if scores[i] <= 0 || path.Ext(docs[i].path) != ".py" {
			continue
		}
		seen := map[int]bool{} // a module imported twice gains once
		for _, m := range pythonImports(docs[i].path, docs[i].content) {
			if j, ok := modules[m]; ok && !isBest[j] && !seen[j] {
				seen[j] = true
				scores[j] += share * scores[i] * docs[j].prior // j is not among the best, so no importer's score changes
			}
		}
	}
}

// bestOf returns the indexes of the n highest scores, ties broken by path
// as the ranking breaks them.
func bestOf(scores []float64, docs []*doc, n int) []int {
	better := func(i, j int) bool {
		return scores[i] > scores[j] || scores[i] == scores[j] && docs[i].path < docs[j].path
	}
	var best []int
	for i := range scores {
		best = append(best, i)
		for k := len(best) - 1; k > 0 && better(best[k], best[k-1]); k-- {
			best[k], best[k-1] = best[k-1], best[k]
		}
		best = best[:min(len(best), n)]
	}
	return best
}

// moduleIndex maps the dotted name of each Python file's module to the
// file: a/b.py and a/b/__init__.py are a.b. A file under src/ or lib/ is
// also found without that first part, as the layouts that keep packages
// there import it.
func moduleIndex(docs []*doc) map[string]int {
	modules := map[string]int{}
	for i, d := range docs {
		if path.Ext(d.path) != ".py" {
			continue
		}
		name := strings.TrimSuffix(strings.TrimSuffix(d.path, ".py"), "/__init__")
		name = strings.ReplaceAll(name, "/", ".")
		modules[name] = i
		for _, root := range []string{"src.", "lib."} {
			if rest, ok := strings.CutPrefix(name, root); ok {
				if _, taken := modules[rest]; !taken {
					modules[rest] = i
				}
			}
		}
	}
	return modules
}

// pythonImports returns the dotted names of the modules a Python file
// imports, relative imports made absolute; from a.b import c gives both
// a.b and a.b.c, since c may be a module. Imports inside functions count:
// large projects import there to break cycles. It reads lines, not
// Python: an import written in a string counts too, which costs little.
func pythonImports(file string, content []byte) []string {
	pkg := strings.Split(path.Dir(file), "/")
	if pkg[0] == "." {
		pkg = nil
	}
	var out []string
	lines := strings.Split(string(content), "\n")
	for k := 0; k < len(lines); k++ {
		for _, stmt := range strings.Split(withoutComment(lines[k]), ";") {
			words := strings.Fields(stmt)
			if len(words) < 2 {
				continue
			}
			rest := strings.TrimPrefix(strings.TrimSpace(stmt), words[0])
			switch words[0] {
			case "import":
				for _, name := range strings.Split(rest, ",") {
					if fields := strings.Fields(name); len(fields) > 0 {
						out = append(out, fields[0])
					}
				}
			case "from":
				module, names, ok := strings.Cut(rest, " import ")
				if !ok {
					continue
				}
				if module = absoluteModule(strings.TrimSpace(module), pkg); module == "" {
					continue
				}
				out = append(out, module)
				// from a import (b,\n c): the names run to the line
				// that closes the parenthesis.
				if strings.HasPrefix(strings.TrimSpace(names), "(") && !strings.Contains(names, ")") {
					more := []string{names}
					for k+1 < len(lines) {
						k++
						line := withoutComment(lines[k])
						more = append(more, line)
						if strings.Contains(line, ")") {
							break
						}
					}
					names = strings.Join(more, " ")
				}
				names = strings.NewReplacer("(", " ", ")", " ").Replace(names)
				for _, name := range strings.Split(names, ",") {
					if fields := strings.Fields(name); len(fields) > 0 && fields[0] != "*" {
						out = append(out, module+"."+fields[0])
					}
				}
			}
		}
	}
	return out
}

func withoutComment(line string) string {
	code, _, _ := strings.Cut(line, "#")
	return code
}

// absoluteModule makes a relative module name (.x, ..x, .) absolute,
// given the importing file's package as path parts; "" when it climbs
// above the checkout.
func absoluteModule(module string, pkg []string) string {
	rest := strings.TrimLeft(module, ".")
	dots := len(module) - len(rest)
	if dots == 0 {
		return module
	}
	if dots-1 >= len(pkg) {
		return "" // the checkout's root is no package
	}
	parts := append(append([]string{}, pkg[:len(pkg)-(dots-1)]...), rest)
	return strings.Trim(strings.Join(parts, "."), ".")
}

package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// DetectRepo is the configuration of a repository without a
// .github/oneshot.yml: DefaultRepo, with setup and verify commands guessed
// from the files at its root (files is the commit a task starts from).
// Each rule that applies adds its commands, in the order Go, Node, Python;
// a Makefile is used only when none of them found a check, because a
// Makefile's targets often need tools the sandbox lacks. The notes say,
// one a sentence, what was found and what it gave, or that nothing was.
// The error is a file that exists but could not be read: guessing without
// it could leave a task unverified.
func DetectRepo(files fs.FS) (Repo, []string, error) {
	d, err := newDetector(files)
	if err != nil {
		return Repo{}, nil, err
	}
	repo := DefaultRepo()
	var notes []string
	rules := []func(*detector) (*detected, error){
		detectGo, detectNode, detectPython,
		// Last, and used only when the rules above found no check.
		func(d *detector) (*detected, error) { return detectMake(d, len(repo.Verify) == 0) },
	}
	for _, rule := range rules {
		found, err := rule(d)
		if err != nil {
			return Repo{}, nil, err
		}
		if found != nil {
			repo.Setup = append(repo.Setup, found.setup...)
			for _, run := range found.verify {
				repo.Verify = append(repo.Verify, Check{Name: checkName(run), Run: run})
			}
			notes = append(notes, found.note)
		}
	}
	if len(repo.Verify) == 0 {
		notes = append(notes, "verify is empty: found no Go module, npm script, pytest or Makefile target "+
			"to check with, so nothing checks a task's changes; list the checks under verify in "+RepoPath)
	}
	return repo, notes, nil
}

// detected is what one rule found.
type detected struct {
	setup, verify []string
	note          string
}

// detector reads the repository for the rules, knowing its root.
type detector struct {
	files fs.FS
	root  map[string]fs.DirEntry
}

func newDetector(files fs.FS) (*detector, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, fmt.Errorf("list its root: %w", err)
	}
	d := &detector{files: files, root: map[string]fs.DirEntry{}}
	for _, e := range entries {
		d.root[e.Name()] = e
	}
	return d, nil
}

// file reports whether the root holds a file (or anything but a
// directory) called name.
func (d *detector) file(name string) bool {
	e, ok := d.root[name]
	return ok && !e.IsDir()
}

func (d *detector) dir(name string) bool {
	e, ok := d.root[name]
	return ok && e.IsDir()
}

// read reads a file the root lists; one that vanished reads as empty.
func (d *detector) read(name string) ([]byte, error) {
	data, err := fs.ReadFile(d.files, name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}

func detectGo(d *detector) (*detected, error) {
	if !d.file("go.mod") {
		return nil, nil
	}
	found := &detected{verify: []string{"go vet ./...", "go build ./...", "go test ./..."}}
	if !d.file("go.sum") {
		// No go.sum, no dependencies to download.
		found.note = note("go.mod", found)
		return found, nil
	}
	found.setup = []string{"go mod download"}
	found.note = note("go.mod and go.sum", found)
	return found, nil
}

// nodeTools are the lockfiles detectNode knows, most specific first, with
// the package manager each one means and its install that keeps to it.
var nodeTools = []struct{ lockfile, tool, install string }{
	{"package-lock.json", "npm", "npm ci"},
	{"npm-shrinkwrap.json", "npm", "npm ci"},
	{"yarn.lock", "yarn", "yarn install --frozen-lockfile"},
	{"pnpm-lock.yaml", "pnpm", "pnpm install --frozen-lockfile"},
}

// isPlaceholderTest reports the test script npm init writes,
// `echo "Error: no test specified" && exit 1`, which only fails.
func isPlaceholderTest(script string) bool {
	return strings.Contains(script, "Error: no test specified")
}

func detectNode(d *detector) (*detected, error) {
	if !d.file("package.json") {
		return nil, nil
	}
	data, err := d.read("package.json")
	if err != nil {
		return nil, err
	}
	var pkg struct {
		// Not map[string]string: one script that is no text, as a list,
		// would fail the whole file, and the others with it.
		Scripts map[string]any `json:"scripts"`
	}
	// npm reads a file that starts with a byte order mark, as some
	// Windows editors write one; Go's JSON does not.
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if err := json.Unmarshal(data, &pkg); err != nil {
		return &detected{note: fmt.Sprintf("found package.json, but it is not JSON (%v): nothing is taken from it", err)}, nil
	}
	found, tool := &detected{setup: []string{"npm install"}}, "npm"
	what := "package.json without a lockfile"
	for _, t := range nodeTools {
		if d.file(t.lockfile) {
			found.setup, tool, what = []string{t.install}, t.tool, "package.json and "+t.lockfile
			break
		}
	}
	// Scripts run with the tool that installed: Yarn's Plug'n'Play leaves
	// no node_modules for npm to find the scripts' programs in.
	var skipped []string // of those verify would run; the others are never read
	for _, name := range []string{"lint", "build", "test"} {
		script, text := pkg.Scripts[name].(string)
		if !text && pkg.Scripts[name] != nil {
			skipped = append(skipped, name)
		}
		script = strings.TrimSpace(script)
		if script != "" && (name != "test" || !isPlaceholderTest(script)) {
			found.verify = append(found.verify, tool+" run "+name)
		}
	}
	found.note = note(what, found)
	if len(found.verify) == 0 {
		found.note += "; it has no lint, build or test script to verify with"
	}
	if test, _ := pkg.Scripts["test"].(string); isPlaceholderTest(test) {
		found.note += "; its test script is npm's placeholder, which only fails, so it is left out"
	}
	if len(skipped) == 1 {
		found.note += fmt.Sprintf("; its %s script is not text, so it is left out", skipped[0])
	} else if len(skipped) > 1 {
		found.note += fmt.Sprintf("; its %s scripts are not text, so they are left out", andList(skipped))
	}
	return found, nil
}

// pytestConfigs are files whose mention of pytest means the project uses
// it; pytest.ini always does.
var pytestConfigs = []string{"pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini"}

func detectPython(d *detector) (*detected, error) {
	found := &detected{verify: []string{"python3 -m pytest"}}
	for _, name := range pytestConfigs {
		if !d.file(name) {
			continue
		}
		data, err := d.read(name)
		if err != nil {
			return nil, err
		}
		if name == "pytest.ini" || strings.Contains(strings.ToLower(string(data)), "pytest") {
			found.note = note("pytest in "+name, found) + pythonSetup
			return found, nil
		}
	}
	if !d.dir("tests") {
		return nil, nil
	}
	entries, err := fs.ReadDir(d.files, "tests")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list tests: %w", err)
	}
	for _, e := range entries {
		if ok, _ := path.Match("test_*.py", e.Name()); ok && !e.IsDir() {
			found.note = note("tests/"+e.Name(), found) + pythonSetup
			return found, nil
		}
	}
	return nil, nil
}

// pythonSetup ends a note: which installer and which extras a Python
// project wants is not written anywhere detection could trust.
const pythonSetup = "; setup installs nothing, so the image must hold the project's dependencies"

// makefiles are the names GNU make looks for, in its order.
var makefiles = []string{"GNUmakefile", "makefile", "Makefile"}

// detectMake verifies with a Makefile's lint, build, and test targets (or
// check, automake's name for test, when there is no test) when use is
// true; otherwise it only notes what it leaves out.
func detectMake(d *detector, use bool) (*detected, error) {
	i := slices.IndexFunc(makefiles, d.file)
	if i < 0 {
		return nil, nil
	}
	data, err := d.read(makefiles[i])
	if err != nil {
		return nil, err
	}
	has := makeTargets(data)
	var targets []string
	for _, t := range []string{"lint", "build", "test"} {
		if has[t] {
			targets = append(targets, t)
		}
	}
	if !has["test"] && has["check"] {
		targets = append(targets, "check")
	}
	if len(targets) == 0 {
		if !use {
			return nil, nil
		}
		return &detected{note: fmt.Sprintf("found %s, but it has no lint, build, test or check target", makefiles[i])}, nil
	}
	found := &detected{}
	for _, t := range targets {
		found.verify = append(found.verify, "make "+t)
	}
	if !use {
		return &detected{note: fmt.Sprintf("found %s with %s but left it out, because the rules above found checks; "+
			"to run it, list %s under verify in %s", makefiles[i], plural("target", targets), andList(found.verify), RepoPath)}, nil
	}
	found.note = note(fmt.Sprintf("%s with %s", makefiles[i], plural("target", targets)), found)
	return found, nil
}

// makeTargets lists the targets a Makefile's rules name. It reads only
// what is plain: a line that starts a rule, not a recipe, a comment, a
// variable or a pattern rule.
func makeTargets(data []byte) map[string]bool {
	targets := map[string]bool{}
	for line := range strings.Lines(string(data)) {
		if line == "" || strings.ContainsRune(" \t#", rune(line[0])) {
			continue
		}
		names, rest, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(rest, "=") || strings.ContainsAny(names, "=$%") {
			continue
		}
		for _, t := range strings.Fields(names) {
			targets[t] = true
		}
	}
	return targets
}

// note says what a rule found and what it runs.
func note(what string, found *detected) string {
	var parts []string
	if len(found.setup) > 0 {
		parts = append(parts, "setup runs "+andList(found.setup))
	}
	if len(found.verify) > 0 {
		parts = append(parts, "verify runs "+andList(found.verify))
	}
	if len(parts) == 0 {
		return "found " + what
	}
	return "found " + what + ": " + strings.Join(parts, "; ")
}

// andList is "a", "a and b", "a, b and c".
func andList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

func plural(word string, items []string) string {
	if len(items) == 1 {
		return word + " " + items[0]
	}
	return word + "s " + andList(items)
}

package config

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// files is a repository held in memory.
func files(contents map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, text := range contents {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	return fsys
}

const makefile = `# build things
GO ?= go
VERSION := $(shell git describe)
.PHONY: lint test
lint: tools
	golangci-lint run
test:
	$(GO) test ./...
%.o: %.c
	cc -c $<
`

func TestDetectRepo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		files  map[string]string
		setup  []string
		verify []string
		notes  []string
	}{{
		name:   "Go module with dependencies",
		files:  map[string]string{"go.mod": "module x\n", "go.sum": "", "main.go": "package main\n"},
		setup:  []string{"go mod download"},
		verify: []string{"go vet ./...", "go build ./...", "go test ./..."},
		notes:  []string{"found go.mod and go.sum: setup runs go mod download; verify runs go vet ./..., go build ./... and go test ./..."},
	}, {
		name:   "Go module without dependencies",
		files:  map[string]string{"go.mod": "module x\n"},
		verify: []string{"go vet ./...", "go build ./...", "go test ./..."},
		notes:  []string{"found go.mod: verify runs go vet ./..., go build ./... and go test ./..."},
	}, {
		name: "npm with a lockfile",
		files: map[string]string{
			"package.json":      `{"scripts": {"test": "jest", "build": "tsc", "lint": "eslint .", "start": "node ."}}`,
			"package-lock.json": "{}",
		},
		setup:  []string{"npm ci"},
		verify: []string{"npm run lint", "npm run build", "npm run test"},
		notes:  []string{"found package.json and package-lock.json: setup runs npm ci; verify runs npm run lint, npm run build and npm run test"},
	}, {
		name:   "npm, the package written with a byte order mark",
		files:  map[string]string{"package.json": "\uFEFF" + `{"scripts": {"test": "jest"}}`, "package-lock.json": "{}"},
		setup:  []string{"npm ci"},
		verify: []string{"npm run test"},
		notes:  []string{"found package.json and package-lock.json: setup runs npm ci; verify runs npm run test"},
	}, {
		name:   "npm with a shrinkwrap",
		files:  map[string]string{"package.json": `{"scripts": {"test": "jest"}}`, "npm-shrinkwrap.json": "{}"},
		setup:  []string{"npm ci"},
		verify: []string{"npm run test"},
		notes:  []string{"found package.json and npm-shrinkwrap.json: setup runs npm ci; verify runs npm run test"},
	}, {
		name:   "yarn",
		files:  map[string]string{"package.json": `{"scripts": {"test": "jest", "lint": "eslint ."}}`, "yarn.lock": ""},
		setup:  []string{"yarn install --frozen-lockfile"},
		verify: []string{"yarn run lint", "yarn run test"},
		notes:  []string{"found package.json and yarn.lock: setup runs yarn install --frozen-lockfile; verify runs yarn run lint and yarn run test"},
	}, {
		name:   "pnpm",
		files:  map[string]string{"package.json": `{"scripts": {"build": "vite build"}}`, "pnpm-lock.yaml": ""},
		setup:  []string{"pnpm install --frozen-lockfile"},
		verify: []string{"pnpm run build"},
		notes:  []string{"found package.json and pnpm-lock.yaml: setup runs pnpm install --frozen-lockfile; verify runs pnpm run build"},
	}, {
		name: "npm without a lockfile, and npm's placeholder test",
		files: map[string]string{
			"package.json": `{"scripts": {"lint": "eslint .", "test": "echo \"Error: no test specified\" && exit 1"}}`,
		},
		setup:  []string{"npm install"},
		verify: []string{"npm run lint"},
		notes: []string{"found package.json without a lockfile: setup runs npm install; verify runs npm run lint; " +
			"its test script is npm's placeholder, which only fails, so it is left out"},
	}, {
		name:  "npm with no script to verify with",
		files: map[string]string{"package.json": `{"name": "x", "scripts": {"test": "echo \"Error: no test specified\" && exit 1"}}`},
		setup: []string{"npm install"},
		notes: []string{
			"found package.json without a lockfile: setup runs npm install; it has no lint, build or test script to verify with; " +
				"its test script is npm's placeholder, which only fails, so it is left out",
			"verify is empty: found no Go module, npm script, pytest or Makefile target to check with, so nothing checks a task's changes; list the checks under verify in .github/oneshot.yml",
		},
	}, {
		name:   "npm with a script that is not text",
		files:  map[string]string{"package.json": `{"scripts": {"test": "jest", "lint": ["eslint"], "format": {"x": 1}}}`, "package-lock.json": "{}"},
		setup:  []string{"npm ci"},
		verify: []string{"npm run test"},
		notes: []string{"found package.json and package-lock.json: setup runs npm ci; verify runs npm run test; " +
			"its lint script is not text, so it is left out"},
	}, {
		name:  "npm with no script that is text",
		files: map[string]string{"package.json": `{"scripts": {"build": 1, "test": false}}`},
		setup: []string{"npm install"},
		notes: []string{
			"found package.json without a lockfile: setup runs npm install; it has no lint, build or test script to verify with; " +
				"its build and test scripts are not text, so they are left out",
			"verify is empty: found no Go module, npm script, pytest or Makefile target to check with, so nothing checks a task's changes; list the checks under verify in .github/oneshot.yml",
		},
	}, {
		name:   "package.json that is not JSON",
		files:  map[string]string{"package.json": "{", "Makefile": "test:\n\tnode t.js\n"},
		verify: []string{"make test"},
		notes: []string{
			"found package.json, but it is not JSON (unexpected end of JSON input): nothing is taken from it",
			"found Makefile with target test: verify runs make test",
		},
	}, {
		name:   "pytest in pyproject.toml",
		files:  map[string]string{"pyproject.toml": "[tool.pytest.ini_options]\naddopts = \"-q\"\n"},
		verify: []string{"python3 -m pytest"},
		notes:  []string{"found pytest in pyproject.toml: verify runs python3 -m pytest; setup installs nothing, so the image must hold the project's dependencies"},
	}, {
		name:   "pytest.ini",
		files:  map[string]string{"pytest.ini": "[pytest]\n"},
		verify: []string{"python3 -m pytest"},
		notes:  []string{"found pytest in pytest.ini: verify runs python3 -m pytest; setup installs nothing, so the image must hold the project's dependencies"},
	}, {
		name:   "pytest in tox.ini",
		files:  map[string]string{"setup.cfg": "[metadata]\nname = x\n", "tox.ini": "[testenv]\ncommands = pytest\n"},
		verify: []string{"python3 -m pytest"},
		notes:  []string{"found pytest in tox.ini: verify runs python3 -m pytest; setup installs nothing, so the image must hold the project's dependencies"},
	}, {
		name:   "tests directory",
		files:  map[string]string{"tests/__init__.py": "", "tests/test_api.py": "def test_x(): pass\n", "pyproject.toml": "[project]\nname = \"x\"\n"},
		verify: []string{"python3 -m pytest"},
		notes:  []string{"found tests/test_api.py: verify runs python3 -m pytest; setup installs nothing, so the image must hold the project's dependencies"},
	}, {
		name:  "tests directory without test files",
		files: map[string]string{"tests/helpers.py": "", "tests/test_data/x.json": "{}"},
		notes: []string{"verify is empty: found no Go module, npm script, pytest or Makefile target to check with, so nothing checks a task's changes; list the checks under verify in .github/oneshot.yml"},
	}, {
		name:   "Makefile alone",
		files:  map[string]string{"Makefile": makefile, "src/main.c": ""},
		verify: []string{"make lint", "make test"},
		notes:  []string{"found Makefile with targets lint and test: verify runs make lint and make test"},
	}, {
		name:   "Makefile with check rather than test",
		files:  map[string]string{"GNUmakefile": "all:\n\tcc x.c\ncheck: all\n\t./run-tests\nbuild::\n\tcc\n", "Makefile": "test:\n"},
		verify: []string{"make build", "make check"},
		notes:  []string{"found GNUmakefile with targets build and check: verify runs make build and make check"},
	}, {
		name:  "Makefile without the targets",
		files: map[string]string{"Makefile": "all:\n\tcc x.c\ninstall:\n\tcp x /usr/bin\n"},
		notes: []string{
			"found Makefile, but it has no lint, build, test or check target",
			"verify is empty: found no Go module, npm script, pytest or Makefile target to check with, so nothing checks a task's changes; list the checks under verify in .github/oneshot.yml",
		},
	}, {
		name:   "Go with a Makefile: the Makefile is noted, not used",
		files:  map[string]string{"go.mod": "module x\n", "Makefile": makefile},
		verify: []string{"go vet ./...", "go build ./...", "go test ./..."},
		notes: []string{
			"found go.mod: verify runs go vet ./..., go build ./... and go test ./...",
			"found Makefile with targets lint and test but left it out, because the rules above found checks; to run it, list make lint and make test under verify in .github/oneshot.yml",
		},
	}, {
		name: "Go and npm together",
		files: map[string]string{
			"go.mod": "module x\n", "go.sum": "",
			"package.json": `{"scripts": {"test": "vitest"}}`, "yarn.lock": "",
		},
		setup:  []string{"go mod download", "yarn install --frozen-lockfile"},
		verify: []string{"go vet ./...", "go build ./...", "go test ./...", "yarn run test"},
		notes: []string{
			"found go.mod and go.sum: setup runs go mod download; verify runs go vet ./..., go build ./... and go test ./...",
			"found package.json and yarn.lock: setup runs yarn install --frozen-lockfile; verify runs yarn run test",
		},
	}, {
		name:  "nothing",
		files: map[string]string{"README.md": "# x\n", "go.mod/README": "a directory, not a module"},
		notes: []string{"verify is empty: found no Go module, npm script, pytest or Makefile target to check with, so nothing checks a task's changes; list the checks under verify in .github/oneshot.yml"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo, notes, err := DetectRepo(files(tt.files))
			if err != nil {
				t.Fatal(err)
			}
			want := DefaultRepo()
			want.Setup = tt.setup
			for _, run := range tt.verify {
				want.Verify = append(want.Verify, Check{Name: checkName(run), Run: run})
			}
			if !reflect.DeepEqual(repo, want) {
				t.Errorf("DetectRepo = %+v\nwant %+v", repo, want)
			}
			if !reflect.DeepEqual(notes, tt.notes) {
				t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(notes, "\n"), strings.Join(tt.notes, "\n"))
			}
			if err := repo.Validate(); err != nil {
				t.Errorf("detected configuration is not valid: %v", err)
			}
		})
	}
}

// brokenFiles fails to read one file or list one directory, as reading a
// checkout over a network might.
type brokenFiles struct {
	fstest.MapFS
	broken string
}

var errUnreadable = errors.New("connection reset")

func (b brokenFiles) ReadFile(name string) ([]byte, error) {
	if name == b.broken {
		return nil, errUnreadable
	}
	return b.MapFS.ReadFile(name)
}

func (b brokenFiles) ReadDir(name string) ([]fs.DirEntry, error) {
	if name == b.broken {
		return nil, errUnreadable
	}
	return b.MapFS.ReadDir(name)
}

func TestDetectRepoFailsRatherThanGuessWithoutAFile(t *testing.T) {
	t.Parallel()
	repo := files(map[string]string{"package.json": "{}", "tests/test_x.py": "", "Makefile": "test:\n"})
	tests := []struct{ broken, want string }{
		{".", "list its root: connection reset"},
		{"package.json", "read package.json: connection reset"},
		{"tests", "list tests: connection reset"},
	}
	for _, tt := range tests {
		t.Run(tt.broken, func(t *testing.T) {
			t.Parallel()
			_, _, err := DetectRepo(brokenFiles{repo, tt.broken})
			if !errors.Is(err, errUnreadable) || !strings.HasSuffix(err.Error(), tt.want) {
				t.Errorf("DetectRepo = %v, want an error ending %q", err, tt.want)
			}
		})
	}
}

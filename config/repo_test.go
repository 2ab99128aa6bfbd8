package config

import (
	"reflect"
	"slices"
	"testing"

	"github.com/oneshot-dev/oneshot/sandbox"
)

func TestDefaultRepoIsValidAndProtectsWorkflowsAndItsOwnRules(t *testing.T) {
	t.Parallel()
	r := DefaultRepo()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".github/workflows/ci.yml", RepoPath, "./.github//oneshot.yml", ".gitmodules"} {
		if !r.Protected(p) {
			t.Errorf("the default leaves %s unprotected", p)
		}
	}
	for _, p := range []string{".github/oneshot.yaml.example", "docs/.github/oneshot.yml", ".github/CODEOWNERS"} {
		if r.Protected(p) {
			t.Errorf("the default protects %s", p)
		}
	}
	// Each call is a fresh list, so a caller cannot change the next one's.
	r.ProtectedPaths[0] = "x"
	if DefaultRepo().ProtectedPaths[0] != DefaultProtectedWorkflows {
		t.Error("DefaultRepo shares its protected paths between calls")
	}
}

// config does not import sandbox, so the equal defaults are kept equal here.
func TestRepoDefaultsAreTheSandboxDefaults(t *testing.T) {
	t.Parallel()
	r := DefaultRepo()
	got := sandbox.Spec{
		Memory:  r.Limits.Memory,
		Disk:    r.Limits.Disk,
		CPUs:    r.Limits.CPUs,
		Pids:    r.Limits.Pids,
		Network: sandbox.Network{Mode: sandbox.NetworkMode(r.Network.Mode)},
	}
	want := sandbox.Spec{
		Memory:  sandbox.DefaultMemory,
		Disk:    sandbox.DefaultDisk,
		CPUs:    sandbox.DefaultCPUs,
		Pids:    sandbox.DefaultPids,
		Network: sandbox.Network{Mode: sandbox.DefaultNetwork},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("repo defaults %+v\nsandbox defaults %+v", got, want)
	}
	if minRepoPids != sandbox.MinPids {
		t.Errorf("the least pids is %d here, %d in the sandbox", minRepoPids, sandbox.MinPids)
	}
	for _, mode := range []sandbox.NetworkMode{sandbox.NetworkNone, sandbox.NetworkFiltered, sandbox.NetworkHost} {
		if !slices.Contains([]string{NetworkNone, NetworkFiltered, NetworkHost}, string(mode)) {
			t.Errorf("config has no network mode %q", mode)
		}
	}
}

func TestCheckIsNamedAfterTheFirstWordsOfItsCommand(t *testing.T) {
	t.Parallel()
	tests := []struct{ run, want string }{
		{"go vet ./...", "go vet"},
		{"go test -race ./...", "go test -race"},
		{"npm run lint", "npm run lint"},
		{"python3 -m pytest -x", "python3 -m pytest"},
		{"make test", "make test"},
		{"cargo test", "cargo test"},
		{"./scripts/check.sh --all", "./scripts/check.sh"},
		{"golangci-lint run && go test", "golangci-lint run"},
		{"  pytest\n  --cov\n", "pytest"},
	}
	for _, tt := range tests {
		if got := checkName(tt.run); got != tt.want {
			t.Errorf("checkName(%q) = %q, want %q", tt.run, got, tt.want)
		}
	}
}

func TestProtectedPaths(t *testing.T) {
	t.Parallel()
	r := DefaultRepo()
	r.ProtectedPaths = []string{".github/workflows/", "go.sum", "*.pem", "deploy/*.yml", "*/secrets/", "./scripts/release.sh", "infra/keys", "pages/api/[id].ts", "web/[locale]/secrets", `site/\[locale\]/*.tsx`}
	tests := []struct {
		path string
		want bool
	}{
		{".github/workflows/ci.yml", true},
		{".github/workflows/nested/x.yml", true},
		{".github/workflows", true}, // a file replacing the directory
		{".github", true},           // a link in place of the directory above it
		{"deploy", true},
		{"scripts", true},
		{".githubx", false},
		{"app", false}, // above */secrets/ only through a glob
		{".github/dependabot.yml", false},
		{".github/workflowsx/ci.yml", false},
		{"go.sum", true},
		{"sub/go.sum", false}, // exact: only the root's
		{"go.sum.bak", false},
		{"key.pem", true},
		{"certs/key.pem", false}, // * does not cross a slash
		{"deploy/prod.yml", true},
		{"deploy/prod/x.yml", false},
		{"app/secrets/token", true},
		{"app/secrets", true},
		{"secrets/token", false},
		{"scripts/release.sh", true},
		{"scripts/release.sh/x", true}, // a directory in the file's place
		{"infra/keys", true},
		{"infra/keys/prod.key", true}, // a directory, written without its slash
		{"infra/keys.md", false},
		{"pages/api/[id].ts", true}, // named as it is, brackets and all
		{"pages/api/i.ts", true},    // and as a glob
		{"pages/api/x.ts", false},
		{"web/[locale]/secrets/key", true},
		{"site/[locale]/page.tsx", true}, // brackets escaped in a glob
		{"site/l/page.tsx", false},
		{"key.pem/x", true},
		{"./.github/workflows/ci.yml", true},
		{".//.github/workflows//ci.yml", true},
		{"docs/../.github/workflows/ci.yml", true},
		{".github/workflows/../../main.go", false}, // cleans to main.go
		{"../x", true},
		{"a/../../x", true},
		{"..", true},
		{"/etc/passwd", true},
		{"", true},
		{".", true},
		{"main.go", false},
		{".GitHub/Workflows/ci.yml", false}, // case-sensitive, as git is
		{"KEY.PEM", false},
		{"Go.sum", false},
	}
	for _, tt := range tests {
		if got := r.Protected(tt.path); got != tt.want {
			t.Errorf("Protected(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

package sandbox_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/oneshot-dev/oneshot/sandbox"
)

const secretValue = "s3cr3t-Value-8d1f2a"

func TestSecretsAreMaskedOnEveryWayOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	spec := b.spec()
	spec.Secrets = map[string]string{"API_TOKEN": secretValue}
	spec.Network = sandbox.Network{Mode: sandbox.NetworkFiltered} // nothing allowed
	s := b.start(t, spec)
	ctx := context.Background()

	var mu sync.Mutex
	var streamed bytes.Buffer
	exec := func(t *testing.T, phase, script string, secrets ...string) *sandbox.Result {
		t.Helper()
		res, err := s.Exec(ctx, sandbox.Command{
			Script:  script,
			Secrets: secrets,
			Phase:   phase,
			OnEvent: func(e sandbox.Event) {
				mu.Lock()
				defer mu.Unlock()
				streamed.Write(e.Data)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 0 {
			t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
		}
		return res
	}
	assertMasked := func(t *testing.T, what string, out []byte) {
		t.Helper()
		if bytes.Contains(out, []byte(secretValue)) {
			t.Errorf("%s shows the secret: %q", what, out)
		}
		if !bytes.Contains(out, []byte(sandbox.Mask)) {
			t.Errorf("%s shows no mask: %q", what, out)
		}
	}

	t.Run("printed whole, on both streams", func(t *testing.T) {
		res := exec(t, "implement", `echo "token=$API_TOKEN"; echo "$API_TOKEN" >&2`, "API_TOKEN")
		assertMasked(t, "stdout", res.Stdout)
		assertMasked(t, "stderr", res.Stderr)
	})
	t.Run("printed in two writes with a pause between", func(t *testing.T) {
		res := exec(t, "implement", `printf %s "${API_TOKEN:0:7}"; sleep 0.5; printf '%s\n' "${API_TOKEN:7}"`, "API_TOKEN")
		assertMasked(t, "stdout", res.Stdout)
	})
	t.Run("printed in base64", func(t *testing.T) {
		res := exec(t, "implement", `printf 'x-access-token:%s' "$API_TOKEN" | base64`, "API_TOKEN")
		assertMasked(t, "stdout", res.Stdout)
	})
	t.Run("printed by a setup script", func(t *testing.T) {
		res := exec(t, "setup", `echo "setting up with $API_TOKEN"; echo "$API_TOKEN" > /sandbox/.token`, "API_TOKEN")
		assertMasked(t, "setup stdout", res.Stdout)
	})
	t.Run("read back from a file", func(t *testing.T) {
		// This exec has no secret of its own: the file is the only source.
		res := exec(t, "verify", "cat /sandbox/.token")
		assertMasked(t, "cat of the file", res.Stdout)
		data, err := s.ReadFile(ctx, "/sandbox/.token")
		if err != nil {
			t.Fatal(err)
		}
		assertMasked(t, "ReadFile", data)
	})
	t.Run("never in what was streamed", func(t *testing.T) {
		mu.Lock()
		defer mu.Unlock()
		assertMasked(t, "events", streamed.Bytes())
	})
	t.Run("only in the execs that ask for it", func(t *testing.T) {
		res := exec(t, "verify", `echo "[${API_TOKEN:-unset}]"; { grep -l API_TOKEN /proc/[0-9]*/environ 2>/dev/null || true; } | wc -l`)
		if got := lines(string(res.Stdout)); len(got) != 2 || got[0] != "[unset]" || got[1] != "0" {
			t.Fatalf("the secret is visible without asking: %q", res.Stdout)
		}
		info, err := b.docker.ContainerInspect(ctx, s.ID())
		if err != nil {
			t.Fatal(err)
		}
		if env := strings.Join(info.Config.Env, "\n"); strings.Contains(env, secretValue) || strings.Contains(env, "API_TOKEN") {
			t.Fatalf("the secret is in the container's environment:\n%s", env)
		}
	})
	t.Run("in the name of a refused host", func(t *testing.T) {
		exec(t, "implement", `curl -s --max-time 10 "http://$API_TOKEN.example.test/" || true`, "API_TOKEN")
		var hosts []string
		for _, r := range first(s.Refusals()) {
			hosts = append(hosts, r.Host)
		}
		assertMasked(t, "refusals", []byte(strings.Join(hosts, " ")))
	})
	t.Run("masked in error messages", func(t *testing.T) {
		_, err := s.Exec(ctx, sandbox.Command{Args: []string{"/sandbox/" + secretValue}})
		if err == nil || strings.Contains(err.Error(), secretValue) {
			t.Fatalf("err = %v", err)
		}
	})
}

package sandbox_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/oneshot-dev/oneshot/sandbox"
)

// Names here resolve only through the spec's pinned hosts, or are refused
// before any lookup: no test sends a DNS query off this machine.

func TestNetworkNoneAllowsNoConnection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := b.testServer(t)
	s := b.start(t, b.spec())

	if res := run(t, s, fmt.Sprintf("curl -sS --max-time 5 http://%s/", srv)); res.ExitCode == 0 {
		t.Errorf("reached the test server: %s", res.Stdout)
	}
	if res := run(t, s, fmt.Sprintf("exec 3<>/dev/tcp/%s/%s", srv.ip, srv.port)); res.ExitCode == 0 {
		t.Error("a raw TCP connection succeeded")
	}
	if res := run(t, s, "getent hosts web.oneshot.test"); res.ExitCode == 0 {
		t.Errorf("DNS answered: %s", res.Stdout)
	}
	if ifaces := lines(mustSucceed(t, s, "tail -n +3 /proc/net/dev | cut -d: -f1")); len(ifaces) != 1 || ifaces[0] != "lo" {
		t.Errorf("interfaces = %v, want only lo", ifaces)
	}
}

func TestNetworkFilteredLetsOnlyAllowedNamesOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := b.testServer(t)
	spec := b.spec()
	spec.Network = sandbox.Network{
		Mode:  sandbox.NetworkFiltered,
		Allow: []string{"*.oneshot.test:8000"},
		Deny:  []string{"blocked.oneshot.test"},
		// The test server's bridge address is private: allow it explicitly.
		AllowAddresses: []string{srv.ip},
		Hosts: map[string]string{
			"web.oneshot.test":      srv.ip,
			"private.oneshot.test":  "10.0.0.5",
			"loopback.oneshot.test": "127.0.0.1",
			"metadata.oneshot.test": "169.254.169.254",
		},
	}
	s := b.start(t, spec)

	t.Run("an allowed name is reached through the proxy", func(t *testing.T) {
		out := mustSucceed(t, s, "curl -sS --max-time 10 http://web.oneshot.test:8000/")
		if out != "hello from the test server\n" {
			t.Fatalf("got %q", out)
		}
	})
	t.Run("and through a CONNECT tunnel", func(t *testing.T) {
		out := mustSucceed(t, s, "curl -sS --max-time 10 --proxytunnel http://web.oneshot.test:8000/")
		if out != "hello from the test server\n" {
			t.Fatalf("got %q", out)
		}
	})
	t.Run("a denied name gets 403", func(t *testing.T) {
		for _, url := range []string{"http://blocked.oneshot.test/", "http://not-on-the-list.example/"} {
			if got := httpStatus(t, s, url); got != "403" {
				t.Errorf("%s: status %s, want 403", url, got)
			}
		}
		res := run(t, s, "curl -sS --max-time 10 https://blocked.oneshot.test/")
		if res.ExitCode == 0 || !strings.Contains(string(res.Stderr), "403") {
			t.Errorf("CONNECT to a denied name: exit %d, %s", res.ExitCode, res.Stderr)
		}
	})
	t.Run("an allowed name on a port its pattern does not name gets 403", func(t *testing.T) {
		res := run(t, s, "curl -sS --max-time 10 https://web.oneshot.test/")
		if res.ExitCode == 0 || !strings.Contains(string(res.Stderr), "403") {
			t.Errorf("CONNECT to port 443: exit %d, %s", res.ExitCode, res.Stderr)
		}
	})
	t.Run("names resolving to loopback, private or metadata addresses are refused", func(t *testing.T) {
		for _, host := range []string{"loopback.oneshot.test", "private.oneshot.test", "metadata.oneshot.test"} {
			if got := httpStatus(t, s, "http://"+host+":8000/"); got != "403" {
				t.Errorf("%s: status %s, want 403", host, got)
			}
		}
	})
	t.Run("a raw connection that skips the proxy fails", func(t *testing.T) {
		if res := run(t, s, fmt.Sprintf("exec 3<>/dev/tcp/%s/%s", srv.ip, srv.port)); res.ExitCode == 0 {
			t.Error("a raw TCP connection succeeded")
		}
		if got := httpStatus(t, s, "--noproxy '*' http://"+srv.String()+"/"); got != "000" {
			t.Errorf("a direct request got status %s", got)
		}
	})
	t.Run("DNS lookups inside fail", func(t *testing.T) {
		if res := run(t, s, "getent hosts web.oneshot.test"); res.ExitCode == 0 {
			t.Errorf("DNS answered: %s", res.Stdout)
		}
	})
	t.Run("every refusal is recorded with its reason", func(t *testing.T) {
		reasons := map[string]string{}
		for _, r := range first(s.Refusals()) {
			reasons[r.Host] = r.Reason
		}
		want := map[string]string{
			"blocked.oneshot.test:80":    "deny pattern",
			"blocked.oneshot.test:443":   "deny pattern",
			"not-on-the-list.example:80": "not on the allow-list",
			"loopback.oneshot.test:8000": "resolves to 127.0.0.1, a loopback, link-local or other address that is not on the internet",
			"private.oneshot.test:8000":  "resolves to 10.0.0.5, a private address",
			"metadata.oneshot.test:8000": "resolves to 169.254.169.254, a loopback, link-local or other address",
			"web.oneshot.test:443":       "port 443 is not allowed: allow pattern `*.oneshot.test:8000` covers port 8000 only",
		}
		for host, reason := range want {
			if !strings.Contains(reasons[host], reason) {
				t.Errorf("refusal of %s: reason %q, want it to mention %q", host, reasons[host], reason)
			}
		}
		if _, ok := reasons["web.oneshot.test:8000"]; ok {
			t.Error("the allowed name was recorded as refused")
		}
	})
}

func TestTheOperatorsBoundHoldsWhateverTheAllowListSays(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := b.testServer(t)
	spec := b.spec()
	spec.Network = sandbox.Network{
		Mode:           sandbox.NetworkFiltered,
		Allow:          []string{"*.oneshot.test:8000"},
		Within:         []string{"web.oneshot.test"},
		AllowAddresses: []string{srv.ip},
		Hosts:          map[string]string{"web.oneshot.test": srv.ip, "outside.oneshot.test": srv.ip},
	}
	s := b.start(t, spec)
	if out := mustSucceed(t, s, "curl -sS --max-time 10 http://web.oneshot.test:8000/"); out != "hello from the test server\n" {
		t.Fatalf("the name within the bound: got %q", out)
	}
	if got := httpStatus(t, s, "http://outside.oneshot.test:8000/"); got != "403" {
		t.Fatalf("a name the allow-list matches but the bound does not: status %s, want 403", got)
	}
	refusals, _ := s.Refusals()
	if len(refusals) != 1 || refusals[0].Host != "outside.oneshot.test:8000" || !strings.Contains(refusals[0].Reason, "operator") {
		t.Fatalf("refusals %+v", refusals)
	}
}

func TestNetworkHostSharesTheHostsInterfaces(t *testing.T) {
	t.Parallel()
	b := setup(t)
	spec := b.spec()
	spec.Network.Mode = sandbox.NetworkHost
	s := b.start(t, spec)
	if ifaces := lines(mustSucceed(t, s, "tail -n +3 /proc/net/dev | cut -d: -f1")); len(ifaces) < 2 {
		t.Fatalf("interfaces = %v, want the host's", ifaces)
	}
}

// httpStatus is the status curl gets inside the session for its
// arguments, or "000" when it gets none.
func httpStatus(t *testing.T, s *sandbox.Session, curlArgs string) string {
	t.Helper()
	return strings.TrimSpace(string(run(t, s, "curl -s -o /dev/null -w '%{http_code}' --max-time 10 "+curlArgs).Stdout))
}

package sandbox

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	acl "github.com/stripe/smokescreen/pkg/smokescreen/acl/v1"
)

func TestSpecDefaultsFillTheZeroValues(t *testing.T) {
	lim, err := Spec{Image: "img"}.validate()
	if err != nil {
		t.Fatal(err)
	}
	if lim.memory != 4<<30 || lim.disk != 4<<30 || lim.tmp != 512<<20 || lim.pids != DefaultPids ||
		lim.nanoCPUs != 2e9 || lim.deadline != DefaultDeadline || lim.network != NetworkNone {
		t.Fatalf("limits = %+v", lim)
	}
}

func TestSpecValidationReportsEveryProblemAtOnce(t *testing.T) {
	_, err := Spec{
		Memory:   "4x",
		Disk:     "-1g",
		Pids:     -5,
		CPUs:     -1,
		Deadline: -time.Second,
		Env:      map[string]string{"BAD NAME": "x"},
		Network:  Network{Mode: "filtered", Allow: []string{"ok.example", "[bad"}, AllowAddresses: []string{"not-an-ip"}, Hosts: map[string]string{"h": "nope"}},
	}.validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"image is empty",
		`memory "4x" is not a size`,
		`disk "-1g" is not a size`,
		"pids -5 is negative",
		"cpus -1 is negative",
		"deadline -1s is negative",
		`env name "BAD NAME"`,
		`network pattern "[bad" does not compile`,
		`network address "not-an-ip"`,
		`network host h: "nope" is not an address`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

func TestAPidsLimitSandboxdCannotStartUnderIsRefused(t *testing.T) {
	if _, err := (Spec{Image: "img", Pids: 20}).validate(); err == nil || !strings.Contains(err.Error(), "pids 20 is below the minimum of 64") {
		t.Errorf("pids 20: %v", err)
	}
}

func TestACPULimitTooLargeToCountIsRefused(t *testing.T) {
	// Counted in billionths, 1e10 CPUs would overflow to a negative limit.
	if _, err := (Spec{Image: "img", CPUs: 1e10}).validate(); err == nil || !strings.Contains(err.Error(), "cpus 1e+10 is above the maximum of 1024") {
		t.Errorf("cpus 1e10: %v", err)
	}
}

func TestACPULimitTooSmallToApplyIsRefused(t *testing.T) {
	// Docker takes a limit that rounds to 0 nanoCPUs for none at all.
	for _, cpus := range []float64{1e-10, 0.009} {
		if _, err := (Spec{Image: "img", CPUs: cpus}).validate(); err == nil || !strings.Contains(err.Error(), "below the minimum of 0.01") {
			t.Errorf("cpus %v: %v", cpus, err)
		}
	}
	if lim, err := (Spec{Image: "img", CPUs: 0.01}).validate(); err != nil || lim.nanoCPUs != minNanoCPUs {
		t.Errorf("cpus 0.01: %+v %v", lim, err)
	}
}

func TestSpecAllowAddressesTakeAddressesAndPrefixes(t *testing.T) {
	lim, err := Spec{Image: "img", Network: Network{Mode: NetworkFiltered, AllowAddresses: []string{"10.1.2.3", "192.168.7.9/16", "fd00::1"}}}.validate()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range lim.allowPrefixes {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "10.1.2.3/32 192.168.0.0/16 fd00::1/128" {
		t.Fatalf("prefixes = %v", got)
	}
}

func TestAPinnedHostIsFoundHoweverItsNameIsWritten(t *testing.T) {
	lim, err := Spec{Image: "img", Network: Network{Mode: NetworkFiltered,
		Hosts: map[string]string{"Registry.Internal.": "10.1.2.3"}}}.validate()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"registry.internal", "registry.internal.", "REGISTRY.internal"} {
		ips, err := (pinnedResolver{hosts: lim.hosts}).LookupIP(t.Context(), "ip", name)
		if err != nil || len(ips) != 1 || ips[0].String() != "10.1.2.3" {
			t.Errorf("%s resolves to %v, %v; want the pinned 10.1.2.3", name, ips, err)
		}
	}
}

// A name is looked up as the policy checked it: never with the bot host's
// search domains added, which would make "db" the db.corp.example that
// the operator denies.
func TestANameIsLookedUpRooted(t *testing.T) {
	var asked []string
	r := pinnedResolver{system: func(_ context.Context, _, host string) ([]net.IP, error) {
		asked = append(asked, host)
		return nil, errors.New("no lookups in this test")
	}}
	for _, name := range []string{"db", "api.example.com", "api.example.com."} {
		_, _ = r.LookupIP(t.Context(), "ip", name)
	}
	if want := []string{"db.", "api.example.com.", "api.example.com."}; !slices.Equal(asked, want) {
		t.Fatalf("looked up %q, want %q", asked, want)
	}
}

func TestHostPolicyDenyWinsAndTheDefaultIsDeny(t *testing.T) {
	p := policyOf(t, Network{Mode: NetworkFiltered, Allow: []string{"*.example.com", "api.github.com"}, Deny: []string{"evil.example.com"}})
	cases := map[string]bool{
		"a.example.com":    true,
		"A.Example.COM.":   true,
		"api.github.com":   true,
		"evil.example.com": false,
		"example.com":      false,
		"github.com":       false,
	}
	for host, allowed := range cases {
		if d := p.decide(host, 443); (d.Result == acl.Allow) != allowed {
			t.Errorf("%s: allowed = %v (%s)", host, !allowed, d.Reason)
		}
	}
}

// An operator's deny-list names hosts; a glob allowing every name must not
// open their addresses.
func TestAnAddressIsAllowedOnlyByAPatternNamingIt(t *testing.T) {
	p := policyOf(t, Network{Mode: NetworkFiltered, Allow: []string{"*", "203.0.113.7"}, Deny: []string{"pastebin.com"}})
	for _, tc := range []struct {
		host    string
		allowed bool
		reason  string
	}{
		{"pastebin.com", false, "deny pattern `pastebin.com`"},
		{"example.org", true, "allow pattern `*`"},
		{"104.20.68.143", false, "an address is allowed only by a pattern naming it, such as `104.20.68.143`"},
		{"203.0.113.7", true, "allow pattern `203.0.113.7`"},
		{"2001:db8::1", false, "an IPv6 address is never allowed"},
		{"[2001:db8::1]", false, "an IPv6 address is never allowed"},
		// An address in other spellings, which a C resolver reads as one.
		{"1746158735", false, "an address in another spelling"},
		{"0x68144490", false, "an address in another spelling"},
		{"0150.024.0104.0217", false, "an address in another spelling"},
		{"104.20.17551", false, "an address in another spelling"},
		{"cdn.example.0x1", false, "an address in another spelling"},
		{"build-2024.example.org", true, "allow pattern `*`"},
		// Empty labels, which a deny pattern would not see as the name.
		{"pastebin.com..", false, "empty label"},
		{".pastebin.com", false, "empty label"},
		{"pastebin..com", false, "empty label"},
	} {
		d := p.decide(tc.host, 443)
		if (d.Result == acl.Allow) != tc.allowed || !strings.Contains(d.Reason, tc.reason) {
			t.Errorf("%s: allowed = %v (%s), want %v (%s)", tc.host, d.Result == acl.Allow, d.Reason, tc.allowed, tc.reason)
		}
	}
}

func TestAnAllowedHostIsAllowedOnTheWebsPortsUnlessItsPatternNamesOthers(t *testing.T) {
	p := policyOf(t, Network{
		Mode:   NetworkFiltered,
		Allow:  []string{"proxy.golang.org", "registry.example.com:8443", "cache.example.com:*", "*.corp.example"},
		Deny:   []string{"mail.corp.example:25"},
		Within: []string{"*.example.com", "proxy.golang.org", "*.corp.example:443"},
	})
	for _, tc := range []struct {
		host    string
		port    int
		allowed bool
		reason  string
	}{
		{"proxy.golang.org", 443, true, ""},
		{"proxy.golang.org", 80, true, ""},
		{"proxy.golang.org", 22, false, "port 22 is not allowed: allow pattern `proxy.golang.org` covers ports 80 and 443; a pattern such as `proxy.golang.org:22` would allow it"},
		{"registry.example.com", 8443, true, ""},
		{"registry.example.com", 443, false, "allow pattern `registry.example.com:8443` covers port 8443 only"},
		{"cache.example.com", 6379, true, ""},
		{"git.corp.example", 443, true, ""},
		{"git.corp.example", 80, false, "outside what the bot's operator allows"},
		{"mail.corp.example", 25, false, "deny pattern `mail.corp.example:25`"},
	} {
		d := p.decide(tc.host, tc.port)
		if (d.Result == acl.Allow) != tc.allowed || !strings.Contains(d.Reason, tc.reason) {
			t.Errorf("%s:%d: allowed = %v (%s), want %v (%s)", tc.host, tc.port, d.Result == acl.Allow, d.Reason, tc.allowed, tc.reason)
		}
	}
}

// policyOf is the allow-list of n, as a validated spec has it.
func policyOf(t *testing.T, n Network) hostPolicy {
	t.Helper()
	_, _, policy := n.validate(func(format string, args ...any) { t.Fatalf(format, args...) })
	return policy
}

// TestATimeoutUnderAMillisecondIsStillATimeout: sandboxd takes 0 for no
// timeout at all.
func TestATimeoutUnderAMillisecondIsStillATimeout(t *testing.T) {
	for d, want := range map[time.Duration]int64{0: 0, time.Microsecond: 1, time.Millisecond: 1, 1500 * time.Microsecond: 2, time.Second: 1000} {
		if got := timeoutMillis(d); got != want {
			t.Errorf("timeoutMillis(%v) = %d, want %d", d, got, want)
		}
	}
}

// The protocol into the sandbox is JSON, which carries bytes that are not
// UTF-8 changed: a secret the process got changed would not be masked,
// and a path would name another file. Each is refused instead.
func TestBytesTheWayInWouldChangeAreRefused(t *testing.T) {
	spec := Spec{Image: "img", Env: map[string]string{"NAME": "caf\xe9"}, Secrets: map[string]string{"TOKEN": "tok\xffen-abcdef123456"}}
	_, err := spec.validate()
	for _, want := range []string{"env NAME is not valid UTF-8", "secret TOKEN is not valid UTF-8"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("spec error %v, want it to say %q", err, want)
		}
	}
	if _, err := workPath("caf\xe9.txt"); err == nil {
		t.Error("a path that is not UTF-8 was taken")
	}
	s := &Session{}
	for _, c := range []Command{{Args: []string{"cat", "caf\xe9.txt"}}, {Script: "echo \xff"}, {Args: []string{"true"}, Env: map[string]string{"X": "\xff"}}, {Args: []string{"true"}, Dir: "/sandbox/\xff"}} {
		if _, err := s.execRequest(c); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
			t.Errorf("exec of %q: %v, want it refused", c.Args, err)
		}
	}
	if _, err := s.execRequest(Command{Args: []string{"echo", "café ✓"}}); err != nil {
		t.Errorf("a UTF-8 command was refused: %v", err)
	}
}

// A command too large for the one frame a request goes in is refused as
// such, not sent to fail as if sandboxd were lost.
func TestACommandTooLargeToSendIsRefusedSayingSo(t *testing.T) {
	s := &Session{}
	if _, err := s.execRequest(Command{Script: strings.Repeat("echo hello\n", 200_000)}); err == nil || !strings.Contains(err.Error(), "write large input to a file") {
		t.Fatalf("a 2 MB script: %v", err)
	}
	if _, err := s.execRequest(Command{Script: strings.Repeat("echo hello\n", 80_000)}); err != nil {
		t.Fatalf("a script under 1 MB: %v", err)
	}
}

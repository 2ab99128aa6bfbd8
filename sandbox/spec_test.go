package sandbox

import (
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

func TestHostPolicyDenyWinsAndTheDefaultIsDeny(t *testing.T) {
	p := hostPolicy{allow: []string{"*.example.com", "api.github.com"}, deny: []string{"evil.example.com"}}
	cases := map[string]bool{
		"a.example.com":    true,
		"A.Example.COM.":   true,
		"api.github.com":   true,
		"evil.example.com": false,
		"example.com":      false,
		"github.com":       false,
	}
	for host, allowed := range cases {
		d, err := p.Decide(acl.DecideArgs{Host: host})
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Result == acl.Allow; got != allowed {
			t.Errorf("%s: allowed = %v (%s)", host, got, d.Reason)
		}
	}
}

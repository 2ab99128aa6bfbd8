package sandbox

import (
	"fmt"
	"testing"
)

func TestRefusalsAreCountedPerHostAndBounded(t *testing.T) {
	p := &egressProxy{}
	for range 3 {
		p.record("again.example:443", "host is not on the allow-list")
	}
	for i := range 2 * maxRefusalHosts {
		p.record(fmt.Sprintf("host-%d.example:80", i), "host is not on the allow-list")
	}
	if len(p.refusals) != maxRefusalHosts {
		t.Fatalf("%d hosts recorded, want the first %d", len(p.refusals), maxRefusalHosts)
	}
	if first := p.refusals[0]; first.Host != "again.example:443" || first.Count != 3 {
		t.Fatalf("first refusal %+v, want again.example:443 counted 3 times", first)
	}
}

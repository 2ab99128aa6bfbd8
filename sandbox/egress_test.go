package sandbox

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
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

func TestASecretInARefusedHostIsMaskedInAnyOfItsForms(t *testing.T) {
	const secret = "ABCdef123XYZ"
	p := newEgressProxy(Network{Mode: NetworkFiltered}, limits{}, newMasker(map[string]string{"T": secret}))
	defer p.close()
	for _, host := range []string{
		secret + ".evil.test:80",
		hex.EncodeToString([]byte(secret)) + ".evil.test:80",
		strings.ToUpper(hex.EncodeToString([]byte(secret))) + ".evil.test:80",
		base64.RawURLEncoding.EncodeToString([]byte(secret)) + ".evil.test:80",
	} {
		if got := p.maskHost(host); got != Mask+".evil.test:80" {
			t.Errorf("maskHost(%q) = %q", host, got)
		}
	}
}

func TestNoMoreEgressConnectionsAreOpenThanTheLimit(t *testing.T) {
	p := &egressProxy{open: make(chan struct{}, maxEgressConns)}
	var admitted []net.Conn
	for range maxEgressConns {
		ours, _ := net.Pipe()
		c, ok := p.admit(ours)
		if !ok {
			t.Fatalf("refused connection %d of %d", len(admitted)+1, maxEgressConns)
		}
		admitted = append(admitted, c)
	}
	extra, theirs := net.Pipe()
	if _, ok := p.admit(extra); ok {
		t.Fatal("admitted one more than the limit")
	}
	if _, err := theirs.Write([]byte("x")); err == nil {
		t.Fatal("the refused connection is still open")
	}
	// Closing one, twice, frees one place.
	admitted[0].Close()
	admitted[0].Close()
	ours, _ := net.Pipe()
	if _, ok := p.admit(ours); !ok {
		t.Fatal("a closed connection's place was not given back")
	}
	ours2, _ := net.Pipe()
	if _, ok := p.admit(ours2); ok {
		t.Fatal("a second Close gave back a second place")
	}
}

package sandbox

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRefusalsAreCountedPerHostAndBounded(t *testing.T) {
	p := &egressProxy{}
	for range 3 {
		p.record("again.example:443", "host is not on the allow-list")
	}
	for i := range 2 * maxRefusalHosts {
		p.record(fmt.Sprintf("host-%d.example:80", i), "host is not on the allow-list")
	}
	p.record("host-1.example:80", "host is not on the allow-list") // listed: counted
	if len(p.refusals) != maxRefusalHosts {
		t.Fatalf("%d hosts recorded, want %d", len(p.refusals), maxRefusalHosts)
	}
	if first := p.refusals[0]; first.Host != "again.example:443" || first.Count != 3 {
		t.Fatalf("first refusal %+v, want again.example:443 counted 3 times", first)
	}
	if second := p.refusals[2]; second.Host != "host-1.example:80" || second.Count != 2 {
		t.Fatalf("refusal %+v, want host-1.example:80 counted twice", second)
	}
	// The last place holds the latest host; the others past the list are
	// counted, one request each.
	last := fmt.Sprintf("host-%d.example:80", 2*maxRefusalHosts-1)
	if got := p.refusals[maxRefusalHosts-1]; got.Host != last || got.Count != 1 {
		t.Fatalf("last refusal %+v, want %s", got, last)
	}
	// Listed of the numbered hosts: the first maxRefusalHosts-2, after
	// again.example and before the last place, and the last.
	if want := 2*maxRefusalHosts - (maxRefusalHosts - 2) - 1; p.unlisted != want {
		t.Fatalf("%d refusals unlisted, want %d", p.unlisted, want)
	}
}

func TestASecretInARefusedHostIsMaskedInAnyOfItsForms(t *testing.T) {
	const secret = "ABCdef123XYZ"
	p := newEgressProxy(limits{}, newMasker(map[string]string{"T": secret}))
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

// filteredProxy is a proxy that allows allowed.test on every port, pinned
// with the other names to loopback addresses, which the proxy may dial here.
func filteredProxy(t *testing.T, pinned map[string]string) *egressProxy {
	t.Helper()
	lim := limits{hosts: map[string]netip.Addr{}, allowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	for name, addr := range pinned {
		lim.hosts[name] = netip.MustParseAddr(addr)
	}
	lim.policy = policyOf(t, Network{Mode: NetworkFiltered, Allow: []string{"allowed.test:*", "web.test"}})
	p := newEgressProxy(lim, newMasker(nil))
	t.Cleanup(p.close)
	return p
}

// askProxy sends one request through the proxy, as a program in the
// sandbox would, and returns the proxy's answer.
func askProxy(t *testing.T, p *egressProxy, request string) *http.Response {
	t.Helper()
	ours, theirs := net.Pipe()
	t.Cleanup(func() { ours.Close() })
	// A proxy that waits on a host that never answers fails the test
	// rather than hanging it.
	ours.SetDeadline(time.Now().Add(20 * time.Second))
	go p.serve(theirs)
	go io.WriteString(ours, request)
	resp, err := http.ReadResponse(bufio.NewReader(ours), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// listen is a server on loopback that must not be reached.
func listen(t *testing.T) (*net.TCPListener, string) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return ln, port
}

// notReached fails the test if anyone connected to ln. The proxy dials
// before it answers, so once the answer is read a connection would be
// waiting already.
func notReached(t *testing.T, ln *net.TCPListener) {
	t.Helper()
	ln.SetDeadline(time.Now())
	if c, err := ln.Accept(); err == nil {
		c.Close()
		t.Error("the proxy connected to a host nobody allowed")
	}
}

// A request's header is held in the bot's memory while it comes: one that
// goes on past the bound is answered at once, not read to its end.
func TestARequestHeaderPastTheBoundIsRefusedBeforeItEnds(t *testing.T) {
	p := filteredProxy(t, map[string]string{"allowed.test": "127.0.0.2"})
	request := "GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n" +
		strings.Repeat("X-Padding: "+strings.Repeat("a", 1000)+"\r\n", 2*maxEgressHeader/1000)
	if resp := askProxy(t, p, request); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
}

func TestARequestCannotNameANextProxyToReachAnotherHost(t *testing.T) {
	other, port := listen(t)
	p := filteredProxy(t, map[string]string{"allowed.test": "127.0.0.2", "other.test": "127.0.0.1"})
	resp := askProxy(t, p, "CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n"+
		"X-Upstream-Https-Proxy: http://other.test:"+port+"\r\n\r\n")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status %d, want 403", resp.StatusCode)
	}
	notReached(t, other)
	if r := p.refusals; len(r) != 1 || !strings.Contains(r[0].Reason, "next proxy") {
		t.Errorf("refusals %+v, want the next proxy named", r)
	}
}

func TestTheBotsOwnProxySettingsDoNotCarryTheSandboxsTraffic(t *testing.T) {
	botsProxy, port := listen(t)
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:"+port)
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:"+port)

	// Plain HTTP goes straight to the allowed host.
	allowed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "direct") }))
	defer allowed.Close()
	_, allowedPort, _ := net.SplitHostPort(allowed.Listener.Addr().String())
	p := filteredProxy(t, map[string]string{"allowed.test": "127.0.0.1"})
	resp := askProxy(t, p, "GET http://Allowed.Test:"+allowedPort+"/ HTTP/1.1\r\nHost: Allowed.Test:"+allowedPort+"\r\n\r\n")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "direct" {
		t.Errorf("plain HTTP: %d %q, want the allowed host's own answer", resp.StatusCode, body)
	}

	// A tunnel would go through the bot's proxy, which resolves the name
	// again: refused, and said why.
	resp = askProxy(t, p, "CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n")
	if resp.StatusCode == http.StatusOK {
		t.Error("the tunnel was opened")
	}
	notReached(t, botsProxy)
	if r := p.refusals; len(r) != 1 || r[0].Host != "allowed.test:443" || !strings.Contains(r[0].Reason, "HTTPS_PROXY") {
		t.Errorf("refusals %+v, want allowed.test:443 refused for the bot's proxy", r)
	}
}

func TestAnHTTPSRequestTheProxyMakesChecksTheHostsCertificate(t *testing.T) {
	// httptest's certificate is trusted by nobody: the proxy must not
	// make the request, as the client would not have.
	allowed := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "untrusted") }))
	defer allowed.Close()
	_, port, _ := net.SplitHostPort(allowed.Listener.Addr().String())
	p := filteredProxy(t, map[string]string{"allowed.test": "127.0.0.1"})
	resp := askProxy(t, p, "GET https://allowed.test:"+port+"/ HTTP/1.1\r\nHost: allowed.test:"+port+"\r\n\r\n")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK || strings.Contains(string(body), "untrusted") {
		t.Fatalf("status %d %q: the proxy took a certificate nobody trusts", resp.StatusCode, body)
	}
}

func TestTheProxysConnectionsToAllowedHostsCloseWithIt(t *testing.T) {
	closed := make(chan struct{})
	allowed := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	allowed.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			close(closed)
		}
	}
	allowed.Start()
	defer allowed.Close()
	_, port, _ := net.SplitHostPort(allowed.Listener.Addr().String())
	p := newEgressProxy(limits{
		hosts:         map[string]netip.Addr{"allowed.test": netip.MustParseAddr("127.0.0.1")},
		allowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		policy:        policyOf(t, Network{Mode: NetworkFiltered, Allow: []string{"allowed.test:" + port}}),
	}, newMasker(nil))
	resp := askProxy(t, p, "GET http://allowed.test:"+port+"/ HTTP/1.1\r\nHost: allowed.test:"+port+"\r\n\r\n")
	io.ReadAll(resp.Body)
	p.close()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the kept-alive connection to the allowed host outlived the proxy")
	}
}

func TestAnAllowedNameOnAPortItsPatternDoesNotCoverIsNotDialed(t *testing.T) {
	other, port := listen(t)
	p := filteredProxy(t, map[string]string{"web.test": "127.0.0.1"})
	for _, request := range []string{
		"CONNECT web.test:" + port + " HTTP/1.1\r\nHost: web.test:" + port + "\r\n\r\n",
		"GET http://web.test:" + port + "/ HTTP/1.1\r\nHost: web.test:" + port + "\r\n\r\n",
		// The Host header does not choose the destination: the request line does.
		"GET http://web.test:" + port + "/ HTTP/1.1\r\nHost: web.test:443\r\n\r\n",
	} {
		if resp := askProxy(t, p, request); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%q: status %d, want 403", request, resp.StatusCode)
		}
	}
	notReached(t, other)
	if r := p.refusals; len(r) != 1 || r[0].Host != "web.test:"+port || r[0].Count != 3 || !strings.Contains(r[0].Reason, "covers ports 80 and 443") {
		t.Errorf("refusals %+v, want web.test:%s refused three times for its port", r, port)
	}
}

func TestARefusedHostLongerThanDNSAllowsIsCut(t *testing.T) {
	p := filteredProxy(t, nil)
	// Far longer than DNS allows, within what the proxy reads of a header.
	name := strings.Repeat(strings.Repeat("a", 60)+".", 400) + "test:443"
	resp := askProxy(t, p, "CONNECT "+name+" HTTP/1.1\r\nHost: "+name+"\r\n\r\n")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status %d, want 403", resp.StatusCode)
	}
	r := p.refusals
	if len(r) != 1 {
		t.Fatalf("%d refusals, want 1", len(r))
	}
	if len(r[0].Host) > maxHostName+len(":65535…") || !strings.Contains(r[0].Reason, "longer than DNS allows") {
		t.Errorf("refusal of %d bytes for %q, want at most %d for a name longer than DNS allows", len(r[0].Host), r[0].Reason, maxHostName+len(":65535…"))
	}
}

func TestAddressesThatReachACloudHostsOwnServicesAreRefused(t *testing.T) {
	for _, addr := range []string{"168.63.129.16", "192.0.0.192", "198.18.0.1", "203.0.113.9", "fec0::1",
		// IPv6 that reaches nothing on the internet, used inside networks.
		"2001:2::1", "2001:10::1", "5f00::1", "100:0:0:1::1",
		// 10.0.0.5 in IPv6 forms a translator on the way may take to it.
		"64:ff9b:1::a00:5", "::ffff:0:a00:5", "::a00:5"} {
		t.Run(addr, func(t *testing.T) {
			// Pinned without the loopback allowance; whatever the proxy
			// dials is caught here, before a packet is sent.
			p := newEgressProxy(limits{
				hosts:  map[string]netip.Addr{"allowed.test": netip.MustParseAddr(addr)},
				policy: policyOf(t, Network{Mode: NetworkFiltered, Allow: []string{"allowed.test"}}),
			}, newMasker(nil))
			t.Cleanup(p.close)
			var dialed atomic.Bool
			p.transport.DialContext = func(context.Context, string, string) (net.Conn, error) {
				dialed.Store(true)
				return nil, errors.New("no dialing in this test")
			}
			resp := askProxy(t, p, "CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n")
			if resp.StatusCode != http.StatusForbidden || dialed.Load() {
				t.Fatalf("status %d, dialed %v; want 403 before any dial", resp.StatusCode, dialed.Load())
			}
		})
	}
}

func TestSpellingsOfOneAllowedHostShareTheProxysConnections(t *testing.T) {
	var dialed atomic.Int32
	allowed := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	allowed.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialed.Add(1)
		}
	}
	allowed.Start()
	defer allowed.Close()
	_, port, _ := net.SplitHostPort(allowed.Listener.Addr().String())
	p := filteredProxy(t, map[string]string{"allowed.test": "127.0.0.1"})
	// Each spelling was a destination of its own to the proxy's transport,
	// which kept a connection open for each, past any bound.
	const spellings = 20
	for i := range spellings {
		host := "allowed.test:" + strings.Repeat("0", i) + port
		if i%2 == 1 {
			host = "Allowed.TEST:" + strings.Repeat("0", i) + port
		}
		resp := askProxy(t, p, "GET http://"+host+"/ HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
		if body, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK || string(body) != "ok" {
			t.Fatalf("%s: status %d, %q", host, resp.StatusCode, body)
		}
	}
	// One connection, kept alive, serves them all; a request that comes
	// before the last one's connection is back in the pool makes another.
	if n := dialed.Load(); n > spellings/2 {
		t.Errorf("%d spellings of one host opened %d connections to it, want them shared", spellings, n)
	}
}

func TestSameHostComparesNamesAddressesAndPortsByValue(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"Allowed.Test.:443", "allowed.test:443", true},
		{"allowed.test:0443", "allowed.test:443", true},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1:80", true},
		{"allowed.test:443", "allowed.test:444", false},
		{"allowed.test:443", "other.test:443", false},
		{"192.0.2.1:80", "allowed.test:80", false},
		{"allowed.test", "allowed.test:443", false},
	} {
		if got := sameHost(tc.a, tc.b); got != tc.same {
			t.Errorf("sameHost(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

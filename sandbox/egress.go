package sandbox

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"
	"github.com/stripe/goproxy"
	"github.com/stripe/smokescreen/pkg/smokescreen"
	"github.com/stripe/smokescreen/pkg/smokescreen/conntrack"
)

// Refusal is a destination the filtered proxy refused.
type Refusal struct {
	// Host is what the sandbox asked for, as host:port, masked: a name
	// can carry a secret out as well as a body can.
	Host string
	// Reason says which rule refused it the first time.
	Reason string
	// At is the first refusal; Count how many there were.
	At    time.Time
	Count int
}

// maxEgressConns bounds the connections a sandbox has open through the
// proxy at once: each costs the bot goroutines and file descriptors, and a
// sandbox must not be able to spend all of them. A build that downloads in
// parallel uses a few dozen.
const maxEgressConns = 256

// maxEgressHeader bounds a request's header through the proxy, which
// holds it while it comes. Tools send a few kilobytes; a cookie-heavy
// request, tens.
const maxEgressHeader = 64 << 10

// maxRefusalHosts bounds the distinct destinations recorded: a sandbox
// asking for endless names must not grow the bot's memory or the reports.
const maxRefusalHosts = 50

// egressProxy is the filtered network's way out. The proxy itself is
// Stripe's smokescreen, run as a library: it applies our host allow-list as
// its ACL, resolves the name once, refuses loopback, private, link-local,
// CGNAT and IPv4-embedding addresses unless allowed, and dials exactly the
// address it checked, so DNS rebinding cannot slip past the check. Its
// connections come from sandboxd over the protocol, not from a socket.
type egressProxy struct {
	listener  *streamListener
	server    *http.Server
	transport *http.Transport // the proxy's, for plain HTTP requests
	served    chan struct{}   // closed when the server stopped

	masker   *masker       // the session's
	hosts    *masker       // its secrets in lower case, as host names arrive
	open     chan struct{} // one token per connection open, maxEgressConns at most
	mu       sync.Mutex
	refusals []Refusal // one per host, oldest first
	unlisted int       // refused requests to hosts no longer or never listed
}

// connectTimeout bounds the proxy's dial to an allowed destination.
const connectTimeout = 10 * time.Second

// idleConnTimeout closes the proxy's kept-alive connections to allowed
// hosts when unused: a host that keeps them open must not keep the bot's
// goroutines and file descriptors for the rest of the session.
const idleConnTimeout = 30 * time.Second

// maxHostName is the longest DNS name. A longer one is refused before it
// is looked up or recorded: a request line can hold a megabyte of it.
const maxHostName = 253

var errOtherProxy = errors.New("refused: the connection would go through another proxy")

// checkedHost is the destination the proxy's ACL checked for the request
// being dialed, as host:port.
func checkedHost(ctx context.Context) (string, bool) {
	pctx, ok := ctx.Value(goproxy.ProxyContextKey).(*goproxy.ProxyCtx)
	if !ok {
		return "", false
	}
	sctx, ok := pctx.UserData.(*smokescreen.SmokescreenContext)
	if !ok || sctx.Decision == nil {
		return "", false
	}
	return sctx.Decision.OutboundHost, true
}

// sameHost compares two host:port addresses: names as DNS does, without
// case or a trailing dot; addresses and ports by value, as 080 is 80.
func sameHost(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil {
		return false
	}
	portA, errA := strconv.ParseUint(pa, 10, 16)
	portB, errB := strconv.ParseUint(pb, 10, 16)
	if errA != nil || errB != nil || portA != portB {
		return false
	}
	if ipA, err := netip.ParseAddr(ha); err == nil {
		ipB, err := netip.ParseAddr(hb)
		return err == nil && ipA.Unmap() == ipB.Unmap()
	}
	return strings.EqualFold(strings.TrimSuffix(ha, "."), strings.TrimSuffix(hb, "."))
}

func newEgressProxy(lim limits, m *masker) *egressProxy {
	p := &egressProxy{
		listener: newStreamListener(),
		served:   make(chan struct{}),
		masker:   m,
		hosts:    m.lowered(),
		open:     make(chan struct{}, maxEgressConns),
	}

	logger := logrus.New()
	logger.SetOutput(io.Discard)
	cfg := smokescreen.NewConfig()
	cfg.Log = logger
	cfg.Resolver = pinnedResolver{hosts: lim.hosts}
	cfg.ConnectTimeout = connectTimeout
	cfg.EgressACL = lim.policy
	cfg.RoleFromRequest = func(*http.Request) (string, error) { return "sandbox", nil }
	for _, prefix := range lim.allowPrefixes {
		cfg.AllowRanges = append(cfg.AllowRanges, smokescreen.RuleRange{Net: prefixNet(prefix)})
	}
	// The proxy dials from the bot's host: the host's own public addresses
	// would reach the bot itself and its neighbours on them.
	for _, prefix := range append(hostAddresses(), specialPurpose...) {
		cfg.DenyRanges = append(cfg.DenyRanges, smokescreen.RuleRange{Net: prefixNet(prefix)})
	}
	cfg.RejectResponseHandlerWithCtx = p.rejected
	cfg.ConnTracker = conntrack.NewTracker(cfg.IdleTimeout, cfg.MetricsClient, cfg.Log, cfg.ShuttingDown, nil)
	cfg.ShuttingDown.Store(false)

	proxy := smokescreen.BuildProxy(cfg)
	proxy.Logger = log.New(io.Discard, "", 0) // it would print the sandbox's destinations unmasked
	// Nothing but the checked address is dialed: not a next proxy a
	// request names, nor the bot's own HTTP_PROXY or HTTPS_PROXY, either of
	// which would resolve the name again, past the address checks.
	proxy.Tr.Proxy = nil
	// goproxy's transport skips certificate checks. A request the sandbox
	// sends as "GET https://..." rather than through a CONNECT tunnel is
	// made over TLS by the bot, which must check the host as the client
	// would have.
	proxy.Tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	proxy.Tr.IdleConnTimeout = idleConnTimeout
	dial := proxy.Tr.DialContext
	proxy.Tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if checked, ok := checkedHost(ctx); ok && !sameHost(addr, checked) {
			p.record(p.maskHost(checked), "the connection would go through another proxy (the bot's HTTPS_PROXY?), past the address checks")
			return nil, errOtherProxy
		}
		return dial(ctx, network, addr)
	}
	// The transport keeps connections by the destination as the request
	// spells it: Allowed.Test:0080 and allowed.test:80 would each keep
	// their own, past any bound, and each would be resolved again. Every
	// request goes to the destination the proxy checked, as it normalised
	// it, and the connections kept idle are bounded too.
	proxy.OnRequest().DoFunc(func(req *http.Request, pctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
		if checked, ok := checkedHost(context.WithValue(req.Context(), goproxy.ProxyContextKey, pctx)); ok && checked != "" {
			req.URL.Host = checked
		}
		return req, nil
	})
	proxy.Tr.MaxIdleConns = maxEgressConns
	p.transport = proxy.Tr

	p.server = &http.Server{
		Handler:           proxy,
		ReadHeaderTimeout: 30 * time.Second,
		// What a connection holds of the bot's memory while its request
		// comes: at the default of 1 MB, a sandbox's connections could
		// hold hundreds of megabytes.
		MaxHeaderBytes: maxEgressHeader,
		IdleTimeout:    90 * time.Second,
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(p.served)
		_ = p.server.Serve(p.listener)
	}()
	return p
}

// rejected records a refusal. Smokescreen answers a policy refusal with 407;
// we answer 403, which is what it is: no credentials would change it.
func (p *egressProxy) rejected(sctx *smokescreen.SmokescreenContext, resp *http.Response) {
	if resp.StatusCode != http.StatusProxyAuthRequired {
		return // a failure to resolve or connect, not a refusal
	}
	resp.StatusCode = http.StatusForbidden
	resp.Status = "403 Forbidden"
	host, reason := sctx.RequestedHost, "refused"
	if d := sctx.Decision; d != nil {
		// The decision names the destination with its port, whether the
		// request was a CONNECT or plain HTTP.
		host = cmp.Or(d.OutboundHost, host)
		reason = cmp.Or(strings.TrimRight(d.Reason, ". "), reason)
	}
	p.record(p.maskHost(host), p.masker.MaskString(addressReason(reason)))
}

// addressKinds names the kinds of address smokescreen's rules refuse. Its
// "User Configured" rule is ours: the special-purpose ranges and the
// host's own addresses, which no user configured.
var addressKinds = map[string]string{
	"Deny: Not Global Unicast": "a loopback, link-local or other address that is not on the internet",
	"Deny: Private Range":      "a private address",
	"Deny: User Configured":    "a special-purpose address (documentation, benchmarking, a cloud's own services) or one of the bot's host's own",
	"Deny: CGNAT Range":        "a carrier-grade NAT address",
	"Deny: IPv6 Embedding":     "an IPv6 address that holds an IPv4 one",
	"Deny: Self Connection":    "the proxy's own address",
}

// addressReason says smokescreen's refusal of a name's addresses in plain
// words: "resolves to 10.0.0.5, a private address", not "no valid IP found
// among resolved addresses - 10.0.0.5 denied by rule 'Deny: Private
// Range'". Other reasons are as they were.
func addressReason(reason string) string {
	rest, ok := strings.CutPrefix(reason, "no valid IP found among resolved addresses - ")
	if !ok {
		return reason
	}
	ip, rule, ok := strings.Cut(rest, " denied by rule ")
	kind, known := addressKinds[strings.Trim(rule, "'")]
	if !ok || !known {
		return reason
	}
	return "resolves to " + ip + ", " + kind + ", which is refused unless the spec allows its address (AllowAddresses)"
}

// maskHost masks the secrets in a host name, which arrives in lower case
// whatever case the sandbox wrote it in.
func (p *egressProxy) maskHost(host string) string {
	return p.hosts.MaskString(strings.ToLower(host))
}

func (p *egressProxy) record(host, reason string) {
	host = shortHost(host)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.refusals {
		if p.refusals[i].Host == host {
			p.refusals[i].Count++
			return
		}
	}
	refusal := Refusal{Host: host, Reason: reason, At: time.Now(), Count: 1}
	if len(p.refusals) < maxRefusalHosts {
		p.refusals = append(p.refusals, refusal)
		return
	}
	// The list is full. Its last place goes to the latest host: a sandbox
	// that asked for many names first may ask for the one that matters
	// last. What it held is counted, so the report says something is
	// not listed.
	last := &p.refusals[maxRefusalHosts-1]
	p.unlisted += last.Count
	*last = refusal
}

// shortHost cuts a host:port longer than any DNS name can be, which only
// a refused request holds, so that it cannot swell the reports.
func shortHost(host string) string {
	const most = maxHostName + len(":65535")
	if len(host) <= most {
		return host
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(host[cut]) {
		cut--
	}
	return host[:cut] + "…"
}

// serve hands a connection to the proxy, or closes it when the sandbox
// has maxEgressConns open already.
func (p *egressProxy) serve(conn net.Conn) {
	if c, ok := p.admit(conn); ok {
		p.listener.deliver(c)
	}
}

// admit takes a place for conn, given back when it closes; without one
// free, it closes conn.
func (p *egressProxy) admit(conn net.Conn) (net.Conn, bool) {
	select {
	case p.open <- struct{}{}:
		return &admittedConn{Conn: conn, release: func() { <-p.open }}, true
	default:
		conn.Close()
		return nil, false
	}
}

// admittedConn gives its place back once, on its first Close.
type admittedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *admittedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

func (p *egressProxy) close() {
	p.server.Close()
	<-p.served
	p.transport.CloseIdleConnections()
}

// Refusals lists the destinations the filtered proxy refused so far,
// oldest first and at most maxRefusalHosts of them (the last being the
// latest of those past the others), so the pipeline can report blocked
// hosts; unlisted counts the refused requests to hosts not in the list.
// It is empty for other network modes.
func (s *Session) Refusals() (listed []Refusal, unlisted int) {
	if s.egress == nil {
		return nil, 0
	}
	s.egress.mu.Lock()
	defer s.egress.mu.Unlock()
	return append([]Refusal{}, s.egress.refusals...), s.egress.unlisted
}

// streamListener is a net.Listener whose connections are protocol streams
// handed to it, one per connection made to the proxy inside the sandbox.
type streamListener struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newStreamListener() *streamListener {
	return &streamListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *streamListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	}
}

func (l *streamListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *streamListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *streamListener) Addr() net.Addr { return sandboxAddr{} }

type sandboxAddr struct{}

func (sandboxAddr) Network() string { return "sandbox" }
func (sandboxAddr) String() string  { return ProxyAddr }

var _ net.Listener = (*streamListener)(nil)

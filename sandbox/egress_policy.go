package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	acl "github.com/stripe/smokescreen/pkg/smokescreen/acl/v1"
	"github.com/stripe/smokescreen/pkg/smokescreen/hostport"

	"github.com/oneshot-dev/oneshot/sandbox/hostpattern"
)

// Which destinations the filtered proxy lets a sandbox reach: the host
// patterns, and the addresses refused whatever a name resolves to.

// hostPolicy is the allow-list, as a smokescreen ACL: Network's patterns,
// parsed when the spec is validated.
type hostPolicy struct{ allow, deny, within []hostpattern.Pattern }

func (h hostPolicy) Decide(args acl.DecideArgs) (acl.Decision, error) {
	if args.ConnectProxyHost != "" {
		// X-Upstream-Https-Proxy: the proxy would dial that one instead,
		// a host nobody checked, and send the tunnel on from there.
		return deny("the request names a next proxy, which is not allowed"), nil
	}
	port, err := destinationPort(args.Req)
	if err != nil {
		return deny("the destination's port cannot be read"), nil
	}
	return h.decide(args.Host, port), nil
}

// destinationPort is the port the request goes to, read as smokescreen
// reads it: a CONNECT names it, plain HTTP names it or implies it by its
// scheme.
func destinationPort(req *http.Request) (int, error) {
	if req == nil {
		return 0, errors.New("no request")
	}
	var dest hostport.HostPort
	var err error
	if req.Method == http.MethodConnect {
		dest, err = hostport.New(req.Host, false)
	} else {
		dest, err = hostport.NewWithScheme(req.Host, req.URL.Scheme, false)
	}
	return dest.Port, err
}

func (h hostPolicy) decide(host string, port int) acl.Decision {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if len(host) > maxHostName {
		return deny("host name is longer than DNS allows")
	}
	if host == "" || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") || strings.Contains(host, "..") {
		// "evil.test.." is not "evil.test" to a deny pattern, and
		// whether a resolver takes it for that is the resolver's.
		return deny("a host name with an empty label is no host name")
	}
	if p, ok := hostpattern.First(h.deny, host, port, nil); ok {
		return deny(fmt.Sprintf("host matches deny pattern `%s`", p.Text))
	}
	if _, ok := hostpattern.First(h.within, host, port, nil); len(h.within) > 0 && !ok {
		return deny("host is outside what the bot's operator allows")
	}
	if numericName(host) {
		// A C resolver reads 2130706433, 0x7f000001 or 127.1 as an
		// address, which no glob may reach (see below); no host name
		// ends in a number.
		return deny("a host name whose last label is a number is an address in another spelling: ask for the host by its name, or its address as a.b.c.d")
	}
	allow := h.allow
	if addr, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		// An address is not a name: a glob, written for names (`*`
		// among them), does not cover it, or a name denied by the
		// operator would be reached by its address. A pattern naming
		// the address does; none can name an IPv6 one.
		if addr.Is6() && !addr.Is4In6() {
			return deny("an IPv6 address is never allowed: ask for the host by its name")
		}
		allow = slices.DeleteFunc(slices.Clone(allow), hostpattern.Pattern.HasGlob)
		if _, ok := hostpattern.First(allow, host, port, nil); !ok && slices.ContainsFunc(h.allow, func(p hostpattern.Pattern) bool { return p.MatchesHost(host) }) {
			return deny(fmt.Sprintf("an address is allowed only by a pattern naming it, such as `%s`", host))
		}
	}
	if p, ok := hostpattern.First(allow, host, port, hostpattern.WebPorts); ok {
		return acl.Decision{Result: acl.Allow, Reason: fmt.Sprintf("host matches allow pattern `%s`", p.Text)}
	}
	for _, p := range allow {
		if p.MatchesHost(host) {
			return deny(fmt.Sprintf("port %d is not allowed: allow pattern `%s` covers %s; a pattern such as `%s:%d` would allow it",
				port, p.Text, p.AllowedPorts(), p.Host, port))
		}
	}
	return deny("host is not on the allow-list")
}

// numericName says whether host, not an address as netip reads one, ends
// in a label that is a number: decimal, octal (0...) or hexadecimal (0x...).
func numericName(host string) bool {
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return false
	}
	last := host[strings.LastIndexByte(host, '.')+1:]
	if hex, ok := strings.CutPrefix(last, "0x"); ok {
		return hex == "" || strings.Trim(hex, "0123456789abcdef") == ""
	}
	return last != "" && strings.Trim(last, "0123456789") == ""
}

func deny(reason string) acl.Decision {
	return acl.Decision{Result: acl.Deny, Reason: reason}
}

// pinnedResolver answers pinned names itself and asks the system for others.
type pinnedResolver struct {
	hosts map[string]netip.Addr
	// system looks a name up; nil is the system's resolver.
	system func(ctx context.Context, network, host string) ([]net.IP, error)
}

func (r pinnedResolver) LookupIP(ctx context.Context, network, host string) ([]net.IP, error) {
	if addr, ok := r.hosts[strings.TrimSuffix(strings.ToLower(host), ".")]; ok {
		return []net.IP{addr.AsSlice()}, nil
	}
	// Rooted, the name is looked up as the policy checked it: the host's
	// search domains would turn "db", or a name nothing answers for, into
	// db.corp.example, which the operator may deny.
	if _, err := netip.ParseAddr(host); err != nil && !strings.HasSuffix(host, ".") {
		host += "."
	}
	if r.system == nil {
		return net.DefaultResolver.LookupIP(ctx, network, host)
	}
	return r.system(ctx, network, host)
}

func (r pinnedResolver) LookupPort(ctx context.Context, network, service string) (int, error) {
	return net.DefaultResolver.LookupPort(ctx, network, service)
}

// specialPurpose are addresses that look public but reach a cloud host's
// own services or nothing on the internet, refused like private ones.
var specialPurpose = []netip.Prefix{
	netip.MustParsePrefix("168.63.129.16/32"), // Azure's WireServer, the VM's agent and DNS
	netip.MustParsePrefix("192.0.0.0/24"),     // IETF protocol assignments; Oracle Cloud's metadata is 192.0.0.192
	netip.MustParsePrefix("0.0.0.0/8"),        // "this network"
	netip.MustParsePrefix("198.18.0.0/15"),    // benchmarking, used inside networks
	netip.MustParsePrefix("240.0.0.0/4"),      // reserved
	netip.MustParsePrefix("192.0.2.0/24"),     // documentation (TEST-NET-1)
	netip.MustParsePrefix("198.51.100.0/24"),  // documentation (TEST-NET-2)
	netip.MustParsePrefix("203.0.113.0/24"),   // documentation (TEST-NET-3)
	netip.MustParsePrefix("192.88.99.0/24"),   // the 6to4 relays' anycast, retired
	netip.MustParsePrefix("fec0::/10"),        // site-local, retired but routed inside some networks
	netip.MustParsePrefix("100::/64"),         // discard-only
	netip.MustParsePrefix("100:0:0:1::/64"),   // dummy prefix (RFC 9780)
	netip.MustParsePrefix("2001:2::/48"),      // benchmarking, used inside networks
	netip.MustParsePrefix("2001:10::/28"),     // ORCHID, retired
	netip.MustParsePrefix("5f00::/16"),        // segment routing (SRv6) identifiers, for routers inside networks
	netip.MustParsePrefix("2001:db8::/32"),    // documentation
	netip.MustParsePrefix("3fff::/20"),        // documentation
	// IPv6 forms of an IPv4 address, which a translator on the way may
	// take to it, private ones included, beside those smokescreen refuses.
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated (SIIT)
	netip.MustParsePrefix("::/96"),           // IPv4-compatible
}

// hostAddresses are this host's global unicast addresses, each as a
// single-address prefix. Private and loopback ones are refused anyway.
func hostAddresses() []netip.Prefix {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if ok && ip.Unmap().IsGlobalUnicast() && !ip.Unmap().IsPrivate() {
			out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
		}
	}
	return out
}

func prefixNet(p netip.Prefix) net.IPNet {
	bits := p.Addr().BitLen()
	return net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}
}

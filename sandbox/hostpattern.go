package sandbox

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// webPorts are the ports an allow pattern without a port lets through:
// package registries and source hosts serve on them, and an allowed host
// must not become a way to any other service it runs.
var webPorts = []int{80, 443}

// hostPattern is one allow, deny or within pattern: a glob on the
// lower-case host name and, after a colon, a port or "*" for every port.
type hostPattern struct {
	text string // as written, lower case, for the reasons given
	host string // the glob
	port int    // 0 when none is named, anyPort for "*"
}

const anyPort = -1

// CheckHostPattern says why p is not a network pattern: a host name glob
// such as "proxy.golang.org" or "*.npmjs.org", optionally followed by a
// port such as ":8443" or ":*".
func CheckHostPattern(p string) error {
	_, err := parseHostPattern(p)
	return err
}

var errNotHostPattern = errors.New("is not a host name pattern such as proxy.golang.org, *.npmjs.org or registry.example.com:8443")

func parseHostPattern(p string) (hostPattern, error) {
	hp := hostPattern{text: strings.ToLower(p), host: strings.ToLower(p)}
	if strings.ContainsFunc(p, func(r rune) bool { return r == '/' || unicode.IsSpace(r) }) {
		// "https://x.org" would never match a host name.
		return hostPattern{}, errNotHostPattern
	}
	if i := strings.LastIndexByte(hp.host, ':'); i >= 0 {
		port := hp.host[i+1:]
		hp.host = hp.host[:i]
		switch n, err := strconv.Atoi(port); {
		case port == "*":
			hp.port = anyPort
		case err != nil || n < 1 || n > 65535:
			return hostPattern{}, fmt.Errorf("port %q is neither a number from 1 to 65535 nor *", port)
		default:
			hp.port = n
		}
	}
	if hp.host == "" {
		return hostPattern{}, errors.New("names no host")
	}
	if strings.Contains(hp.host, ":") {
		return hostPattern{}, errNotHostPattern
	}
	if _, err := path.Match(hp.host, ""); err != nil {
		return hostPattern{}, fmt.Errorf("does not compile: %v", err)
	}
	return hp, nil
}

func parseHostPatterns(ps []string) []hostPattern {
	out := make([]hostPattern, 0, len(ps))
	for _, p := range ps {
		if hp, err := parseHostPattern(p); err == nil { // the spec was validated
			out = append(out, hp)
		}
	}
	return out
}

// matches says whether host:port matches the pattern. A pattern without a
// port matches the ports in unnamed, or every port when unnamed is nil.
func (p hostPattern) matches(host string, port int, unnamed []int) bool {
	if !p.matchesHost(host) {
		return false
	}
	switch p.port {
	case anyPort:
		return true
	case 0:
		return unnamed == nil || slices.Contains(unnamed, port)
	default:
		return p.port == port
	}
}

func (p hostPattern) matchesHost(host string) bool {
	ok, _ := path.Match(p.host, host)
	return ok
}

// ports says which ports an allow pattern covers.
func (p hostPattern) ports() string {
	switch p.port {
	case anyPort:
		return "every port"
	case 0:
		return "ports 80 and 443"
	default:
		return fmt.Sprintf("port %d only", p.port)
	}
}

// firstMatch returns the first of patterns that host:port matches.
func firstMatch(patterns []hostPattern, host string, port int, unnamed []int) (hostPattern, bool) {
	for _, p := range patterns {
		if p.matches(host, port, unnamed) {
			return p, true
		}
	}
	return hostPattern{}, false
}

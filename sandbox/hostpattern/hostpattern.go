// Package hostpattern reads the host name patterns of a sandbox's filtered
// network: a glob on the lower-case host name, as in "proxy.golang.org" or
// "*.npmjs.org", optionally followed by a port, as in
// "registry.example.com:8443", or ":*" for every port. It is a package of
// its own so that what validates settings need not import the sandbox.
package hostpattern

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// WebPorts are the ports an allow pattern without a port lets through:
// package registries and source hosts serve on them, and an allowed host
// must not become a way to any other service it runs.
var WebPorts = []int{80, 443}

// AnyPort is the port of a pattern ending in ":*".
const AnyPort = -1

// Pattern is one pattern, parsed.
type Pattern struct {
	Text string // lower case, as the reasons quote it
	Host string // the glob on the host name
	Port int    // 0 when none is named, AnyPort for "*"
}

var errNotHostPattern = errors.New("is not a host name pattern such as proxy.golang.org, *.npmjs.org or registry.example.com:8443")

// Parse reads a pattern, or says why p is none.
func Parse(p string) (Pattern, error) {
	hp := Pattern{Text: strings.ToLower(p), Host: strings.ToLower(p)}
	// Host names, glob characters and a port only: a pattern is quoted in
	// Markdown, between backticks, in the reasons shown on GitHub.
	if strings.ContainsFunc(hp.Host, func(r rune) bool { return !strings.ContainsRune(patternChars, r) }) {
		return Pattern{}, errNotHostPattern
	}
	if i := strings.LastIndexByte(hp.Host, ':'); i >= 0 {
		port := hp.Host[i+1:]
		hp.Host = hp.Host[:i]
		switch n, err := strconv.Atoi(port); {
		case port == "*":
			hp.Port = AnyPort
		case err != nil || n < 1 || n > 65535:
			return Pattern{}, fmt.Errorf("port %q is neither a number from 1 to 65535 nor *", port)
		default:
			hp.Port = n
		}
	}
	if strings.Contains(hp.Host, "..") {
		return Pattern{}, errors.New("has two dots in a row, which no host name does")
	}
	// A name written as DNS zones write it, with the root's dot, is the
	// name: the host asked for loses that dot too.
	hp.Host = strings.TrimSuffix(hp.Host, ".")
	if hp.Host == "" {
		return Pattern{}, errors.New("names no host")
	}
	if strings.Contains(hp.Host, ":") {
		return Pattern{}, errNotHostPattern
	}
	// ".example.com", as squid and NO_PROXY write a domain, would match
	// no host at all: a deny written so would let everything through.
	if strings.HasPrefix(hp.Host, ".") {
		return Pattern{}, fmt.Errorf("starts with a dot, which no host name does; write *%s for the names under it, and %s for itself", hp.Host, hp.Host[1:])
	}
	if _, err := path.Match(hp.Host, ""); err != nil {
		return Pattern{}, fmt.Errorf("does not compile: %v", err)
	}
	return hp, nil
}

// patternChars are what a pattern may hold, in lower case: a host name's
// characters ("_" is in some), the glob's and the port's colon.
const patternChars = "abcdefghijklmnopqrstuvwxyz0123456789-._*?[]!^:"

// Matches says whether host:port matches the pattern. A pattern without a
// port matches the ports in unnamed, or every port when unnamed is nil.
func (p Pattern) Matches(host string, port int, unnamed []int) bool {
	if !p.MatchesHost(host) {
		return false
	}
	switch p.Port {
	case AnyPort:
		return true
	case 0:
		return unnamed == nil || slices.Contains(unnamed, port)
	default:
		return p.Port == port
	}
}

// HasGlob says whether the pattern's host is a glob rather than one name.
func (p Pattern) HasGlob() bool { return strings.ContainsAny(p.Host, "*?[") }

// MatchesHost says whether host matches the pattern, whatever the port.
func (p Pattern) MatchesHost(host string) bool {
	ok, _ := path.Match(p.Host, host)
	return ok
}

// AllowedPorts says which ports the pattern lets through as an allow
// pattern.
func (p Pattern) AllowedPorts() string {
	switch p.Port {
	case AnyPort:
		return "every port"
	case 0:
		ports := make([]string, len(WebPorts))
		for i, n := range WebPorts {
			ports[i] = strconv.Itoa(n)
		}
		return "ports " + strings.Join(ports, " and ")
	default:
		return fmt.Sprintf("port %d only", p.Port)
	}
}

// First returns the first of patterns that host:port matches.
func First(patterns []Pattern, host string, port int, unnamed []int) (Pattern, bool) {
	for _, p := range patterns {
		if p.Matches(host, port, unnamed) {
			return p, true
		}
	}
	return Pattern{}, false
}

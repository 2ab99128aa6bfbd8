package sandbox

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/docker/go-units"

	"github.com/oneshot-dev/oneshot/sandbox/hostpattern"
)

// NetworkMode says how a sandbox may reach the network.
type NetworkMode string

const (
	// NetworkNone gives the container no network at all.
	NetworkNone NetworkMode = "none"
	// NetworkFiltered gives the container no network either, but an HTTP
	// proxy on 127.0.0.1 whose traffic the bot forwards through an allow-list.
	NetworkFiltered NetworkMode = "filtered"
	// NetworkHost shares the host's network. It is for trusted debugging only.
	NetworkHost NetworkMode = "host"
)

// DefaultImage is the image images/build makes.
const DefaultImage = "oneshot/sandbox:latest"

// Defaults for the zero values of Spec.
const (
	DefaultMemory = "4g"
	DefaultDisk   = "4g"
	DefaultTmp    = "512m"
	DefaultCPUs   = 2.0
	// minNanoCPUs is the least CPU a session gets: a hundredth of one.
	minNanoCPUs     = 10_000_000
	DefaultPids     = 1024
	DefaultDeadline = 2 * time.Hour
	DefaultNetwork  = NetworkNone
)

// MinPids is the fewest processes and threads a sandbox may be limited
// to: sandboxd alone, a Go program, runs some thirty threads, and a
// limit below that stops it from starting.
const MinPids = 64

// MinSecretLen is the shortest secret the masker accepts: masking two or
// three characters would blank ordinary output and protect nothing.
const MinSecretLen = 6

// minMemory keeps a sandbox from being created too small to start sandboxd.
const minMemory = 32 << 20

// Spec describes a sandbox session.
type Spec struct {
	// Image is a sandbox image built by images/build (it must hold sandboxd).
	Image string
	// TaskID labels the container, so an operator can tell whose it is.
	TaskID string

	// Memory limits what processes may use, as in "2g" or "512m". The
	// container's limit is larger: files in /sandbox, /tmp and /dev/shm
	// live in memory too, and their sizes are added.
	Memory string
	// Disk is the size of the writable work area, /sandbox.
	Disk string
	// Tmp is the size of /tmp.
	Tmp string
	// CPUs may be fractional.
	CPUs float64
	// Pids limits how many processes and threads may exist at once.
	Pids int64
	// Deadline ends the whole session, whatever runs in it.
	Deadline time.Duration

	Network Network

	// Env is set for every process in the container. It is not secret.
	Env map[string]string
	// Secrets are handed, by name, only to the execs that ask for them, and
	// masked in everything that comes out of the session.
	Secrets map[string]string
}

// Network configures the session's network.
type Network struct {
	Mode NetworkMode
	// Allow lists host name patterns the filtered proxy lets through, as in
	// "proxy.golang.org" or "*.npmjs.org". A pattern is a shell glob
	// (path.Match) on the lower-case name; "*" also matches dots. It
	// covers ports 80 and 443 unless it names its port, as in
	// "registry.example.com:8443", or every port with ":*".
	Allow []string
	// Deny lists host name patterns refused even when Allow matches; one
	// without a port covers every port.
	Deny []string
	// Within, when set, lists patterns a host must also match, whatever
	// Allow says: the operator's bound on what a repository may allow.
	// One without a port covers every port.
	Within []string
	// AllowAddresses lists addresses or prefixes ("10.1.2.3", "10.1.0.0/16")
	// that the proxy may reach although they are loopback, private or
	// link-local, which it otherwise refuses after resolving a name.
	AllowAddresses []string
	// Hosts pins names to addresses for the proxy, like /etc/hosts. A pinned
	// address is still subject to the address rules above.
	Hosts map[string]string
}

// limits is a validated Spec in the units Docker wants.
type limits struct {
	memory, disk, tmp int64
	nanoCPUs          int64
	pids              int64
	deadline          time.Duration
	network           NetworkMode
	allowPrefixes     []netip.Prefix
	hosts             map[string]netip.Addr
	policy            hostPolicy
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxCPUs is the most CPUs a spec may give, far more than a machine has.
const maxCPUs = 1024

// validate checks the whole spec and reports every problem at once, before
// anything is created.
func (s Spec) validate() (limits, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	lim := limits{
		pids:     cmp.Or(s.Pids, DefaultPids),
		deadline: cmp.Or(s.Deadline, DefaultDeadline),
		nanoCPUs: int64(cmp.Or(s.CPUs, DefaultCPUs) * 1e9),
		network:  cmp.Or(s.Network.Mode, DefaultNetwork),
	}

	if strings.TrimSpace(s.Image) == "" {
		bad("image is empty")
	}
	size := func(field, value, def string) int64 {
		n, err := units.RAMInBytes(cmp.Or(value, def))
		if err != nil || n <= 0 {
			bad("%s %q is not a size such as 512m or 4g", field, value)
			return 0
		}
		return n
	}
	lim.memory = size("memory", s.Memory, DefaultMemory)
	lim.disk = size("disk", s.Disk, DefaultDisk)
	lim.tmp = size("tmp", s.Tmp, DefaultTmp)
	if lim.memory > 0 && lim.memory < minMemory {
		bad("memory %q is below the minimum of 32m", s.Memory)
	}
	if s.CPUs < 0 {
		bad("cpus %v is negative", s.CPUs)
	} else if s.CPUs > maxCPUs {
		// Docker counts in billionths of a CPU, which more would overflow.
		bad("cpus %v is above the maximum of %d", s.CPUs, maxCPUs)
	} else if lim.nanoCPUs < minNanoCPUs {
		// Docker takes a NanoCPUs of 0, which a smaller value rounds to,
		// for no limit at all.
		bad("cpus %v is below the minimum of 0.01", s.CPUs)
	}
	if s.Pids < 0 {
		bad("pids %d is negative", s.Pids)
	} else if s.Pids > 0 && s.Pids < MinPids {
		bad("pids %d is below the minimum of %d: sandboxd and the Go runtime under it take some thirty threads", s.Pids, MinPids)
	}
	if s.Deadline < 0 {
		bad("deadline %v is negative", s.Deadline)
	}

	for name, value := range s.Env {
		if !envName.MatchString(name) {
			bad("env name %q is not a valid variable name", name)
		}
		if !utf8.ValidString(value) {
			bad("env %s is not valid UTF-8, which the way into the sandbox would change", name)
		}
	}
	for name, value := range s.Secrets {
		if !envName.MatchString(name) {
			bad("secret name %q is not a valid variable name", name)
		}
		if _, clash := s.Env[name]; clash {
			bad("secret %s is also set in env", name)
		}
		if len(value) < MinSecretLen {
			bad("secret %s is shorter than %d characters, too short to mask", name, MinSecretLen)
		}
		if !utf8.ValidString(value) {
			// The process would get another value than the one masked.
			bad("secret %s is not valid UTF-8, which the way into the sandbox would change", name)
		}
	}

	lim.allowPrefixes, lim.hosts, lim.policy = s.Network.validate(bad)
	return lim, errors.Join(errs...)
}

func (n Network) validate(bad func(string, ...any)) ([]netip.Prefix, map[string]netip.Addr, hostPolicy) {
	switch n.Mode {
	case "", NetworkNone, NetworkFiltered, NetworkHost:
	default:
		bad("network mode %q is not one of none, filtered, host", n.Mode)
	}
	if n.Mode != NetworkFiltered && len(n.Allow)+len(n.Deny)+len(n.Within)+len(n.AllowAddresses)+len(n.Hosts) > 0 {
		bad("network allow, deny, within, addresses and hosts apply only to mode filtered, not %q", cmp.Or(n.Mode, DefaultNetwork))
	}
	parse := func(ps []string) []hostpattern.Pattern {
		var out []hostpattern.Pattern
		for _, p := range ps {
			hp, err := hostpattern.Parse(p)
			if err != nil {
				bad("network pattern %q %v", p, err)
				continue
			}
			out = append(out, hp)
		}
		return out
	}
	policy := hostPolicy{allow: parse(n.Allow), deny: parse(n.Deny), within: parse(n.Within)}
	var prefixes []netip.Prefix
	for _, a := range n.AllowAddresses {
		p, err := parsePrefix(a)
		if err != nil {
			bad("network address %q is neither an address nor a prefix", a)
			continue
		}
		prefixes = append(prefixes, p)
	}
	hosts := map[string]netip.Addr{}
	for name, a := range n.Hosts {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			bad("network host %s: %q is not an address", name, a)
			continue
		}
		// As the resolver looks names up: lower case, without the root's dot.
		hosts[strings.TrimSuffix(strings.ToLower(name), ".")] = addr
	}
	return prefixes, hosts, policy
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

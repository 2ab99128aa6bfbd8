package config

import (
	"errors"
	"fmt"
	"math"
	"path"
	"regexp"
	"strings"
	"unicode"

	"github.com/docker/go-units"
	"github.com/oneshot-dev/oneshot/sandbox/hostpattern"
)

// MaxCPUs is the most CPUs a sandbox may be given, as sandbox.Spec
// allows: far more than a machine has.
const MaxCPUs = 1024

// Validate reports every problem with r at once, one a line, each naming
// its key, as in "fix_rounds is 9; it must be between 0 and 5". ParseRepo
// runs it and adds the file and line.
func (r Repo) Validate() error {
	var errs []error
	r.validate(func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s %s", key, fmt.Sprintf(format, args...)))
	})
	return errors.Join(errs...)
}

func (r Repo) validate(bad problem) {
	for i, c := range r.Setup {
		if strings.TrimSpace(c) == "" {
			bad(index("setup", i), "is empty")
		}
	}
	validateChecks(r.Verify, bad)
	if r.FixRounds < 0 || r.FixRounds > MaxFixRounds {
		bad("fix_rounds", "is %d; it must be between 0 and %d", r.FixRounds, MaxFixRounds)
	}
	if r.Image != "" && !imageRef.MatchString(r.Image) {
		bad("image", "%q is not an image such as %s", r.Image, DefaultSandboxImage)
	}
	r.Network.validate(bad)
	// The operator's max_limits take a number alone, as bytes, as they
	// always have; in a repository's file a number alone is a slip, and
	// said first: "512" meant as megabytes is not told it is below 32m.
	for _, size := range []struct{ key, value string }{{"limits.memory", r.Limits.Memory}, {"limits.disk", r.Limits.Disk}} {
		if _, problem := sizeProblem(size.value); problem == "" && strings.IndexFunc(size.value, unicode.IsLetter) < 0 {
			bad(size.key, "%q has no unit; a size is a number and a unit, as in 512m or 4g", size.value)
		}
	}
	r.Limits.validate("limits", bad)
	if r.Timeout < 0 {
		bad("timeout", "is %v; it must be positive, or 0 for the operator's queue.task_timeout", r.Timeout)
	}
	if p := refPrefixProblem(r.BranchPrefix); p != "" {
		bad("branch_prefix", "%s", p)
	}
	r.PullRequest.validate(bad)
	for i, p := range r.ProtectedPaths {
		if msg := protectedPathProblem(p); msg != "" {
			bad(index("protected_paths", i), "%q %s", p, msg)
		}
	}
	r.Agent.validate(bad)
}

// imageRef is loose on purpose: Docker says exactly what is wrong with a
// reference; this only catches what cannot be one, such as a space.
var imageRef = regexp.MustCompile(`^[a-z0-9][A-Za-z0-9._/:@-]*$`)

func validateChecks(checks []Check, bad problem) {
	names := map[string]int{}
	for i, c := range checks {
		key := index("verify", i)
		if strings.TrimSpace(c.Run) == "" {
			bad(key+".run", "is missing; a check is a command, or a mapping of name and run")
			if c.Name == "" {
				continue // named after a command it does not have
			}
		}
		switch first, dup := names[c.Name]; {
		case strings.TrimSpace(c.Name) == "":
			bad(key+".name", "is empty")
		case dup:
			bad(key+".name", "%q is also the name of %s; give each check its own name", c.Name, index("verify", first))
		default:
			names[c.Name] = i
		}
	}
}

func (n RepoNetwork) validate(bad problem) {
	switch n.Mode {
	case NetworkNone:
		if len(n.Allow) > 0 {
			bad("network.allow", "applies only to network.mode filtered, not none")
		}
		if len(n.Deny) > 0 {
			bad("network.deny", "applies only to network.mode filtered, not none")
		}
	case NetworkFiltered:
	case NetworkHost:
		bad("network.mode", "is host, which no task may use: it would give the sandbox the bot's own network; use none, or filtered with an allow list")
	default:
		bad("network.mode", "%q is not one of none, filtered", n.Mode)
	}
	for i, p := range n.Allow {
		if msg := hostPatternProblem(p); msg != "" {
			bad(index("network.allow", i), "%q %s", p, msg)
		}
	}
	for i, p := range n.Deny {
		if msg := hostPatternProblem(p); msg != "" {
			bad(index("network.deny", i), "%q %s", p, msg)
		}
	}
}

// hostPatternProblem says what keeps p from being a host name pattern the
// sandbox's proxy can match, or returns "".
func hostPatternProblem(p string) string {
	if _, err := hostpattern.Parse(p); err != nil {
		return err.Error()
	}
	if strings.ToLower(p) != p {
		return "has capitals; host names are matched in lower case"
	}
	return ""
}

// minRepoMemory and minRepoPids are the sandbox's minimums, below which
// sandboxd cannot start (sandbox.MinPids).
const (
	minRepoMemory = 32 << 20
	minRepoPids   = 64
)

// validate checks limits found at key, "limits" in a repository's
// settings.
func (l RepoLimits) validate(key string, bad problem) {
	if n, problem := sizeProblem(l.Memory); problem != "" {
		bad(key+".memory", "%s", problem)
	} else if n < minRepoMemory {
		bad(key+".memory", "%q is below the minimum of 32m", l.Memory)
	}
	if _, problem := sizeProblem(l.Disk); problem != "" {
		bad(key+".disk", "%s", problem)
	}
	if !(l.CPUs >= 0.01) { // NaN too
		bad(key+".cpus", "is %v; it must be at least 0.01", l.CPUs)
	} else if math.IsInf(l.CPUs, 1) {
		bad(key+".cpus", "is infinite; it must be a number of processors such as 2")
	} else if l.CPUs > MaxCPUs {
		bad(key+".cpus", "is %v; it must be at most %d", l.CPUs, MaxCPUs)
	}
	if l.Pids < minRepoPids {
		bad(key+".pids", "is %d; it must be at least %d, as the sandbox's own daemon takes some thirty threads of them", l.Pids, minRepoPids)
	}
}

// validateMost checks l as sandbox.max_limits. A repository that names
// no limits gets the defaults, so they are the least the most may be; the
// sandbox's own minimums, below them, are checked for what is left, so
// that no setting is reported twice, with two numbers.
func (l RepoLimits) validateMost(bad problem) {
	const least = "; it must be at least %v, what a repository gets when it names no limits"
	below := map[string]bool{}
	tooLow := func(key, format string, args ...any) {
		below[key] = true
		bad(key, format+least, args...)
	}
	if n, p := sizeProblem(l.Memory); p == "" && n < ramBytes(DefaultRepoMemory) {
		tooLow("sandbox.max_limits.memory", "is %s", l.Memory, DefaultRepoMemory)
	}
	if n, p := sizeProblem(l.Disk); p == "" && n < ramBytes(DefaultRepoDisk) {
		tooLow("sandbox.max_limits.disk", "is %s", l.Disk, DefaultRepoDisk)
	}
	if !(l.CPUs >= DefaultRepoCPUs) { // NaN too
		tooLow("sandbox.max_limits.cpus", "is %v", l.CPUs, DefaultRepoCPUs)
	}
	if l.Pids < DefaultRepoPids {
		tooLow("sandbox.max_limits.pids", "is %d", l.Pids, DefaultRepoPids)
	}
	l.validate("sandbox.max_limits", skipping(below, bad))
}

// sizeProblem reads a size such as 512m, or says what is wrong with it.
// units.RAMInBytes turns a size past what an int64 holds, as 9000000000g,
// into the least int64 on amd64 and the greatest on arm64, and says
// nothing: both are refused as no size.
func sizeProblem(size string) (int64, string) {
	n, err := units.RAMInBytes(size)
	if err != nil || n <= 0 || n == math.MaxInt64 {
		return 0, fmt.Sprintf("%q is not a size such as 512m or 4g", size)
	}
	return n, ""
}

// refPrefixProblem says what keeps p from starting branch names, by the
// rules of git check-ref-format, or returns "".
func refPrefixProblem(p string) string {
	const example = "; it must be a name ending in / such as " + DefaultBranchPrefix
	switch {
	case p == "":
		return "is empty" + example
	case !strings.HasSuffix(p, "/"):
		return fmt.Sprintf("%q does not end in /%s", p, example)
	case strings.HasPrefix(p, "/") || strings.HasPrefix(p, "-"):
		return fmt.Sprintf("%q starts with %q, which git refuses in a branch name", p, p[:1])
	case strings.Contains(p, "//"):
		return fmt.Sprintf("%q has an empty component between slashes", p)
	case strings.Contains(p, ".."):
		return fmt.Sprintf("%q contains .., which git refuses in a branch name", p)
	case strings.Contains(p, "@{"):
		return fmt.Sprintf("%q contains @{, which git refuses in a branch name", p)
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) }):
		return fmt.Sprintf("%q contains a space, a control character or one of ~^:?*[\\, which git refuses in a branch name", p)
	}
	for c := range strings.SplitSeq(strings.TrimSuffix(p, "/"), "/") {
		if strings.HasPrefix(c, ".") || strings.HasSuffix(c, ".lock") {
			return fmt.Sprintf("%q has a component starting with . or ending in .lock, which git refuses", p)
		}
	}
	return ""
}

// login is a GitHub user name: letters, digits and inner hyphens, and for
// a managed user (Enterprise Managed Users) '_' and its enterprise's
// short code, as in mona_acme.
var login = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_-]{0,98}[A-Za-z0-9])?$`)

func (o PullRequestOptions) validate(bad problem) {
	for i, l := range o.Labels {
		if p := labelProblem(l); p != "" {
			bad(index("pull_request.labels", i), "%s", p)
		}
	}
	for i, r := range o.Reviewers {
		switch {
		case strings.HasPrefix(r, "@") && login.MatchString(r[1:]):
			bad(index("pull_request.reviewers", i), "%q starts with @; write the login alone, as in %s", r, r[1:])
		case !login.MatchString(r):
			bad(index("pull_request.reviewers", i), "%q is not a GitHub login", r)
		}
	}
}

// protectedPathProblem says what keeps p from being a protected path, or
// returns "".
func protectedPathProblem(p string) string {
	_, inside := cleanRepoPath(p)
	_, err := path.Match(p, "")
	switch {
	case p == "":
		return "is empty"
	case strings.HasPrefix(p, "/"):
		return "is absolute; paths are relative to the repository's root, as in .github/workflows/"
	case !inside:
		return "is not a path inside the repository"
	case err != nil:
		return fmt.Sprintf("does not compile: %v", err)
	case strings.Contains(p, "**"):
		// path.Match reads ** as *, which stops at a slash: ".github/**"
		// would leave .github/workflows/ci.yml unprotected.
		return "uses **, which matches no more than *; end a directory with / to protect everything under it"
	}
	return ""
}

func (a AgentOptions) validate(bad problem) {
	if a.Command != "" && !FindsPrompt(a.Command) {
		bad("agent.command", NoPrompt)
	}
	if a.Timeout < 0 {
		bad("agent.timeout", "is %v; it must be positive, or 0 for the operator's agent.timeout", a.Timeout)
	}
}

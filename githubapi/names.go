package githubapi

import (
	"regexp"
	"strings"
)

// What GitHub allows in names: an account's login is letters, digits and
// hyphens, not starting with a hyphen, at most 39 long, and an App's ends
// in "[bot]"; a managed user's (Enterprise Managed Users) adds '_' and its
// enterprise's short code, as in mona_acme, which may make it longer; a
// repository's name is letters, digits, '.', '-' and '_'. API paths and
// clone URLs are built from names: one that would leave its segment of a
// path ("x/../admin") is refused wherever it comes from.
var (
	accountName    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$`)
	repositoryName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
)

// SplitFullName splits a repository's full name, owner/name, and says
// whether it is one.
func SplitFullName(fullName string) (owner, name string, ok bool) {
	owner, name, ok = strings.Cut(fullName, "/")
	if !ok || !accountName.MatchString(owner) || !repositoryName.MatchString(name) || name == "." || name == ".." {
		return "", "", false
	}
	return owner, name, true
}

// IsLogin says whether s is an account's login.
func IsLogin(s string) bool {
	return accountName.MatchString(strings.TrimSuffix(s, "[bot]"))
}

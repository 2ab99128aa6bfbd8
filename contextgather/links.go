package contextgather

import (
	"cmp"
	"context"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-github/v62/github"
	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/githubapi"
)

// MaxLinked is how many linked issues and pull requests are read: the
// first few mentioned carry the context, and each costs a call and
// prompt space.
const MaxLinked = 5

var (
	// shortRef is "#12" or "GH-12", as GitHub links them: not inside a
	// word, a path or an HTML entity.
	shortRef = regexp.MustCompile(`(?:^|[^\w/#&.\-])(?:#|(?i:gh-))([0-9]+)\b`)
	// repoRef is "owner/name#12".
	repoRef = regexp.MustCompile(`(?:^|[^\w/.\-])([A-Za-z0-9][A-Za-z0-9\-]*)/([\w.\-]+)#([0-9]+)\b`)
	// anyURL is an address, to its first space, bracket or table bar.
	anyURL = regexp.MustCompile(`(?i)\bhttps?://[^\s<>()\[\]|]+`)
)

// urlRef matches addresses of issues and pull requests on webURL, such
// as https://github.com/owner/name/issues/12; nil when webURL is not an
// address.
func urlRef(webURL string) *regexp.Regexp {
	u, err := url.Parse(webURL)
	if err != nil || u.Host == "" {
		return nil
	}
	base := regexp.QuoteMeta(u.Host + strings.TrimSuffix(u.Path, "/"))
	return regexp.MustCompile(`(?i)\bhttps?://` + base + `/([\w.\-]+)/([\w.\-]+)/(?:issues|pull)/([0-9]+)\b`)
}

// findRefs returns the numbers of the issues and pull requests of
// owner/name that texts refer to, in the order first mentioned, without
// self, at most MaxLinked. References in code do not count, as on GitHub;
// nor do other repositories', which the App may not read and the task is
// not about.
func findRefs(webURL, owner, name string, self int, texts ...string) []int {
	byURL := urlRef(webURL)
	var out []int
	for _, t := range texts {
		type ref struct{ at, number int }
		var refs []ref
		prose := withoutCode(t)
		add := func(at int, o, n, number string) {
			num, err := strconv.Atoi(number)
			if err != nil || num <= 0 {
				return
			}
			if o == "" || (strings.EqualFold(o, owner) && strings.EqualFold(n, name)) {
				refs = append(refs, ref{at, num})
			}
		}
		// Inside an address, "#5" is a fragment or a query's text, not a
		// reference; addresses are matched as a whole below.
		words := anyURL.ReplaceAllStringFunc(prose, func(u string) string { return strings.Repeat(" ", len(u)) })
		for _, m := range shortRef.FindAllStringSubmatchIndex(words, -1) {
			add(m[2], "", "", words[m[2]:m[3]])
		}
		for _, m := range repoRef.FindAllStringSubmatchIndex(words, -1) {
			add(m[2], words[m[2]:m[3]], words[m[4]:m[5]], words[m[6]:m[7]])
		}
		if byURL != nil {
			for _, m := range byURL.FindAllStringSubmatchIndex(prose, -1) {
				add(m[0], prose[m[2]:m[3]], prose[m[4]:m[5]], prose[m[6]:m[7]])
			}
		}
		slices.SortStableFunc(refs, func(a, b ref) int { return cmp.Compare(a.at, b.at) })
		for _, r := range refs {
			if r.number != self && !slices.Contains(out, r.number) {
				if len(out) == MaxLinked {
					return out
				}
				out = append(out, r.number)
			}
		}
	}
	return out
}

// inRepository says whether GitHub's answer is an issue of repo. A
// transferred issue's old number redirects to it in its new repository,
// whose text (private, perhaps, and by people trusted there, not here)
// must not come in as this repository's.
func inRepository(is *github.Issue, repo *githubapi.Repo) bool {
	want := "/repos/" + repo.Owner + "/" + repo.Name
	url := is.GetRepositoryURL()
	return len(url) >= len(want) && strings.EqualFold(url[len(url)-len(want):], want)
}

// readLinked reads the linked issues and pull requests; one that cannot
// be read (deleted, transferred, a moment's error) is left out.
func readLinked(ctx context.Context, repo *githubapi.Repo, numbers []int, trust *trustCache, log zerolog.Logger) []Item {
	var out []Item
	for _, n := range numbers {
		is, _, err := repo.Client.Issues.Get(ctx, repo.Owner, repo.Name, n)
		if err != nil {
			log.Warn().Err(err).Int("linked", n).Msg("Could not read a linked issue; leaving it out.")
			continue
		}
		if !inRepository(is, repo) {
			log.Warn().Int("linked", n).Msg("A linked issue was moved to another repository; leaving it out.")
			continue
		}
		out = append(out, itemOf(ctx, is, trust, log))
	}
	return out
}

package contextgather

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-github/v62/github"
	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/githubapi"
)

const (
	// MinSearchRemaining is how many searches must be left in the
	// installation's search rate limit (30 a minute on GitHub) for the
	// search for related issues to run: it is a nicety, and the handlers
	// and other tasks may need the rest.
	MinSearchRemaining = 5
	// MaxRelated is how many related issues are kept.
	MaxRelated = 5
	// searchWords is how many words of the title are searched for.
	// GitHub wants every word to match, so a few distinctive ones find
	// more than the whole title.
	searchWords = 3
)

// related searches, once, for open or closed issues of the repository
// that share distinctive words with the title. It does not search when
// the rate limit cannot be read or is nearly spent, and neither the search
// nor the limit's read is tried again, so related issues never cost a
// wait: they are worth less than one.
func related(ctx context.Context, repo *githubapi.Repo, title string, skip map[int]bool, log zerolog.Logger) []Related {
	words := distinctiveWords(title, searchWords)
	if len(words) == 0 {
		return nil
	}
	ctx = githubapi.SendOnce(ctx)
	limits, _, err := repo.Client.RateLimit.Get(ctx)
	var answer *github.ErrorResponse
	switch {
	case errors.As(err, &answer) && answer.Response != nil && answer.Response.StatusCode == http.StatusNotFound:
		// GitHub Enterprise Server with rate limiting turned off answers
		// 404 ("Rate limiting is not enabled."): there is no limit to keep.
	case err != nil:
		log.Warn().Err(err).Msg("Could not read the search rate limit; not searching for related issues.")
		return nil
	case limits.GetSearch() == nil:
		log.Warn().Msg("The rate limit says nothing of searches; not searching for related issues.")
		return nil
	case limits.GetSearch().Remaining < MinSearchRemaining:
		log.Info().Int("remaining", limits.GetSearch().Remaining).Msg("Few searches are left in the rate limit; not searching for related issues.")
		return nil
	}
	q := fmt.Sprintf("repo:%s is:issue %s", repo.FullName(), strings.Join(words, " "))
	found, _, err := repo.Client.Search.Issues(ctx, q, &github.SearchOptions{
		ListOptions: github.ListOptions{PerPage: MaxRelated + len(skip)},
	})
	if err != nil {
		log.Warn().Err(err).Msg("Could not search for related issues; leaving them out.")
		return nil
	}
	var out []Related
	for _, is := range found.Issues {
		if skip[is.GetNumber()] || is.IsPullRequest() {
			continue
		}
		out = append(out, Related{
			Number: is.GetNumber(), Title: cleanTitle(is.GetTitle()), URL: is.GetHTMLURL(),
		})
		if len(out) == MaxRelated {
			break
		}
	}
	return out
}

// skipNumbers are the issues a search must not offer as related: the
// task's own and those already linked.
func skipNumbers(self int, linked []Item) map[int]bool {
	skip := map[int]bool{self: true}
	for _, it := range linked {
		skip[it.Number] = true
	}
	return skip
}

// distinctiveWords picks up to n words of a title worth searching for:
// the longest that are not common English, in the title's order. Words
// are letters and digits only, so nothing in a title becomes a search
// qualifier.
func distinctiveWords(title string, n int) []string {
	type word struct {
		text string
		at   int
	}
	var words []word
	seen := map[string]bool{}
	for i, w := range strings.FieldsFunc(strings.ToLower(title), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if utf8.RuneCountInString(w) < 3 || commonWords[w] || seen[w] {
			continue
		}
		seen[w] = true
		words = append(words, word{w, i})
	}
	slices.SortStableFunc(words, func(a, b word) int {
		return cmp.Compare(utf8.RuneCountInString(b.text), utf8.RuneCountInString(a.text))
	})
	words = words[:min(n, len(words))]
	slices.SortFunc(words, func(a, b word) int { return cmp.Compare(a.at, b.at) })
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = w.text
	}
	return out
}

// commonWords say little about what an issue is about.
var commonWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`the and for not but with when then than that this these those from into
		onto over under after before about does doesn didn isn wasn aren won dont cannot could should would will
		have has had was were are been being its all any some more most very just also only
		use used using get gets got getting make makes made add adds added fix fixes fixed error errors
		issue bug bugs feature request problem support work works working broken wrong new old way
		why what which who how where there here out off too via per yet`) {
		m[w] = true
	}
	return m
}()

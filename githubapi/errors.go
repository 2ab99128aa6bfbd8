package githubapi

import (
	"errors"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v62/github"
)

// What a failed request to GitHub says about trying it again.

// mayHaveHappened says whether a failed request may have been carried out
// all the same: GitHub answered a server error, or no answer came. A 4xx
// says it was not.
func mayHaveHappened(err error) bool {
	var answered *github.ErrorResponse
	if errors.As(err, &answered) && answered.Response != nil {
		return answered.Response.StatusCode >= 500
	}
	var limited *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	return !errors.As(err, &limited) && !errors.As(err, &abuse)
}

// failedForNow says whether a request that failed may succeed later: GitHub
// answered a server error or a rate limit, or no answer came. An
// installation token GitHub refused (the App was uninstalled, say) will
// not come later.
func failedForNow(err error) bool {
	var refused *ghinstallation.HTTPError
	if errors.As(err, &refused) && refused.Response != nil && refused.Response.StatusCode < 500 {
		return false
	}
	var limited *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	return mayHaveHappened(err) || errors.As(err, &limited) || errors.As(err, &abuse)
}

// isStatus says whether GitHub answered err with status.
func isStatus(err error, status int) bool {
	var answered *github.ErrorResponse
	return errors.As(err, &answered) && answered.Response != nil && answered.Response.StatusCode == status
}

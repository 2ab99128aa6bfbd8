package githubapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v62/github"
)

// What a failed request to GitHub says about trying it again.

// MayHaveHappened says whether a failed request may have been carried out
// all the same: GitHub answered a server error, or no answer came. A 4xx
// says it was not.
func MayHaveHappened(err error) bool {
	var token *ghinstallation.HTTPError
	if err == nil || errors.As(err, &token) { // no token, no request
		return false
	}
	var answered *github.ErrorResponse
	if errors.As(err, &answered) && answered.Response != nil {
		return answered.Response.StatusCode >= 500
	}
	return !rateLimited(err)
}

// rateLimited says whether err is a rate limit GitHub held a request to,
// as go-github tells it or as Retry does: GitHub did not carry it out.
func rateLimited(err error) bool {
	var limited *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var held *RateLimitedError
	return errors.As(err, &limited) || errors.As(err, &abuse) || errors.As(err, &held)
}

// AskedWait is how long GitHub asked a request it held to a rate limit
// to wait before it is sent again: the secondary limit's Retry-After, or
// until the primary limit resets; 0 for any other error.
func AskedWait(err error) time.Duration {
	var held *RateLimitedError
	var limited *github.RateLimitError
	switch {
	case errors.As(err, &held):
		return held.Wait
	case errors.As(err, &limited):
		return max(0, time.Until(limited.Rate.Reset.Time))
	}
	return 0
}

// failedForNow says whether a request that failed may succeed later: all
// but what GitHub refused (see Refused), which it will refuse again.
func failedForNow(err error) bool { return !Refused(err) }

// isStatus says whether GitHub answered err with status.
func isStatus(err error, status int) bool {
	var answered *github.ErrorResponse
	return errors.As(err, &answered) && answered.Response != nil && answered.Response.StatusCode == status
}

// DraftsRefused says whether GitHub refused to open a draft pull request
// because the repository has no drafts: private repositories on the Free
// and Pro plans have none.
func DraftsRefused(err error) bool {
	var answered *github.ErrorResponse
	return isStatus(err, http.StatusUnprocessableEntity) && errors.As(err, &answered) &&
		strings.Contains(answered.Message, "Draft pull requests are not supported")
}

// Refused says whether GitHub turned a request down in a way it will
// again: a client error that is not a rate limit (no such branch, a
// permission the App lacks), or an installation token it would not make
// (the App uninstalled). Trying again later does not help.
func Refused(err error) bool {
	var token *ghinstallation.HTTPError
	if errors.As(err, &token) {
		// A rate limit on the token's request passes, as on any other.
		return token.Response != nil && token.Response.StatusCode < 500 && !limitAnswer(token.Response)
	}
	var answered *github.ErrorResponse
	if !errors.As(err, &answered) || answered.Response == nil {
		return false
	}
	status := answered.Response.StatusCode
	return status >= 400 && status < 500 && status != http.StatusTooManyRequests
}

// limitAnswer says whether GitHub answered a request with a rate limit:
// 429, or 403 with a wait to keep or no requests left.
func limitAnswer(resp *http.Response) bool {
	return resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusForbidden &&
		(resp.Header.Get("Retry-After") != "" || resp.Header.Get("X-RateLimit-Remaining") == "0")
}

// Answer is GitHub's answer to a request that failed, in words fit for
// whoever asked the bot for work, or "" when GitHub gave none: the bot's
// own errors (its database's name its user and host) are for its log.
func Answer(err error) string {
	var token *ghinstallation.HTTPError
	if errors.As(err, &token) && token.Response != nil {
		return fmt.Sprintf("GitHub answered %d when asked for the App's installation token", token.Response.StatusCode)
	}
	var answered *github.ErrorResponse
	if errors.As(err, &answered) && answered.Response != nil {
		what := ""
		if req := answered.Response.Request; req != nil && req.URL != nil {
			what = " to " + req.Method + " " + req.URL.Path
		}
		return fmt.Sprintf("GitHub answered %d (%s)%s", answered.Response.StatusCode, answered.Message, what)
	}
	if rateLimited(err) {
		return "GitHub's rate limit held"
	}
	return ""
}

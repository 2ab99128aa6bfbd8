package githubapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
)

// Retry defaults.
const (
	DefaultRetryAttempts = 4
	DefaultRetryBase     = 500 * time.Millisecond
	// DefaultRetryMaxWait caps a wait GitHub asks for; a longer one fails
	// the request now rather than holding a worker for it.
	DefaultRetryMaxWait = 90 * time.Second
	// secondaryLimitWait is GitHub's advice for a secondary rate limit
	// answered without Retry-After: wait at least a minute.
	secondaryLimitWait = time.Minute
)

// RetryPolicy says what Retry retries and how long it waits.
type RetryPolicy struct {
	Attempts int           // tries in all, the first included
	Base     time.Duration // first backoff; doubles, with jitter
	MaxWait  time.Duration
}

// Retry is client middleware that retries what GitHub asks to be retried,
// and only what is safe to retry:
//
//   - 502, 503 and 504, and transport errors, for idempotent methods only:
//     a POST that timed out may have created its comment;
//   - a secondary rate limit (403 or 429 saying so, or with Retry-After)
//     for any method, since GitHub did not process the request; it waits
//     Retry-After, or a minute without one;
//   - a primary rate limit (X-RateLimit-Remaining: 0) until its reset,
//     when that is within MaxWait.
//
// A request whose context came from SendOnce is never retried; one whose
// context came from AnswerWithin is given up, and not retried, when GitHub
// is slow to answer it.
func Retry(p RetryPolicy) githubapp.ClientMiddleware {
	if p.Attempts < 1 {
		p.Attempts = DefaultRetryAttempts
	}
	if p.Base <= 0 {
		p.Base = DefaultRetryBase
	}
	if p.MaxWait <= 0 {
		p.MaxWait = DefaultRetryMaxWait
	}
	return func(next http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			return p.do(next, req)
		})
	}
}

func (p RetryPolicy) do(next http.RoundTripper, req *http.Request) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			if err := rewind(req); err != nil {
				return nil, err
			}
		}
		resp, err := send(next, req)
		if errors.Is(err, errNoAnswer) {
			return nil, err
		}
		wait, retry, limited := p.decide(req, resp, err, attempt)
		if !retry || attempt >= p.Attempts || wait > p.MaxWait || PastDeadline(req.Context(), wait) || sendOnce(req.Context()) {
			if limited {
				// Not GitHub's answer but an error: go-github, shown a
				// rate limit, would refuse every later request of the
				// installation's client, other tasks' included, at once,
				// where this middleware would have waited it out.
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
				return nil, &RateLimitedError{Status: resp.StatusCode, Wait: wait}
			}
			return resp, err
		}
		if resp != nil {
			// Drain so the connection can be reused.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if err := sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

type sendOnceKey struct{}

// SendOnce marks the requests made with the context it returns to be sent
// once, never retried: for a call whose answer is worth less than a wait,
// such as the search for related issues.
func SendOnce(ctx context.Context) context.Context {
	return context.WithValue(ctx, sendOnceKey{}, true)
}

func sendOnce(ctx context.Context) bool { return ctx.Value(sendOnceKey{}) != nil }

type answerWithinKey struct{}

// errNoAnswer is a try that GitHub did not answer within the time
// AnswerWithin gave it.
var errNoAnswer = errors.New("GitHub did not answer")

// AnswerWithin marks the requests made with the context it returns to be
// given up when GitHub has not answered a try within d, and not tried
// again: for a write the next one supersedes, such as a progress report,
// which must not hold up the task's other writes on a GitHub that stalls.
// Only a try's time counts, not the waits between tries: a deadline on ctx
// would have the client give up on any Retry-After longer than what is
// left, and go-github, told of the rate limit, then refuse every request
// of the installation until it passes.
func AnswerWithin(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, answerWithinKey{}, d)
}

// send makes one try of req, given up after the time AnswerWithin gave it.
func send(next http.RoundTripper, req *http.Request) (*http.Response, error) {
	d, ok := req.Context().Value(answerWithinKey{}).(time.Duration)
	if !ok {
		return next.RoundTrip(req)
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(d, func() { cancel(errNoAnswer) })
	resp, err := next.RoundTrip(req.WithContext(ctx))
	timer.Stop()
	if err != nil {
		if errors.Is(context.Cause(ctx), errNoAnswer) {
			err = fmt.Errorf("%w within %v", errNoAnswer, d)
		}
		cancel(nil)
		return nil, err
	}
	// The body is read with the try's context, which lasts until then.
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (b cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}

// UntilTaken runs write until GitHub takes it or refuses it for good,
// waiting first after the first failure and twice as long after each next
// one, or as long as a rate limit asked when that is longer, while ctx
// leaves time for the wait, and returns write's last error: for a write
// nothing later makes, such as an attempt's final comment.
func UntilTaken(ctx context.Context, first time.Duration, write func() error) error {
	for wait := first; ; wait *= 2 {
		err := write()
		wait = max(wait, AskedWait(err))
		if err == nil || Refused(err) || PastDeadline(ctx, wait) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// PastDeadline says whether ctx ends before a wait does: a request
// would fail then all the same, and the time is better left to the
// caller's next write, such as the final comment after a check run.
func PastDeadline(ctx context.Context, wait time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return ok && time.Until(deadline) < wait
}

// decide says whether to retry and after how long, and whether GitHub
// answered with a secondary rate limit.
func (p RetryPolicy) decide(req *http.Request, resp *http.Response, err error, attempt int) (wait time.Duration, retry, limited bool) {
	backoff := p.Base << (attempt - 1)
	backoff += rand.N(backoff/2 + 1) // jitter, so replicas do not retry in step
	if err != nil {
		return backoff, idempotent(req.Method) && req.Context().Err() == nil, false
	}
	switch {
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests:
		if after, ok := retryAfter(resp); ok {
			return after, true, true
		}
		// A primary limit is not called one: the installation has no
		// requests left until the reset, and go-github, told so, rightly
		// sends none.
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
			if err != nil {
				return 0, false, false
			}
			// A reset far off (or sent in milliseconds) saturates the
			// duration, which a second more would overflow.
			if wait := time.Until(time.Unix(reset, 0)); wait <= p.MaxWait {
				return wait + time.Second, true, false
			}
			return 0, false, false
		}
		if secondaryLimited(resp) {
			return secondaryLimitWait, true, true
		}
		return 0, false, false
	case resp.StatusCode == http.StatusBadGateway, resp.StatusCode == http.StatusServiceUnavailable,
		resp.StatusCode == http.StatusGatewayTimeout:
		// A wait GitHub asks for is kept, when longer than the backoff.
		if after, ok := retryAfter(resp); ok {
			backoff = max(backoff, after)
		}
		return backoff, idempotent(req.Method), false
	}
	return 0, false, false
}

// RateLimitedError is a request GitHub refused for a secondary rate limit
// that was not waited out: the wait was too long, past the caller's deadline, or
// the request was to be sent once. GitHub did not carry it out.
type RateLimitedError struct {
	Status int
	Wait   time.Duration // what GitHub asked for
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("GitHub's rate limit held (%d; it asked for a wait of %v)", e.Status, e.Wait.Round(time.Second))
}

func retryAfter(resp *http.Response) (time.Duration, bool) {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
		// Capped before it is multiplied, which could overflow into a
		// negative wait; any wait this long is past MaxWait anyway.
		return time.Duration(min(secs, 1<<31)) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(time.Until(at), 0), true
	}
	return 0, false
}

// secondaryLimited reads the body for GitHub's wording, and puts it back.
func secondaryLimited(resp *http.Response) bool {
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return err == nil && strings.Contains(strings.ToLower(string(body)), "secondary rate limit")
}

// idempotent says whether sending a request twice does no more than once.
// PATCH is not in general, but every PATCH oneshot sends sets a check run or
// comment to a whole new state, so repeating it is harmless.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodPatch:
		return true
	}
	return false
}

// rewind gives a request its body back for another try.
func rewind(req *http.Request) error {
	if req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	if req.GetBody == nil {
		return errors.New("cannot retry a request whose body cannot be read again")
	}
	body, err := req.GetBody()
	if err != nil {
		return err
	}
	req.Body = body
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	waits := waitsOf(ctx)
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-waits.Done():
		return waits.Err()
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

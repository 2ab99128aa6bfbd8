package githubtest

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

const (
	// secondaryRateLimitMessage and secondaryRateLimitDocs are GitHub's own
	// words; go-github recognises the secondary limit by the docs URL.
	secondaryRateLimitMessage = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
	secondaryRateLimitDocs    = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)

// Request is one request the fake received.
type Request struct {
	Method string
	// Path is the path as sent, still escaped, without the /api/v3 prefix
	// for API requests: "/repos/o/r/issues/1", "/git/o/r.git/info/refs".
	Path  string
	Query string
	// Status is the status answered, or 0 if the client left first.
	Status int
	Time   time.Time
}

// fault is an answer the test arranged for requests that match.
type fault struct {
	method     string
	pattern    pattern
	status     int
	secondary  bool // a secondary rate limit, with retryAfter
	retryAfter time.Duration
	reset      time.Time // for a primary rate limit: when it resets
	served     bool      // the request is served first, its answer lost
	left       int       // negative: forever
}

type slow struct {
	method  string
	pattern pattern
	delay   time.Duration
}

// stall holds requests unanswered; see Stall and Hold.
type stall struct {
	method  string
	pattern pattern
	left    int
	arrived chan struct{}
	// release, when closed, lets the requests held go on to be served;
	// nil for a Stall, which never does.
	release chan struct{}
}

// Fail answers the next times requests that match method ("" for any) and
// pathPattern with status and a GitHub-style JSON error body, instead of
// serving them. A negative times fails every matching request from now
// on. Faults are tried in the order they were added.
func (s *Server) Fail(method, pathPattern string, status, times int) {
	s.addFault(&fault{method: method, pattern: mustPattern(pathPattern), status: status, left: times})
}

// FailAfterServing serves the next times requests that match method and
// pathPattern, and then answers status in place of what it served: as when
// GitHub made the comment or the check run and its answer was lost on the
// way, which a client cannot tell from a request that did nothing.
func (s *Server) FailAfterServing(method, pathPattern string, status, times int) {
	s.addFault(&fault{method: method, pattern: mustPattern(pathPattern), status: status, served: true, left: times})
}

// SecondaryRateLimit answers the next times matching requests the way
// GitHub enforces its secondary rate limit: 403, Retry-After in whole
// seconds (rounded up), and GitHub's message and documentation URL.
func (s *Server) SecondaryRateLimit(method, pathPattern string, retryAfter time.Duration, times int) {
	s.addFault(&fault{
		method: method, pattern: mustPattern(pathPattern),
		status: http.StatusForbidden, secondary: true, retryAfter: retryAfter, left: times,
	})
}

// Unavailable answers the next times matching requests 503 with a
// Retry-After in whole seconds (rounded up), as GitHub may while it is
// under maintenance or load.
func (s *Server) Unavailable(method, pathPattern string, retryAfter time.Duration, times int) {
	s.addFault(&fault{
		method: method, pattern: mustPattern(pathPattern),
		status: http.StatusServiceUnavailable, retryAfter: retryAfter, left: times,
	})
}

// PrimaryRateLimit answers the next times matching requests the way
// GitHub does when an installation has used its hourly requests: 403,
// X-RateLimit-Remaining 0 and X-RateLimit-Reset at reset, in Unix seconds.
func (s *Server) PrimaryRateLimit(method, pathPattern string, reset time.Time, times int) {
	s.addFault(&fault{
		method: method, pattern: mustPattern(pathPattern),
		status: http.StatusForbidden, reset: reset, left: times,
	})
}

// Slow delays every matching request by delay before it is served (or
// failed). Delays of several matching calls add up.
func (s *Server) Slow(method, pathPattern string, delay time.Duration) {
	p := mustPattern(pathPattern)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slows = append(s.slows, slow{method: method, pattern: p, delay: delay})
}

// Stall holds the next times requests that match method and pathPattern
// without an answer until their client gives up, as GitHub does when it
// takes a request and never answers. The channel receives once as each of
// them arrives, so a test knows it is in flight.
func (s *Server) Stall(method, pathPattern string, times int) <-chan struct{} {
	st := &stall{method: method, pattern: mustPattern(pathPattern), left: times, arrived: make(chan struct{}, max(times, 0))}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stalls = append(s.stalls, st)
	return st.arrived
}

// Hold holds the next request that matches method and pathPattern until
// release is called, and then serves it: as GitHub does when it is slow
// to answer, for as long as a test needs something else to happen first.
// arrived receives once as the request comes.
func (s *Server) Hold(method, pathPattern string) (arrived <-chan struct{}, release func()) {
	st := &stall{method: method, pattern: mustPattern(pathPattern), left: 1, arrived: make(chan struct{}, 1), release: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stalls = append(s.stalls, st)
	return st.arrived, sync.OnceFunc(func() { close(st.release) })
}

// Requests returns every request received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count returns how many requests so far matched method ("" for any) and
// pathPattern.
func (s *Server) Count(method, pathPattern string) int {
	p := mustPattern(pathPattern)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if p.matches(r.Method, method, r.Path) {
			n++
		}
	}
	return n
}

func (s *Server) addFault(f *fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

func (s *Server) logRequest(r *http.Request, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: path, Query: r.URL.RawQuery, Time: time.Now(),
	})
	return len(s.requests) - 1
}

func (s *Server) logStatus(i, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[i].Status = status
}

// wait sleeps for the delays that match, or until the client gives up
// on a stalled request or the test releases a held one, and reports false
// if the client gave up.
func (s *Server) wait(r *http.Request, path string) bool {
	var d time.Duration
	var stalled *stall
	s.mu.Lock()
	for _, st := range s.stalls {
		if st.left > 0 && st.pattern.matches(r.Method, st.method, path) {
			st.left--
			stalled = st
			break
		}
	}
	for _, sl := range s.slows {
		if sl.pattern.matches(r.Method, sl.method, path) {
			d += sl.delay
		}
	}
	s.mu.Unlock()
	if stalled != nil {
		stalled.arrived <- struct{}{}
		select {
		case <-stalled.release:
		case <-r.Context().Done():
			return false
		case <-s.closing:
			// The test is over: the connection is dropped, so that
			// closing the server does not wait for a client that never
			// gives up.
			panic(http.ErrAbortHandler)
		}
	}
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// takeFault returns the first fault that matches and has uses left, using
// one, and reports whether there was one.
func (s *Server) takeFault(method, path string) (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cand := range s.faults {
		if cand.left != 0 && cand.pattern.matches(method, cand.method, path) {
			if cand.left > 0 {
				cand.left--
			}
			return *cand, true
		}
	}
	return fault{}, false
}

// write answers as the fault says.
func (f fault) write(w http.ResponseWriter) {
	if f.secondary {
		secs := int((f.retryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSON(w, f.status, map[string]any{
			"message":           secondaryRateLimitMessage,
			"documentation_url": secondaryRateLimitDocs,
		})
		return
	}
	if !f.reset.IsZero() {
		w.Header().Set("X-RateLimit-Limit", "5000")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(f.reset.Unix(), 10))
		writeJSON(w, f.status, map[string]any{
			"message":           "API rate limit exceeded for installation.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
		})
		return
	}
	if f.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((f.retryAfter+time.Second-1)/time.Second)))
	}
	writeError(w, f.status, http.StatusText(f.status))
}

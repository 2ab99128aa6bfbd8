package githubtest

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// searchWindow is how often GitHub refills the search limit; the fake
	// reports it but never refills.
	searchWindow = time.Minute
	// primaryRateLimitDocs is where GitHub's primary rate limit errors
	// point.
	primaryRateLimitDocs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"
)

// SetSearchRemaining sets how many searches are left. Each search spends
// one; at zero, search answers 403 as GitHub does when its limit is spent.
func (s *Server) SetSearchRemaining(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.searchRemaining = n
}

// getRateLimit answers GET /rate_limit.
func (s *Server) getRateLimit(w http.ResponseWriter, r *http.Request, _ *call) {
	s.mu.Lock()
	remaining := s.searchRemaining
	s.mu.Unlock()
	core := rateJSON(coreLimit, coreLimit, now().Add(coreWindow))
	search := rateJSON(max(DefaultSearchLimit, remaining), remaining, now().Add(searchWindow))
	writeJSON(w, http.StatusOK, map[string]any{
		"resources": map[string]any{"core": core, "search": search},
		"rate":      core,
	})
}

func rateJSON(limit, remaining int, reset time.Time) map[string]any {
	return map[string]any{
		"limit": limit, "remaining": remaining, "used": limit - remaining, "reset": reset.Unix(),
	}
}

// searchIssues answers GET /search/issues. It understands the qualifiers
// repo:, is:/type: (issue, pr), state: and label:, ignores the others,
// and matches an issue whose title or body holds any remaining word.
func (s *Server) searchIssues(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query().Get("q")
	if strings.TrimSpace(q) == "" {
		writeValidation(w, "Search", "q", "missing", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := max(DefaultSearchLimit, s.searchRemaining)
	if s.searchRemaining <= 0 {
		setRateHeaders(w.Header(), "search", limit, 0, now().Add(searchWindow))
		writeJSON(w, http.StatusForbidden, map[string]any{
			"message":           fmt.Sprintf("API rate limit exceeded for installation ID %d.", c.token.InstallationID),
			"documentation_url": primaryRateLimitDocs,
		})
		return
	}
	s.searchRemaining--
	setRateHeaders(w.Header(), "search", limit, s.searchRemaining, now().Add(searchWindow))

	match := parseSearch(q)
	type hit struct {
		repo *Repo
		st   *issueState
	}
	var hits []hit
	for _, repo := range s.sortedRepos() {
		if !c.token.canSee(repo) {
			continue
		}
		for _, n := range slices.Sorted(maps.Keys(repo.issues)) {
			if match(repo, repo.issues[n]) {
				hits = append(hits, hit{repo, repo.issues[n]})
			}
		}
	}
	lo, hi := s.page(w, r, len(hits))
	items := []any{}
	for _, h := range hits[lo:hi] {
		item := s.issueJSON(h.repo, h.st)
		item["score"] = 1.0
		items = append(items, item)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"total_count":        len(hits),
		"incomplete_results": false,
		"items":              items,
	})
}

// parseSearch turns a query into a test of one issue.
func parseSearch(q string) func(*Repo, *issueState) bool {
	var words []string
	var tests []func(*Repo, *issueState) bool
	for _, tok := range strings.Fields(q) {
		key, value, ok := strings.Cut(tok, ":")
		value = strings.Trim(value, `"`)
		if !ok {
			words = append(words, strings.ToLower(strings.Trim(tok, `"`)))
			continue
		}
		switch strings.ToLower(key) {
		case "repo":
			tests = append(tests, func(r *Repo, _ *issueState) bool { return strings.EqualFold(r.FullName, value) })
		case "is", "type":
			switch value {
			case "issue":
				tests = append(tests, func(_ *Repo, st *issueState) bool { return !st.PullRequest })
			case "pr", "pull-request":
				tests = append(tests, func(_ *Repo, st *issueState) bool { return st.PullRequest })
			case "open", "closed":
				tests = append(tests, func(_ *Repo, st *issueState) bool { return st.State == value })
			}
		case "state":
			tests = append(tests, func(_ *Repo, st *issueState) bool { return st.State == value })
		case "label":
			tests = append(tests, func(_ *Repo, st *issueState) bool {
				return slices.ContainsFunc(st.Labels, func(l string) bool { return strings.EqualFold(l, value) })
			})
		}
	}
	return func(repo *Repo, st *issueState) bool {
		for _, t := range tests {
			if !t(repo, st) {
				return false
			}
		}
		text := strings.ToLower(st.Title + "\n" + st.Body)
		return len(words) == 0 || slices.ContainsFunc(words, func(w string) bool { return strings.Contains(text, w) })
	}
}

// setRateHeaders sets the X-RateLimit headers GitHub sends with every
// answer and go-github reads.
func setRateHeaders(h http.Header, resource string, limit, remaining int, reset time.Time) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(limit-remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", resource)
}

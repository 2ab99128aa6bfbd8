package githubtest

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

const (
	// coreLimit is the core rate limit the fake reports; it never runs out.
	coreLimit = 5000
	// coreWindow is how often GitHub refills the core limit; the fake
	// reports it but never needs to refill.
	coreWindow = time.Hour
)

// route is one REST endpoint.
type route struct {
	method  string
	pattern pattern
	app     bool   // authenticated as the App (JWT), not an installation
	perm    string // App permission it needs, "scope:level"; "" for none
	serve   func(http.ResponseWriter, *http.Request, *call)
}

// call is what serveAPI learned about a request before its handler runs.
type call struct {
	token *Token // nil for App (JWT) routes
	repo  *Repo  // set when the route names {owner}/{repo}
}

// apiRoutes lists the endpoints. Order matters where patterns overlap:
// the first match wins, so literal segments come before wildcards.
func (s *Server) apiRoutes() []route {
	app := func(method, p string, h func(http.ResponseWriter, *http.Request, *call)) route {
		return route{method: method, pattern: mustPattern(p), app: true, serve: h}
	}
	inst := func(method, p, perm string, h func(http.ResponseWriter, *http.Request, *call)) route {
		return route{method: method, pattern: mustPattern(p), perm: perm, serve: h}
	}
	const repo = "/repos/{owner}/{repo}"
	return []route{
		app("GET", "/app", s.getApp),
		app("GET", "/app/installations", s.listInstallations),
		app("GET", "/app/installations/{id}", s.getInstallation),
		app("POST", "/app/installations/{id}/access_tokens", s.createToken),
		app("GET", repo+"/installation", s.getRepoInstallation),

		inst("GET", "/rate_limit", "", s.getRateLimit),
		inst("GET", "/users/{login}", "", s.getUser),
		inst("GET", "/search/issues", "issues:read", s.searchIssues),

		inst("GET", repo, "metadata:read", s.getRepo),
		inst("GET", repo+"/collaborators/{user}/permission", "metadata:read", s.getPermission),
		inst("GET", repo+"/languages", "metadata:read", s.getLanguages),
		inst("GET", repo+"/branches/{branch...}", "contents:read", s.getBranch),
		inst("GET", repo+"/git/ref/{ref...}", "contents:read", s.getRef),
		inst("GET", repo+"/commits/{ref}/check-runs", "checks:read", s.listCheckRunsForRef),
		inst("GET", repo+"/commits/{ref...}", "contents:read", s.getCommit),
		inst("GET", repo+"/contents/{path...}", "contents:read", s.getContents),

		inst("GET", repo+"/issues/comments/{id}", "issues:read", s.getComment),
		inst("PATCH", repo+"/issues/comments/{id}", "issues:write", s.editComment),
		inst("POST", repo+"/issues/comments/{id}/reactions", "issues:write", s.reactToComment),
		inst("GET", repo+"/issues/{number}", "issues:read", s.getIssue),
		inst("GET", repo+"/issues/{number}/comments", "issues:read", s.listComments),
		inst("POST", repo+"/issues/{number}/comments", "issues:write", s.createComment),
		inst("POST", repo+"/issues/{number}/labels", "issues:write", s.addLabels),
		inst("DELETE", repo+"/issues/{number}/labels/{name}", "issues:write", s.removeLabel),
		inst("POST", repo+"/issues/{number}/reactions", "issues:write", s.reactToIssue),

		inst("POST", repo+"/check-runs", "checks:write", s.createCheckRun),
		inst("GET", repo+"/check-runs/{id}", "checks:read", s.getCheckRun),
		inst("PATCH", repo+"/check-runs/{id}", "checks:write", s.updateCheckRun),

		inst("POST", repo+"/pulls/comments/{id}/reactions", "pull_requests:write", s.reactToReviewComment),
		inst("GET", repo+"/pulls/{number}/comments", "pull_requests:read", s.listPullComments),
		inst("POST", repo+"/pulls/{number}/comments", "pull_requests:write", s.createReviewComment),
		inst("GET", repo+"/pulls/{number}/reviews", "pull_requests:read", s.listReviews),
		inst("GET", repo+"/pulls/{number}/reviews/{review}/comments", "pull_requests:read", s.listReviewComments),
		inst("GET", repo+"/pulls", "pull_requests:read", s.listPulls),
		inst("POST", repo+"/pulls", "pull_requests:write", s.createPull),
		inst("GET", repo+"/pulls/{number}", "pull_requests:read", s.getPull),
		inst("PATCH", repo+"/pulls/{number}", "pull_requests:write", s.editPull),
		inst("POST", repo+"/pulls/{number}/requested_reviewers", "pull_requests:write", s.requestReviewers),
	}
}

// requestIDs numbers responses for the X-GitHub-Request-Id header.
var requestIDs atomic.Int64

// serveAPI finds the route, checks who is asking and whether they may,
// and runs the handler.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, path string) {
	h := w.Header()
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Request-Id", "FAKE:"+strconv.FormatInt(requestIDs.Add(1), 16))

	rt, ok := s.findRoute(r, path)
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	c := &call{}
	if rt.app {
		if msg := s.checkJWT(r.Header.Get("Authorization")); msg != "" {
			writeError(w, http.StatusUnauthorized, msg)
			return
		}
	} else {
		if c.token = s.tokenFrom(r.Header.Get("Authorization")); c.token == nil {
			writeError(w, http.StatusUnauthorized, "Bad credentials")
			return
		}
		setRateHeaders(h, "core", coreLimit, coreLimit, now().Add(coreWindow))
	}
	if owner := r.PathValue("owner"); owner != "" {
		// GitHub answers 404, not 403, for a repository the caller may not
		// see, so as not to reveal that it exists.
		if c.repo = s.visibleRepo(owner, r.PathValue("repo"), c.token); c.repo == nil {
			writeError(w, http.StatusNotFound, "Not Found")
			return
		}
	}
	if scope, level, ok := strings.Cut(rt.perm, ":"); ok && !s.allows(c.token, scope, level) {
		writeError(w, http.StatusForbidden, "Resource not accessible by integration")
		return
	}
	rt.serve(w, r, c)
}

// findRoute returns the first route matching r, with the path values set
// on r for the handler.
func (s *Server) findRoute(r *http.Request, path string) (route, bool) {
	for _, rt := range s.routes {
		if rt.method != r.Method {
			continue
		}
		if values, ok := rt.pattern.match(path); ok {
			for k, v := range values {
				r.SetPathValue(k, v)
			}
			return rt, true
		}
	}
	return route{}, false
}

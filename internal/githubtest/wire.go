package githubtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	// docsURL is the documentation_url of the fake's error bodies.
	docsURL = "https://docs.github.com/rest"
	// maxBody bounds a request body; GitHub's own limit is far larger than
	// anything the bot sends.
	maxBody = 10 << 20
	// Pagination defaults are GitHub's.
	defaultPerPage = 30
	maxPerPage     = 100
)

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	// An error here means the client is gone; there is no one to tell.
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with GitHub's error body.
func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]any{
		"message":           message,
		"documentation_url": docsURL,
		"status":            strconv.Itoa(status),
	})
}

// writeInvalid answers 422 the way GitHub's schema validation does:
// "Invalid request." and then what was wrong.
func writeInvalid(w http.ResponseWriter, format string, args ...any) {
	writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n"+fmt.Sprintf(format, args...))
}

// writeValidation answers 422 with GitHub's "Validation Failed" body and
// one error in it. An empty message leaves the message out, as GitHub
// does for codes such as "invalid" and "missing_field".
func writeValidation(w http.ResponseWriter, resource, field, code, message string) {
	e := map[string]any{"resource": resource, "code": code}
	if field != "" {
		e["field"] = field
	}
	if message != "" {
		e["message"] = message
	}
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message":           "Validation Failed",
		"errors":            []any{e},
		"documentation_url": docsURL,
		"status":            "422",
	})
}

// readJSON decodes the request body into v, answering 400 as GitHub does
// when it cannot; it reports whether the handler should go on.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err == nil && len(body) > 0 {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return false
	}
	return true
}

// now is the time stamps of new objects: UTC, whole seconds, as GitHub
// returns them.
func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// timeJSON is t in GitHub's format, or null when unset.
func timeJSON(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// page returns the bounds of the page of n items that r asks for with
// per_page and page, and sets the Link header GitHub clients follow.
func (s *Server) page(w http.ResponseWriter, r *http.Request, n int) (lo, hi int) {
	perPage := queryInt(r, "per_page", defaultPerPage)
	perPage = max(1, min(perPage, maxPerPage))
	pg := max(1, queryInt(r, "page", 1))
	last := max(1, (n+perPage-1)/perPage)
	link := func(p int, rel string) string {
		u := *r.URL
		q := u.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		u.RawQuery = q.Encode()
		return fmt.Sprintf("<%s%s>; rel=%q", s.URL(), u.RequestURI(), rel)
	}
	var links []string
	if pg < last {
		links = append(links, link(pg+1, "next"), link(last, "last"))
	}
	if pg > 1 {
		links = append(links, link(1, "first"), link(pg-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	lo = min((pg-1)*perPage, n)
	return lo, min(lo+perPage, n)
}

// queryInt reads a whole number from the query, or def when absent or
// malformed (GitHub ignores a malformed page number too).
func queryInt(r *http.Request, name string, def int) int {
	v, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil {
		return def
	}
	return v
}

// pathInt reads a whole-number path value such as an issue number.
func pathInt(r *http.Request, name string) (int64, bool) {
	v, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return v, err == nil && v > 0
}

package githubtest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
)

// SetLanguages sets what GET /repos/{o}/{r}/languages reports for repo:
// bytes of code per language, as GitHub's linguist would count them.
func (s *Server) SetLanguages(repo *Repo, bytesByLanguage map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo.languages = maps.Clone(bytesByLanguage)
}

// getLanguages answers GET /repos/{owner}/{repo}/languages. GitHub lists
// the languages largest first, so the fake writes the object in that
// order rather than Go's sorted-key order.
func (s *Server) getLanguages(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	langs := maps.Clone(c.repo.languages)
	s.mu.Unlock()
	names := slices.SortedFunc(maps.Keys(langs), func(a, b string) int {
		return cmp.Or(cmp.Compare(langs[b], langs[a]), cmp.Compare(a, b))
	})
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, name := range names {
		if i > 0 {
			buf.WriteByte(',')
		}
		key, _ := json.Marshal(name) // a string always marshals
		buf.Write(key)
		buf.WriteByte(':')
		value, _ := json.Marshal(langs[name])
		buf.Write(value)
	}
	buf.WriteByte('}')
	writeJSON(w, http.StatusOK, json.RawMessage(buf.Bytes()))
}

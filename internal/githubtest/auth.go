package githubtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GitHub's answers to a JWT it will not take.
const (
	msgBadJWT     = "A JSON web token could not be decoded"
	msgExpiredJWT = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires."
	msgLongJWT    = "'Expiration time' claim ('exp') is too far in the future"
	msgIatJWT     = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued."
	// maxJWTLifetime is the longest exp GitHub accepts, plus the leeway it
	// gives for clock drift.
	maxJWTLifetime = 10*time.Minute + time.Minute
	clockLeeway    = time.Minute
)

// Token is an installation access token the fake issued.
type Token struct {
	Value          string
	InstallationID int64
	ExpiresAt      time.Time
	// Repositories are the names the token was scoped to when it was
	// created, or nil for all of the installation's repositories.
	Repositories []string
	// Permissions are those asked for when it was created, or nil for
	// all of them.
	Permissions map[string]string

	repoIDs map[int64]bool // nil: every repository of the installation
}

// AddInstallation makes an installation of the App exist, so tokens can
// be created for it.
func (s *Server) AddInstallation(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.installations[id] = true
}

// Tokens returns every installation token issued so far, oldest first.
func (s *Server) Tokens() []Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Token, len(s.tokens))
	for i, t := range s.tokens {
		out[i] = *t
		out[i].Repositories = slices.Clone(t.Repositories)
		out[i].Permissions = maps.Clone(t.Permissions)
		out[i].repoIDs = nil
	}
	return out
}

// allows reports whether the token has the App permission scope at level
// ("read" or "write"): those it was asked with, or without any asked for,
// all the App was granted, as on GitHub. Metadata is always readable.
func (s *Server) allows(t *Token, scope, level string) bool {
	if t == nil || scope == "metadata" {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	have := s.appPermissions[scope]
	if t.Permissions != nil {
		have = t.Permissions[scope]
	}
	return rank[have] >= rank[level]
}

// tokenFrom returns the live token an Authorization header carries, or
// nil.
func (s *Server) tokenFrom(header string) *Token {
	scheme, value, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "token") && !strings.EqualFold(scheme, "bearer") {
		return nil
	}
	return s.liveToken(strings.TrimSpace(value))
}

func (s *Server) liveToken(value string) *Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokenIndex[value]
	if t == nil || time.Now().After(t.ExpiresAt) {
		return nil
	}
	return t
}

// checkJWT returns why an Authorization header does not carry a valid JWT
// of the App, in GitHub's words, or "" when it does.
func (s *Server) checkJWT(header string) string {
	scheme, raw, _ := strings.Cut(header, " ")
	parts := strings.Split(strings.TrimSpace(raw), ".")
	if !strings.EqualFold(scheme, "bearer") || len(parts) != 3 {
		return msgBadJWT
	}
	var head struct {
		Alg string `json:"alg"`
	}
	if decodeSegment(parts[0], &head) != nil || head.Alg != "RS256" {
		return msgBadJWT
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return msgBadJWT
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return msgBadJWT
	}
	var claims struct {
		Iss any         `json:"iss"`
		Iat json.Number `json:"iat"`
		Exp json.Number `json:"exp"`
	}
	if decodeSegment(parts[1], &claims) != nil || !s.isAppID(claims.Iss) {
		return msgBadJWT
	}
	// GitHub takes whole seconds only.
	iat, err := claims.Iat.Int64()
	if err != nil || time.Unix(iat, 0).After(time.Now().Add(clockLeeway)) {
		return msgIatJWT
	}
	exp, err := claims.Exp.Int64()
	switch {
	case err != nil || !time.Unix(exp, 0).After(time.Now()):
		return msgExpiredJWT
	case time.Unix(exp, 0).Sub(time.Unix(iat, 0)) > maxJWTLifetime:
		return msgLongJWT
	}
	return ""
}

// isAppID accepts iss as a string or a number, as GitHub does.
func (s *Server) isAppID(iss any) bool {
	switch v := iss.(type) {
	case string:
		return v == strconv.FormatInt(s.AppID, 10)
	case float64:
		return int64(v) == s.AppID
	}
	return false
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// getApp answers GET /app.
func (s *Server) getApp(w http.ResponseWriter, r *http.Request, _ *call) {
	writeJSON(w, http.StatusOK, map[string]any{
		"id":          s.AppID,
		"slug":        s.AppSlug,
		"node_id":     "A_" + strconv.FormatInt(s.AppID, 10),
		"name":        s.AppSlug,
		"owner":       s.userJSON(s.AppSlug + "-owner"),
		"html_url":    s.URL() + "/apps/" + s.AppSlug,
		"permissions": defaultPermissions(),
		"events":      []string{"issues", "issue_comment", "check_run", "check_suite"},
		"created_at":  timeJSON(now()),
		"updated_at":  timeJSON(now()),
	})
}

// createToken answers POST /app/installations/{id}/access_tokens.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request, _ *call) {
	id, ok := pathInt(r, "id")
	var req struct {
		Repositories  []string          `json:"repositories"`
		RepositoryIDs []int64           `json:"repository_ids"`
		Permissions   map[string]string `json:"permissions"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok || !s.installations[id] {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	for scope, level := range req.Permissions {
		if rank[level] == 0 || rank[level] > rank[s.appPermissions[scope]] {
			writeError(w, http.StatusUnprocessableEntity, "The permissions requested are not granted to this installation.")
			return
		}
	}
	tok := &Token{
		Value:          "ghs_" + randomText(36),
		InstallationID: id,
		// Exact, not rounded like the JSON, so a short lifetime is not cut
		// shorter; clients see the rounded-down time and refresh early.
		ExpiresAt:   time.Now().UTC().Add(s.tokenLifetime),
		Permissions: req.Permissions,
	}
	if len(req.Repositories) > 0 || len(req.RepositoryIDs) > 0 {
		if !s.scopeToken(tok, req.Repositories, req.RepositoryIDs) {
			writeError(w, http.StatusUnprocessableEntity, "There is at least one repository that does not exist or is not accessible to the parent installation.")
			return
		}
	}
	s.tokens = append(s.tokens, tok)
	s.tokenIndex[tok.Value] = tok

	body := map[string]any{
		"token":                tok.Value,
		"expires_at":           timeJSON(tok.ExpiresAt),
		"permissions":          tok.Permissions,
		"repository_selection": "all",
	}
	if tok.Permissions == nil {
		body["permissions"] = defaultPermissions()
	}
	if tok.repoIDs != nil {
		repos := []any{}
		for _, repo := range s.sortedRepos() {
			if tok.repoIDs[repo.ID] {
				repos = append(repos, s.repoJSON(repo))
			}
		}
		body["repository_selection"] = "selected"
		body["repositories"] = repos
	}
	writeJSON(w, http.StatusCreated, body)
}

// scopeToken limits tok to the repositories of its installation named or
// numbered, and reports false if one of them is not there. The caller
// holds s.mu.
func (s *Server) scopeToken(tok *Token, names []string, ids []int64) bool {
	tok.repoIDs = map[int64]bool{}
	for _, repo := range s.sortedRepos() {
		if repo.InstallationID != 0 && repo.InstallationID != tok.InstallationID {
			continue
		}
		if slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, repo.Name) }) ||
			slices.Contains(ids, repo.ID) {
			tok.repoIDs[repo.ID] = true
			tok.Repositories = append(tok.Repositories, repo.Name)
		}
	}
	for _, id := range ids {
		if !tok.repoIDs[id] {
			return false
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(tok.Repositories, func(have string) bool { return strings.EqualFold(n, have) }) {
			return false
		}
	}
	return true
}

// listInstallations answers GET /app/installations.
func (s *Server) listInstallations(w http.ResponseWriter, r *http.Request, _ *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := slices.Sorted(maps.Keys(s.installations))
	out := []any{}
	for _, id := range ids {
		out = append(out, s.installationJSON(id))
	}
	writeJSON(w, http.StatusOK, out)
}

// getInstallation answers GET /app/installations/{id}.
func (s *Server) getInstallation(w http.ResponseWriter, r *http.Request, _ *call) {
	id, _ := pathInt(r, "id")
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.installations[id] {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, s.installationJSON(id))
}

// getRepoInstallation answers GET /repos/{owner}/{repo}/installation.
func (s *Server) getRepoInstallation(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := c.repo.InstallationID
	if id == 0 || !s.installations[id] {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, s.installationJSON(id))
}

// installationJSON describes an installation; its account is the owner of
// its first repository. The caller holds s.mu.
func (s *Server) installationJSON(id int64) map[string]any {
	var account any
	for _, repo := range s.sortedRepos() {
		if repo.InstallationID == id {
			account = s.userJSON(repo.Owner)
			break
		}
	}
	return map[string]any{
		"id":                   id,
		"app_id":               s.AppID,
		"app_slug":             s.AppSlug,
		"account":              account,
		"target_type":          "User",
		"repository_selection": "all",
		"permissions":          defaultPermissions(),
		"access_tokens_url":    s.APIURL() + "app/installations/" + strconv.FormatInt(id, 10) + "/access_tokens",
	}
}

// rank orders permission levels; an unknown level ranks 0.
var rank = map[string]int{"read": 1, "write": 2, "admin": 3}

// mayChangeWorkflows says whether a push with tok may change files under
// .github/workflows/, which GitHub allows an App's token only with the
// workflows permission.
func (s *Server) mayChangeWorkflows(tok *Token) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok.Permissions == nil {
		return rank[s.appPermissions["workflows"]] >= rank["write"]
	}
	return rank[tok.Permissions["workflows"]] >= rank["write"]
}

// AppPermissions are what the fake's App is installed with, and so what a
// token asked without permissions carries: app.yml's default_permissions,
// which a test of the manifest holds them to, so that every end-to-end
// test checks the bot asks nothing of GitHub the manifest does not grant.
func AppPermissions() map[string]string { return defaultPermissions() }

func defaultPermissions() map[string]string {
	return map[string]string{
		"checks": "write", "contents": "write", "issues": "write",
		"metadata": "read", "pull_requests": "write",
	}
}

// randomText returns n random letters and digits, the alphabet of
// GitHub's tokens.
func randomText(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b) // never fails since Go 1.24
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

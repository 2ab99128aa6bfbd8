package githubtest_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v62/github"

	"github.com/oneshot-dev/oneshot/internal/githubtest"
)

// installationID is the installation every test repository belongs to.
const installationID = 42

// testBundle is a fake GitHub with one repository, and the bot's real
// clients pointed at it.
type testBundle struct {
	gh     *githubtest.Server
	repo   *githubtest.Repo
	itr    *ghinstallation.Transport
	client *github.Client
	ctx    context.Context
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	gh := githubtest.New(t)
	gh.AddInstallation(installationID)
	repo := gh.AddRepo(t, "acme/widgets", map[string]string{
		"README.md":   "# widgets\n",
		"cmd/main.go": "package main\n",
	})
	repo.InstallationID = installationID
	itr, client := installationClient(t, gh, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return &testBundle{gh: gh, repo: repo, itr: itr, client: client, ctx: ctx}
}

// installationClient builds go-github on ghinstallation the way
// go-githubapp does: the token transport's BaseURL without the trailing
// slash, the client's with it.
func installationClient(t *testing.T, gh *githubtest.Server, opts *github.InstallationTokenOptions) (*ghinstallation.Transport, *github.Client) {
	t.Helper()
	itr, err := ghinstallation.New(http.DefaultTransport, gh.AppID, installationID, gh.PrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	itr.BaseURL = strings.TrimSuffix(gh.APIURL(), "/")
	itr.InstallationTokenOptions = opts
	client := github.NewClient(&http.Client{Transport: itr})
	client.BaseURL = mustURL(t, gh.APIURL())
	return itr, client
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// getJSON fetches an API path with the installation client, for fields
// go-github does not model.
func (b *testBundle) getJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	req, err := b.client.NewRequest("GET", path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if _, err := b.client.Do(b.ctx, req, &v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return v
}

// statusOf returns the HTTP status of a go-github error.
func statusOf(t *testing.T, err error) int {
	t.Helper()
	var e *github.ErrorResponse
	if !errors.As(err, &e) {
		t.Fatalf("want a GitHub error response, got %v", err)
	}
	return e.Response.StatusCode
}

func TestInstallationTokenReadsRepository(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got, _, err := b.client.Repositories.Get(b.ctx, "acme", "widgets")
	if err != nil {
		t.Fatal(err)
	}
	if got.GetFullName() != "acme/widgets" || got.GetOwner().GetLogin() != "acme" || got.GetDefaultBranch() != "main" {
		t.Errorf("repo = %s owned by %s on %s", got.GetFullName(), got.GetOwner().GetLogin(), got.GetDefaultBranch())
	}
	if want := b.gh.URL() + "/git/acme/widgets.git"; got.GetCloneURL() != want {
		t.Errorf("clone_url = %s, want %s", got.GetCloneURL(), want)
	}
	if got.GetID() != b.repo.ID || got.GetPrivate() || got.GetHTMLURL() == "" || got.GetURL() == "" {
		t.Errorf("repo = %+v", got)
	}
	tokens := b.gh.Tokens()
	if len(tokens) != 1 || !strings.HasPrefix(tokens[0].Value, "ghs_") || tokens[0].InstallationID != installationID {
		t.Fatalf("tokens = %+v", tokens)
	}
	if tok, err := b.itr.Token(b.ctx); err != nil || tok != tokens[0].Value {
		t.Errorf("ghinstallation holds %q (%v), the fake issued %q", tok, err, tokens[0].Value)
	}
}

func TestAppJWTReadsApp(t *testing.T) {
	t.Parallel()
	gh := githubtest.New(t, githubtest.WithAppSlug("my-bot"))
	atr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, gh.AppID, gh.PrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	atr.BaseURL = strings.TrimSuffix(gh.APIURL(), "/")
	client := github.NewClient(&http.Client{Transport: atr})
	client.BaseURL = mustURL(t, gh.APIURL())
	app, _, err := client.Apps.Get(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if app.GetID() != gh.AppID || app.GetSlug() != "my-bot" || app.GetOwner().GetLogin() == "" {
		t.Errorf("app = %+v", app)
	}
}

func TestJWTSignedWithAnotherKeyIsRefused(t *testing.T) {
	t.Parallel()
	gh := githubtest.New(t)
	gh.AddInstallation(installationID)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	itr, err := ghinstallation.New(http.DefaultTransport, gh.AppID, installationID, other)
	if err != nil {
		t.Fatal(err)
	}
	itr.BaseURL = strings.TrimSuffix(gh.APIURL(), "/")
	_, err = itr.Token(context.Background())
	var herr *ghinstallation.HTTPError
	if !errors.As(err, &herr) || herr.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token with a foreign key: %v, want 401", err)
	}
	if n := len(gh.Tokens()); n != 0 {
		t.Errorf("%d tokens issued to a foreign key", n)
	}
}

func TestJWTWithWrongAppIDIsRefused(t *testing.T) {
	t.Parallel()
	gh := githubtest.New(t)
	gh.AddInstallation(installationID)
	itr, err := ghinstallation.New(http.DefaultTransport, gh.AppID+1, installationID, gh.PrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	itr.BaseURL = strings.TrimSuffix(gh.APIURL(), "/")
	if _, err := itr.Token(context.Background()); err == nil {
		t.Fatal("token for the wrong App ID was issued")
	}
}

func TestRequestsWithoutIssuedTokenGetBadCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, auth := range []string{"", "token ghs_madeup", "Bearer ghs_madeup"} {
		req, err := http.NewRequest("GET", b.gh.APIURL()+"repos/acme/widgets", nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Message string }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusUnauthorized || body.Message != "Bad credentials" {
			t.Errorf("auth %q: %d %q (%v), want 401 Bad credentials", auth, resp.StatusCode, body.Message, err)
		}
	}
}

func TestScopedReadOnlyTokenSeesOnlyItsRepository(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := b.gh.AddRepo(t, "acme/gadgets", nil)
	other.InstallationID = installationID
	_, client := installationClient(t, b.gh, &github.InstallationTokenOptions{
		Repositories: []string{"widgets"},
		Permissions:  &github.InstallationPermissions{Contents: github.String("read"), Issues: github.String("read")},
	})
	if _, _, err := client.Repositories.Get(b.ctx, "acme", "widgets"); err != nil {
		t.Errorf("scoped repository: %v", err)
	}
	if _, _, err := client.Repositories.Get(b.ctx, "acme", "gadgets"); statusOf(t, err) != http.StatusNotFound {
		t.Errorf("other repository: %v, want 404", err)
	}
	b.gh.AddIssue(b.repo, githubtest.Issue{Title: "t"})
	_, _, err := client.Issues.CreateComment(b.ctx, "acme", "widgets", 1, &github.IssueComment{Body: github.String("hi")})
	if statusOf(t, err) != http.StatusForbidden {
		t.Errorf("comment with issues:read: %v, want 403", err)
	}
	tok := b.gh.Tokens()[0]
	if tok.Permissions["contents"] != "read" || len(tok.Repositories) != 1 || tok.Repositories[0] != "widgets" {
		t.Errorf("token = %+v", tok)
	}
}

func TestRepositoryOfAnotherInstallationIsNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gh.AddInstallation(7)
	other := b.gh.AddRepo(t, "someone/else", nil)
	other.InstallationID = 7
	if _, _, err := b.client.Repositories.Get(b.ctx, "someone", "else"); statusOf(t, err) != http.StatusNotFound {
		t.Errorf("got %v, want 404", err)
	}
}

func TestPermissionLevels(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for login, role := range map[string]string{
		"ada": "admin", "max": "maintain", "wes": "write", "tia": "triage", "rex": "read", "non": "none",
	} {
		b.gh.SetPermission(b.repo, login, role)
	}
	b.gh.AddUser("passerby")
	for _, tc := range []struct{ login, permission, role string }{
		{"ada", "admin", "admin"}, {"max", "write", "maintain"}, {"wes", "write", "write"},
		{"tia", "read", "triage"}, {"rex", "read", "read"}, {"non", "none", "none"},
		{"acme", "admin", "admin"},   // the owner
		{"passerby", "read", "read"}, // anyone may read a public repository
		{"WES", "write", "write"},    // logins ignore case
	} {
		got, _, err := b.client.Repositories.GetPermissionLevel(b.ctx, "acme", "widgets", tc.login)
		if err != nil {
			t.Errorf("%s: %v", tc.login, err)
			continue
		}
		// go-github v62 has no field for role_name; read it raw.
		raw := b.getJSON(t, "repos/acme/widgets/collaborators/"+tc.login+"/permission")
		if got.GetPermission() != tc.permission || raw["role_name"] != tc.role || got.GetUser().GetLogin() == "" {
			t.Errorf("%s: permission %q role %v, want %q %q", tc.login, got.GetPermission(), raw["role_name"], tc.permission, tc.role)
		}
	}
	if _, _, err := b.client.Repositories.GetPermissionLevel(b.ctx, "acme", "widgets", "ghost"); statusOf(t, err) != http.StatusNotFound {
		t.Errorf("unknown user: %v, want 404", err)
	}
	b.repo.Private = true
	got, _, err := b.client.Repositories.GetPermissionLevel(b.ctx, "acme", "widgets", "passerby")
	if err != nil || got.GetPermission() != "none" {
		t.Errorf("non-collaborator on a private repository: %q (%v), want none", got.GetPermission(), err)
	}
	if n := b.gh.Count("GET", "/repos/{owner}/{repo}/collaborators/{user}/permission"); n != 20 {
		t.Errorf("permission endpoint called %d times, want 20", n)
	}
}

func TestExpiredTokenIsRefusedAndRefreshed(t *testing.T) {
	t.Parallel()
	gh := githubtest.New(t, githubtest.WithTokenLifetime(time.Second))
	gh.AddInstallation(installationID)
	gh.AddRepo(t, "acme/widgets", nil)
	itr, client := installationClient(t, gh, nil)
	old, err := itr.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	req, err := http.NewRequest("GET", gh.APIURL()+"repos/acme/widgets", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+old)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("expired token answered %d, want 401", resp.StatusCode)
	}
	// ghinstallation refreshes a token about to expire by itself.
	if _, _, err := client.Repositories.Get(context.Background(), "acme", "widgets"); err != nil {
		t.Fatalf("after refresh: %v", err)
	}
	if n := len(gh.Tokens()); n < 2 {
		t.Errorf("%d tokens issued, want a refresh", n)
	}
}

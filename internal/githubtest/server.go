package githubtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
)

const (
	// DefaultAppID is the App ID of a Server unless WithAppID says otherwise.
	DefaultAppID int64 = 1001
	// DefaultAppSlug is the App's slug unless WithAppSlug says otherwise.
	DefaultAppSlug = "oneshot-test"
	// DefaultTokenLifetime is how long installation tokens live unless
	// WithTokenLifetime says otherwise; GitHub's live one hour.
	DefaultTokenLifetime = time.Hour
	// DefaultSearchLimit is GitHub's search rate limit per minute.
	DefaultSearchLimit = 30

	// keyBits is the size of the App's key; GitHub's are 2048 bits.
	keyBits = 2048
	// apiPrefix is where the REST API lives, as on GitHub Enterprise.
	apiPrefix = "/api/v3"
	// gitPrefix is where repositories are served over smart HTTP.
	gitPrefix = "/git"
)

// Server is a fake GitHub. Its methods may be called from several
// goroutines at once.
type Server struct {
	// AppID is the App's ID, the iss of its JWTs.
	AppID int64
	// AppSlug is the App's slug; its bot user is AppSlug+"[bot]".
	AppSlug string
	// PrivateKeyPEM is the App's private key, PKCS #1 in PEM as GitHub
	// hands it out.
	PrivateKeyPEM []byte

	key           *rsa.PrivateKey
	http          *httptest.Server
	gitRoot       string // GIT_PROJECT_ROOT: owner/name.git below it
	git           http.Handler
	routes        []route
	tokenLifetime time.Duration

	mu              sync.Mutex
	nextID          int64
	installations   map[int64]bool
	appPermissions  map[string]string // what the App was granted, for every installation
	tokens          []*Token
	tokenIndex      map[string]*Token
	users           map[string]*user // by lower-case login
	repos           map[string]*Repo // by lower-case full name
	comments        map[int64]*Comment
	reviewComments  map[int64]*Comment // GitHub numbers them apart from issue comments
	faults          []*fault
	slows           []slow
	stalls          []*stall
	closing         chan struct{} // closed as the test ends, before the server closes
	requests        []Request
	searchRemaining int
}

// Option changes a Server before it starts.
type Option func(*Server)

// WithAppID sets the App ID.
func WithAppID(id int64) Option { return func(s *Server) { s.AppID = id } }

// WithAppSlug sets the App's slug, and so the name of its bot user.
func WithAppSlug(slug string) Option { return func(s *Server) { s.AppSlug = slug } }

// WithTokenLifetime sets how long installation tokens live, so tests can
// watch a client refresh one.
func WithTokenLifetime(d time.Duration) Option {
	return func(s *Server) { s.tokenLifetime = d }
}

// New starts a fake GitHub on 127.0.0.1 and closes it when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		t.Fatalf("generate app key: %v", err)
	}
	s := &Server{
		AppID:           DefaultAppID,
		AppSlug:         DefaultAppSlug,
		key:             key,
		gitRoot:         t.TempDir(),
		tokenLifetime:   DefaultTokenLifetime,
		nextID:          1,
		installations:   map[int64]bool{},
		appPermissions:  defaultPermissions(),
		tokenIndex:      map[string]*Token{},
		users:           map[string]*user{},
		repos:           map[string]*Repo{},
		comments:        map[int64]*Comment{},
		reviewComments:  map[int64]*Comment{},
		searchRemaining: DefaultSearchLimit,
		closing:         make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	s.PrivateKeyPEM = pem.EncodeToMemory(&pem.Block{
		Type:  "RSA PRIVATE KEY",
		Bytes: x509.MarshalPKCS1PrivateKey(key),
	})
	s.git, err = newGitBackend(s.gitRoot)
	if err != nil {
		t.Fatalf("start fake github: %v", err)
	}
	s.routes = s.apiRoutes()
	s.knowUser(s.BotLogin()) // the App's bot user exists from the start, as on GitHub
	s.http = httptest.NewServer(s)
	t.Cleanup(s.http.Close)
	t.Cleanup(func() { close(s.closing) }) // runs first: cleanups run last in, first out
	return s
}

// GrantApp grants the App a permission beyond the defaults, as an
// operator who adds it to app.yml does: GrantApp("workflows", "write").
func (s *Server) GrantApp(scope, level string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appPermissions[scope] = level
}

// URL is the root of the fake, such as http://127.0.0.1:41234, without a
// trailing slash. Web pages (html_url) and git (clone_url) live below it.
func (s *Server) URL() string { return s.http.URL }

// APIURL is the base URL of the REST API, URL()+"/api/v3/", with the
// trailing slash go-github wants.
func (s *Server) APIURL() string { return s.http.URL + apiPrefix + "/" }

// BotLogin is the login of the App's bot user, which authors everything
// the App writes.
func (s *Server) BotLogin() string { return s.AppSlug + "[bot]" }

// AppConfig is the go-githubapp configuration of the App against the
// fake: its API URLs, App ID and private key.
func (s *Server) AppConfig() githubapp.Config {
	var cfg githubapp.Config
	cfg.V3APIURL = s.APIURL()
	cfg.V4APIURL = s.URL() + "/api/graphql"
	cfg.App.IntegrationID = s.AppID
	cfg.App.PrivateKey = string(s.PrivateKeyPEM)
	return cfg
}

// ServeHTTP answers one request: it is logged, delayed and failed as the
// test asked, then served by the API or by git.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	api := strings.HasPrefix(path, apiPrefix+"/")
	if api {
		path = strings.TrimPrefix(path, apiPrefix)
	}
	rec := &statusRecorder{ResponseWriter: w}
	i := s.logRequest(r, path)
	defer func() { s.logStatus(i, rec.status) }()

	if !s.wait(r, path) {
		return // the client went away while the request was slowed
	}
	if f, ok := s.takeFault(r.Method, path); ok {
		if f.served {
			s.serve(httptest.NewRecorder(), r, path, api)
		}
		f.write(rec)
		return
	}
	s.serve(rec, r, path, api)
}

// serve answers a request the fake serves.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, path string, api bool) {
	switch {
	case api:
		s.serveAPI(w, r, path)
	case strings.HasPrefix(path, gitPrefix+"/"):
		s.serveGit(w, r, path)
	default:
		writeError(w, http.StatusNotFound, "Not Found")
	}
}

// newID returns an ID no other object of the fake has. GitHub's IDs are
// unique per kind; unique across kinds is stricter and catches mix-ups.
// The caller holds s.mu.
func (s *Server) newID() int64 {
	id := s.nextID
	s.nextID++
	return id
}

// statusRecorder remembers the status a handler answered with, for the
// request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush lets git's streamed answers through.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

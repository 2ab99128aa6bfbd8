// Package server wires the bot together: configuration in, an HTTP server
// that takes webhooks, and the queue that works them. All wiring is in New,
// so what runs in production is what the tests run.
package server

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
	"github.com/rs/zerolog/hlog"

	"github.com/oneshot-dev/oneshot/agent"
	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/forge"
	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/handlers"
	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/queue"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/tasks"
	"github.com/oneshot-dev/oneshot/workspace"
)

// WebhookPath is where GitHub delivers webhooks; app.yml names it.
const WebhookPath = githubapp.DefaultWebhookRoute

// Limits on what one HTTP request may take. GitHub sends a delivery at once
// and gives up on it after 10 seconds, so a client slower than these is not
// GitHub and must not hold a connection or memory.
const (
	// maxWebhookBody bounds a webhook payload. The dispatcher reads a
	// whole body before it checks the signature, so the cap bounds what
	// anyone may make the bot read. GitHub's own cap is 25 MB, but the
	// events the bot takes hold a few texts of at most 65,536 characters
	// each (an issue, a comment, a check run's output) and some objects:
	// at most a few megabytes, escaped.
	maxWebhookBody = 8 << 20
	// maxWebhookReads is how many webhook bodies are read at once, so
	// that the memory they take stays bounded whoever sends them; more
	// wait up to admitWait, then get 503. GitHub sends few at a time, each
	// read in milliseconds.
	maxWebhookReads = 8
	admitWait       = 5 * time.Second
	// bodyReadTimeout bounds reading a body once admitted: GitHub sends
	// its bodies at once, and a sender slower than this must not keep a
	// reading place from GitHub's deliveries. It is well under admitWait,
	// so that senders who hold every place only make a delivery wait.
	bodyReadTimeout = 2 * time.Second
	// readHeaderTimeout bounds a slow client's headers.
	readHeaderTimeout = 10 * time.Second
	// readTimeout bounds the whole request, body included.
	readTimeout = 30 * time.Second
	// writeTimeout bounds the handling and the answer; a webhook is
	// answered once its trigger is recorded, in milliseconds.
	writeTimeout = 30 * time.Second
	// idleTimeout is how long a kept-alive connection waits for the next
	// request.
	idleTimeout = 2 * time.Minute
)

// Options are what New takes besides the configuration.
type Options struct {
	Version string
	Logger  zerolog.Logger
	// Runner runs task attempts; by default, the pipeline in sandboxes on
	// the local Docker engine.
	Runner tasks.Runner
	// AgentSecrets are the values of the configuration's agent.secrets, by
	// name: the operator keeps them in the bot's environment.
	AgentSecrets map[string]string
	// AcceptOnly takes webhooks and queues them without working any: a
	// replica that only receives, beside others that work the queue.
	AcceptOnly bool
}

// Server is a running bot.
type Server struct {
	cfg        config.App
	acceptOnly bool
	log        zerolog.Logger
	queue      *queue.Queue
	engine     *sandbox.Engine // nil when Options.Runner replaces the pipeline
	workspaces *workDir        // the tasks' host workspaces, with the engine
	handler    http.Handler
	started    atomic.Bool
	// draining is set once Run is told to stop: /readyz says so while
	// webhooks are still answered (see config.Server.Drain).
	draining atomic.Bool
	// stopGitCacheSweep stops the git cache's sweep (see gitcache.go), if
	// one started.
	stopGitCacheSweep func()
	// stopSandboxSweep stops the sweep of sandboxes that ended (see
	// sweep.go), if it runs.
	stopSandboxSweep func()
}

// New connects to the database and GitHub and builds the handlers. It
// fails, with a reason, when GitHub does not accept the App's credentials.
func New(ctx context.Context, cfg config.App, opts Options) (*Server, error) {
	log := opts.Logger
	clients, err := githubapi.NewClientCreator(cfg.GitHub, opts.Version, githubapi.RetryPolicy{})
	if err != nil {
		return nil, err
	}
	botLogin, err := githubapi.BotLogin(ctx, clients)
	if answer := githubapi.Answer(err); answer != "" {
		// In words, where go-github's would end in the list of details
		// GitHub gave, most often empty: "[]".
		return nil, fmt.Errorf("look up the GitHub App: %s (%s)", answer, appLookupHint(err))
	} else if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, appLookupHint(err))
	}
	db, err := queue.Open(ctx, cfg.Database.URL)
	if err != nil {
		return nil, fmt.Errorf("%w (check database.url, ONESHOT_DATABASE_URL)", err)
	}
	if u, err := url.Parse(cfg.Server.PublicURL); err == nil && isLocal(u.Hostname()) {
		log.Warn().Str("public_url", u.Redacted()).Msg("server.public_url (ONESHOT_PUBLIC_URL) names this machine: the links on check runs and in replies will open for nobody else. Set it to the address GitHub's users reach the bot at.")
	}
	throttle := &githubapi.Throttle{}
	progress := &forge.Progress{Clients: clients, Throttle: throttle, Logger: log, Command: cfg.Triggers.Command, BotLogin: botLogin}
	runner := opts.Runner
	var engine *sandbox.Engine
	var workspaces *workDir
	if runner == nil {
		if workspaces, err = newWorkDir(cfg.Sandbox.Owner); err != nil {
			db.Close()
			return nil, fmt.Errorf("make a directory for the tasks' workspaces: %w", err)
		}
		if err := makeGitCacheDir(cfg.Git.CacheDir); err != nil {
			workspaces.close()
			db.Close()
			return nil, fmt.Errorf("make the git cache's directory: %w", err)
		}
		engine, err = sandbox.NewEngine(sandbox.Options{Owner: cfg.Sandbox.Owner})
		if err != nil {
			workspaces.close()
			db.Close()
			return nil, err
		}
		if cfg.Agent.Command == "" && !opts.AcceptOnly {
			// Said at start: otherwise the first word of it is each task
			// stopping at setup.
			log.Warn().Msg("No agent.command (ONESHOT_AGENT_COMMAND) is set: tasks run only in repositories whose .github/oneshot.yml names an agent; elsewhere a task stops at setup and says so.")
		}
		runner = &pipeline.Pipeline{
			Forge: &forge.GitHub{Clients: clients, App: cfg.GitHub, BotLogin: botLogin, Throttle: throttle, Logger: log,
				Cache: &workspace.Cache{Dir: cfg.Git.CacheDir}, WorkDir: workspaces.path},
			Sandbox:  engine,
			Agent:    agent.Factory(agent.DefaultsOf(cfg.Agent)),
			Reporter: progress.For,
			Defaults: pipeline.Defaults{Image: cfg.Sandbox.Image, Allowed: &cfg.Sandbox, Network: cfg.Sandbox.Network,
				PromptTokens: cfg.Agent.PromptTokens, AgentSecrets: opts.AgentSecrets, Command: cfg.Triggers.Command},
			TaskURL: func(id string) string { return githubapi.TaskURL(cfg.Server.PublicURL, id) },
			// The check run shows the output to those who may read the
			// repository; the bot's own pages show no code.
			LogsURL: func(t *tasks.Task) string { return githubapi.CheckRunURL(cfg.GitHub.WebURL, t.Repo, t.CheckRunID) },
		}
	}
	intake := &handlers.Intake{
		Clients:              clients,
		PublicURL:            cfg.Server.PublicURL,
		Command:              cfg.Triggers.Command,
		TasksPerRepoPerHour:  cfg.Limits.TasksPerRepoPerHour,
		TasksPerActorPerHour: cfg.Limits.TasksPerActorPerHour,
		Logger:               log,
	}
	notifier := &githubapi.Notifier{Clients: clients, Logger: log, Throttle: throttle, Progress: progress}
	work, err := queue.NewQueue(db, queue.Config{
		Concurrency: cfg.Queue.Concurrency,
		TaskTimeout: cfg.Queue.TaskTimeout,
		Intake:      intake,
		Runner:      runner,
		Notifier:    notifier,
		Logger:      log,
		LeftBehind:  reaper(engine, workspaces, log),
		Owner:       cfg.Sandbox.Owner,
	})
	if err != nil {
		if engine != nil {
			engine.Close()
			workspaces.close()
		}
		db.Close()
		return nil, err
	}
	intake.Queue = work
	progress.Comments = work

	base := handlers.Base{
		Queue:    work,
		Label:    cfg.Triggers.Label,
		Command:  cfg.Triggers.Command,
		AppID:    cfg.GitHub.App.IntegrationID,
		BotLogin: botLogin,
	}
	s := &Server{cfg: cfg, acceptOnly: opts.AcceptOnly, log: log, queue: work, engine: engine, workspaces: workspaces}
	dispatcher := githubapp.NewEventDispatcher(Handlers(base), cfg.GitHub.App.WebhookSecret,
		githubapp.WithErrorCallback(webhookError))
	mux := http.NewServeMux()
	mux.Handle("POST "+WebhookPath, admitWebhooks(http.MaxBytesHandler(dispatcher, maxWebhookBody)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.ready)
	mux.HandleFunc("GET /tasks/{id}", s.taskPage)
	s.handler = hlog.NewHandler(log)(hlog.AccessHandler(logRequest)(guarded(mux)))
	log.Info().Str("bot", botLogin).Str("database", db.Dialect()).Msg("The bot is configured.")
	return s, nil
}

// isLocal reports whether host names only the machine it is asked on.
func isLocal(host string) bool {
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.IsLoopback() || addr.IsUnspecified()
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// appLookupHint says which settings to check when the App could not be
// looked up: GitHub refusing it is the App's ID or key, anything else is
// more likely where the bot looks for GitHub.
func appLookupHint(err error) string {
	var answer *github.ErrorResponse
	if errors.As(err, &answer) && answer.Response != nil {
		switch answer.Response.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return "check github.app.integration_id and the private key"
		case http.StatusNotFound:
			return "check github.v3_api_url (GITHUB_V3_API_URL), for GitHub Enterprise Server https://HOST/api/v3/, and github.app.integration_id"
		}
	}
	return "check github.v3_api_url (GITHUB_V3_API_URL) and that GitHub can be reached from here"
}

// Handlers are the webhook handlers of the bot; app.yml subscribes to
// their events.
func Handlers(base handlers.Base) []githubapp.EventHandler {
	return []githubapp.EventHandler{
		&handlers.Issues{Base: base}, &handlers.IssueComment{Base: base},
		&handlers.ReviewComment{Base: base}, &handlers.CheckRun{Base: base},
	}
}

// Handler serves webhooks, health and task pages.
func (s *Server) Handler() http.Handler { return s.handler }

// Queue is the bot's task queue.
func (s *Server) Queue() *queue.Queue { return s.queue }

// Start starts the workers, having removed what an earlier process left.
// The webhook route accepts work before it.
func (s *Server) Start(ctx context.Context) error {
	// The queue outlives ctx: Shutdown stops it, handing work back.
	if err := s.queue.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	s.startGitCacheSweep()
	if s.engine != nil {
		if ctx.Err() == nil { // stopping, the look would fail and blame the images
			warnOfUnusableImages(ctx, s.engine, s.cfg.Sandbox.ImageNames(), s.log)
		}
		s.stopSandboxSweep = startSandboxSweep(s.engine, s.log)
	}
	s.started.Store(true)
	return nil
}

// Shutdown stops the workers, handing running attempts back to the queue,
// and closes the sandbox engine and the database.
func (s *Server) Shutdown(ctx context.Context) error {
	return errors.Join(s.stopWork(ctx), s.queue.DB.Close())
}

// stopWork is Shutdown but for closing the database.
func (s *Server) stopWork(ctx context.Context) error {
	var err error
	if s.started.Load() {
		err = s.queue.Shutdown(ctx)
	}
	if s.stopGitCacheSweep != nil {
		s.stopGitCacheSweep()
	}
	if s.stopSandboxSweep != nil {
		s.stopSandboxSweep()
	}
	// Workers that did not stop in time may still hold sessions, and
	// workspaces: the directory goes only when empty.
	if s.engine != nil && err == nil {
		err = s.engine.Close()
		s.workspaces.close()
	}
	return err
}

// Run listens and serves until ctx ends, then stops taking webhooks,
// hands running work back, and returns.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Server.Listen)
	if err != nil {
		// What New made goes: the next start must not take this
		// process's workspace for a crashed one's.
		return errors.Join(fmt.Errorf("listen on %s: %w", s.cfg.Server.Listen, err), s.Shutdown(context.Background()))
	}
	httpServer := newHTTPServer(s.handler)
	served := make(chan error, 1)
	go func() { served <- httpServer.Serve(ln) }()
	s.log.Info().Str("listen", ln.Addr().String()).Msg("Listening for webhooks.")
	// The workers start once webhooks are answered: a start after a crash
	// first removes what the dead process left, which can take longer
	// than GitHub waits for an answer. Until then /readyz says so.
	if !s.acceptOnly {
		if err := s.Start(ctx); err != nil {
			// Deliveries being answered are let finish: what the inbox
			// took waits for the next start.
			stopCtx, cancel := context.WithTimeout(context.Background(), s.cfg.Server.ShutdownTimeout)
			defer cancel()
			_ = httpServer.Shutdown(stopCtx)
			<-served
			return err
		}
	}

	select {
	case <-ctx.Done():
	case err := <-served:
		return errors.Join(fmt.Errorf("serve: %w", err), s.Shutdown(context.Background()))
	}
	s.draining.Store(true)
	if drain := s.cfg.Server.Drain; drain > 0 {
		s.log.Info().Stringer("drain", drain).Msg("Stopping: still answering webhooks while /readyz says so, for the load balancer to send them elsewhere.")
		time.Sleep(drain)
	}
	s.log.Info().Msg("Shutting down: no new webhooks; running tasks go back to the queue.")
	stopCtx, cancel := context.WithTimeout(context.Background(), s.cfg.Server.ShutdownTimeout)
	defer cancel()
	// Running tasks go back while the requests in flight finish, not
	// after: anyone can hold a request open, and must not take the
	// hand-back's time. The database closes once both are done.
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		if err := httpServer.Shutdown(stopCtx); err != nil {
			s.log.Warn().Err(err).Msg("Requests still open when the time to stop ran out were cut off.")
			_ = httpServer.Close()
		}
		<-served
	}()
	err = s.stopWork(stopCtx)
	<-answered
	return errors.Join(err, s.queue.DB.Close())
}

// newHTTPServer serves handler within the limits above.
func newHTTPServer(handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
	}
}

// guarded sets on every answer what keeps it where it was asked for: the
// task pages are public to whoever has their address, so no cache keeps
// them, no search engine indexes them, no other site frames them, and no
// browser runs or sniffs anything in them.
func guarded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Robots-Tag", "noindex")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// admitWebhooks stands before the dispatcher. What is plainly not a
// delivery, a body that is not JSON or comes without a SHA-256 signature
// or a delivery ID (which the queue keeps deliveries apart by), is refused
// unread; and at most maxWebhookReads bodies are read at once,
// each within bodyReadTimeout.
func admitWebhooks(next http.Handler) http.Handler {
	reading := make(chan struct{}, maxWebhookReads)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if media, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); media != "application/json" {
			http.Error(w, "a webhook delivery is JSON", http.StatusUnsupportedMediaType)
			return
		}
		if !strings.HasPrefix(r.Header.Get(github.SHA256SignatureHeader), "sha256=") {
			http.Error(w, "missing signature", http.StatusBadRequest)
			return
		}
		if r.Header.Get(github.DeliveryIDHeader) == "" {
			http.Error(w, "missing delivery ID", http.StatusBadRequest)
			return
		}
		wait := time.NewTimer(admitWait)
		defer wait.Stop()
		select {
		case reading <- struct{}{}:
			defer func() { <-reading }()
			// An error leaves the server's whole-request bound.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
		case <-wait.C:
			zerolog.Ctx(r.Context()).Warn().Msg("Refused a webhook: too many being read at once.")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		case <-r.Context().Done():
			return
		}
		next.ServeHTTP(w, r)
	})
}

// webhookError answers 413 for a body over maxWebhookBody, which the
// dispatcher would call invalid, and leaves every other error to it.
func webhookError(w http.ResponseWriter, r *http.Request, err error) {
	var invalid githubapp.ValidationError
	var tooBig *http.MaxBytesError
	if errors.As(err, &invalid) && errors.As(invalid.Cause, &tooBig) {
		zerolog.Ctx(r.Context()).Warn().Int64("limit", tooBig.Limit).Msg("Refused a webhook larger than GitHub sends.")
		http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		return
	}
	githubapp.DefaultErrorCallback(w, r, err)
}

// ready answers 200 when the database answers and the workers run, and
// the bot is not stopping.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.queue.Ping(ctx); err != nil {
		// The error names the database's user, name and address: for the
		// log, not for whoever asks.
		s.log.Warn().Err(err).Msg("Not ready: the database does not answer.")
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	if !s.started.Load() && !s.acceptOnly {
		http.Error(w, "workers not started", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// taskPage is a task's state history, the check run's details link.
func (s *Server) taskPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !tasks.IsID(id) {
		http.NotFound(w, r)
		return
	}
	t, err := s.queue.Get(r.Context(), id)
	if errors.Is(err, tasks.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, "could not read the task", http.StatusInternalServerError)
		return
	}
	history, err := s.queue.History(r.Context(), id)
	if err != nil {
		http.Error(w, "could not read the task", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "task %s: %s#%d, attempt %d, %s\n\n", t.ID, t.Repo, t.Issue, t.Attempt, t.State)
	for _, e := range history {
		fmt.Fprintf(w, "%s  attempt %d  %-9s  %s %s\n", e.At.UTC().Format(time.RFC3339), e.Attempt, e.State, e.Actor, e.Detail)
	}
}

func logRequest(r *http.Request, status, size int, d time.Duration) {
	hlog.FromRequest(r).Debug().Str("method", r.Method).Str("path", r.URL.Path).Int("status", status).
		Dur("duration", d).Msg("Answered a request.")
}

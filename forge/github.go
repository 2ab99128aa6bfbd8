// Package forge is where the pipeline's code lives and where its changes
// go: GitHub for the App, a local repository for bot run. Git runs on the
// bot's host (package workspace); only there do credentials exist.
package forge

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v62/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/contextgather"
	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/tasks"
	"github.com/oneshot-dev/oneshot/workspace"
)

// GitHub is the forge of the App.
type GitHub struct {
	Clients githubapp.ClientCreator
	// App is the App's ID and key, for the installation tokens git uses.
	App githubapp.Config
	// BotLogin is the App's own login, as "oneshot[bot]".
	BotLogin string
	// WorkDir holds the tasks' host workspaces; empty means the system's
	// temporary directory.
	WorkDir string
	// Cache, when set, keeps each repository's history between tasks.
	Cache *workspace.Cache
	// Throttle spaces the task's writes to GitHub; the reporter and the
	// notifier share it.
	Throttle *githubapi.Throttle
	Logger   zerolog.Logger

	idMu sync.Mutex
	ids  map[string]int64 // user IDs, for noreply e-mail addresses
}

var _ pipeline.Forge = (*GitHub)(nil)

// Checkout fetches the default branch into a new host workspace and
// marks the task's base commit: the one its check run is on, when the
// default branch still contains it.
func (g *GitHub) Checkout(ctx context.Context, t *tasks.Task) (_ *pipeline.Checkout, err error) {
	repo, err := githubapi.ForRepo(g.Clients, t.InstallationID, t.Repo)
	if err != nil {
		return nil, err
	}
	info, _, err := repo.Client.Repositories.Get(ctx, repo.Owner, repo.Name)
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", t.Repo, err)
	}
	// The name may have passed to another repository since the task was
	// asked for (renamed, and the old name taken again): its code, issues
	// and branches are not the task's.
	if t.RepoID != 0 && info.GetID() != t.RepoID {
		return nil, fmt.Errorf("%s is now another repository than the task's (renamed since?); ask again on the repository itself", t.Repo)
	}
	token, err := g.token(ctx, t, "read", false)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(g.WorkDir, "oneshot-"+t.ID+"-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	co := &pipeline.Checkout{Dir: dir, DefaultBranch: info.GetDefaultBranch(), Remote: info.GetCloneURL()}
	if t.Kind == tasks.KindFollowUp {
		pr, err := repo.PullRequest(ctx, t.PullRequest)
		if err != nil {
			return nil, err
		}
		// Closed since the follow-up was asked for: a change to its
		// branch would show nowhere, or reopen what was merged.
		if pr.GetState() != "open" {
			how := "closed"
			if pr.GetMerged() || pr.MergedAt != nil {
				how = "merged"
			}
			return nil, fmt.Errorf("pull request #%d was %s, and a follow-up changes only an open one", t.PullRequest, how)
		}
		co.Branch, co.OpenPullRequest = pr.GetHead().GetRef(), t.PullRequest
	}
	if co.Repo, err = workspace.Init(ctx, dir+"/repo.git"); err != nil {
		return nil, err
	}
	// The cache knows a repository by GitHub's ID for it, which a rename
	// keeps and no other repository ever has.
	cacheKey := fmt.Sprintf("%s#%d", g.App.V3APIURL, info.GetID())
	if co.Base, err = g.fetchDefault(ctx, co, cacheKey, workspace.Auth{Token: token}); err != nil {
		return nil, fmt.Errorf("fetch %s: %w", t.Repo, err)
	}
	if t.HeadSHA != "" && co.Repo.IsAncestor(ctx, t.HeadSHA, co.Base) {
		co.Base = t.HeadSHA
	}
	if err := co.Repo.SetRef(ctx, "refs/oneshot/base", co.Base); err != nil {
		return nil, err
	}
	return co, nil
}

// fetchDefault fetches the default branch as refs/oneshot/default, through
// the cache when there is one, and returns its head. A cache that fails is
// passed by: the task fetches the whole history itself, as without one.
func (g *GitHub) fetchDefault(ctx context.Context, co *pipeline.Checkout, cacheKey string, auth workspace.Auth) (string, error) {
	const ref = "refs/oneshot/default"
	if g.Cache != nil {
		head, err := g.Cache.Fetch(ctx, cacheKey, co.Remote, auth, co.DefaultBranch, co.Repo, ref)
		if err == nil || ctx.Err() != nil {
			return head, err
		}
		g.Logger.Warn().Err(err).Str("cache", g.Cache.Dir).Msg("The git cache failed; fetching the whole history.")
	}
	if err := co.Repo.Fetch(ctx, co.Remote, auth, "+refs/heads/"+co.DefaultBranch+":"+ref); err != nil {
		return "", err
	}
	return co.Repo.Resolve(ctx, ref)
}

// FetchBranch fetches the task's branch when it already exists, from an
// earlier attempt, and continues it when its pull request, if it had one,
// is still open. A branch left as its pull request was closed, merged or turned down, is
// not continued: the task would propose again what was merged or refused.
// (A follow-up continues its pull request's branch: Checkout refused one
// whose pull request is no longer open.)
func (g *GitHub) FetchBranch(ctx context.Context, t *tasks.Task, co *pipeline.Checkout, branch string) (string, error) {
	token, err := g.token(ctx, t, "read", false)
	if err != nil {
		return "", err
	}
	auth := workspace.Auth{Token: token}
	head, err := co.Repo.RemoteHead(ctx, co.Remote, auth, branch)
	if err != nil || head == "" {
		return "", err
	}
	// The look above says only whether there is a branch: a push may move
	// it before the fetch, and its head is the one the fetch brought,
	// which the repository holds and a push's lease expects (a closed
	// branch's too). Its pull request is looked for at that head.
	if head, err = fetchBranch(ctx, co, auth, branch); err != nil || co.Branch != "" {
		return head, err
	}
	open, closed, err := g.pullRequestsAt(ctx, t, branch, head)
	if err != nil {
		return "", err
	}
	if closed != nil {
		co.Replaces = closed
		return "", nil
	}
	// One the task published itself, in an earlier attempt or before a
	// restart ran this one again, holds its own change: the branch as it
	// stands is that change.
	if open != nil && !pipeline.PublishedBy(open.GetBody(), t) {
		co.OpenPullRequest = open.GetNumber()
	}
	return head, nil
}

// pullRequestsAt returns the pull request open from branch, or else
// whether branch, at head, is as a closed pull request left it. Either may
// be into any base: a maintainer may have moved one off the default
// branch.
func (g *GitHub) pullRequestsAt(ctx context.Context, t *tasks.Task, branch, head string) (open *github.PullRequest, closed *pipeline.ClosedBranch, err error) {
	repo, err := githubapi.ForRepo(g.Clients, t.InstallationID, t.Repo)
	if err != nil {
		return nil, nil, err
	}
	open, closedPR, err := repo.PullRequestsFrom(ctx, branch, head)
	switch {
	case err != nil:
		return nil, nil, err
	case open != nil:
		return open, nil, nil
	case closedPR != nil:
		return nil, &pipeline.ClosedBranch{Head: head, PullRequest: closedPR.GetNumber()}, nil
	}
	return nil, nil, nil
}

// stillOpen refuses, with pipeline.ErrPullRequestClosed, to publish on a
// branch the attempt continued whose pull request was closed while it
// ran, which the branch's next task would not continue either (see
// FetchBranch). A pull request closed after this look is a window left
// open.
func (g *GitHub) stillOpen(ctx context.Context, t *tasks.Task, pr pipeline.PullRequest) error {
	_, closed, err := g.pullRequestsAt(ctx, t, pr.Branch, pr.Continues)
	if err != nil {
		return err
	}
	if closed != nil {
		return fmt.Errorf("pull request #%d: %w", closed.PullRequest, pipeline.ErrPullRequestClosed)
	}
	return nil
}

// stillClosed refuses a push replacing a branch that a closed pull request
// left, once a pull request is open from it again (reopened while the
// attempt ran, or opened anew): the branch is someone's work then, which
// the lease alone would not keep, as reopening moves no branch.
func (g *GitHub) stillClosed(ctx context.Context, t *tasks.Task, branch string) error {
	repo, err := githubapi.ForRepo(g.Clients, t.InstallationID, t.Repo)
	if err != nil {
		return err
	}
	open, err := repo.OpenPullRequestFrom(ctx, branch)
	if err != nil {
		return err
	}
	if open != nil {
		return fmt.Errorf("pull request #%d: %w", open.GetNumber(), pipeline.ErrPullRequestReopened)
	}
	return nil
}

// fetchBranch fetches branch into refs/oneshot/branch and returns its head
// there: where the branch was at the fetch, which may be past where a look
// before it found the branch.
func fetchBranch(ctx context.Context, co *pipeline.Checkout, auth workspace.Auth, branch string) (string, error) {
	const ref = "refs/oneshot/branch"
	if err := co.Repo.Fetch(ctx, co.Remote, auth, "+refs/heads/"+branch+":"+ref); err != nil {
		return "", err
	}
	return co.Repo.Resolve(ctx, ref)
}

// Gather collects the task's context from GitHub and the checkout: the
// issue, comments of people who may write to the repository (others' are
// left out: an issue is open to anyone, and the prompt steers code that
// will run), linked issues, related ones, and the repository's guidelines.
func (g *GitHub) Gather(ctx context.Context, t *tasks.Task, checkout fs.FS) (contextgather.Material, error) {
	gatherer := &contextgather.Gatherer{Clients: g.Clients, WebURL: g.App.WebURL, Logger: g.Logger}
	return gatherer.Gather(ctx, t, checkout)
}

// Identity is the App's bot as committer and the requester as co-author,
// with their GitHub's noreply addresses so both are linked to their
// accounts.
func (g *GitHub) Identity(ctx context.Context, t *tasks.Task) (string, string, error) {
	repo, err := githubapi.ForRepo(g.Clients, t.InstallationID, t.Repo)
	if err != nil {
		return "", "", err
	}
	committer, err := g.noreply(ctx, repo, g.BotLogin)
	if err != nil {
		return "", "", err
	}
	coAuthor, err := g.noreply(ctx, repo, t.Requester)
	var gone *github.ErrorResponse
	if errors.As(err, &gone) && gone.Response != nil && gone.Response.StatusCode == http.StatusNotFound {
		// Renamed or deleted since they asked: the change is made without
		// a co-author rather than not at all.
		return committer, "", nil
	}
	return committer, coAuthor, err
}

func (g *GitHub) noreply(ctx context.Context, repo *githubapi.Repo, login string) (string, error) {
	g.idMu.Lock()
	id, ok := g.ids[login]
	g.idMu.Unlock()
	if !ok {
		user, _, err := repo.Client.Users.Get(ctx, login)
		if err != nil {
			return "", fmt.Errorf("look up %s: %w", login, err)
		}
		id = user.GetID()
		g.idMu.Lock()
		if g.ids == nil {
			g.ids = map[string]int64{}
		}
		g.ids[login] = id
		g.idMu.Unlock()
	}
	return fmt.Sprintf("%s <%d+%s@%s>", login, id, login, noreplyDomain(g.App.WebURL)), nil
}

// noreplyDomain is the domain of people's private commit addresses on the
// GitHub at webURL: github.com's, or a GitHub Enterprise Server's own.
func noreplyDomain(webURL string) string {
	u, err := url.Parse(webURL)
	if err != nil || u.Hostname() == "" || u.Hostname() == "github.com" {
		return "users.noreply.github.com"
	}
	return "users.noreply." + u.Hostname()
}

// token makes an installation token limited to the task's repository and
// to reading or writing its contents, and its workflows when asked: git on
// the host uses it, for one fetch or one push.
func (g *GitHub) token(ctx context.Context, t *tasks.Task, access string, workflows bool) (string, error) {
	transport, err := ghinstallation.New(http.DefaultTransport, g.App.App.IntegrationID, t.InstallationID, []byte(g.App.App.PrivateKey))
	if err != nil {
		return "", fmt.Errorf("installation token: %w", err)
	}
	transport.BaseURL = strings.TrimSuffix(g.App.V3APIURL, "/")
	transport.InstallationTokenOptions = &github.InstallationTokenOptions{
		Permissions: &github.InstallationPermissions{Contents: &access},
	}
	// By ID, which a rename since the task was asked for keeps; a task
	// recorded without one has its name.
	if t.RepoID != 0 {
		transport.InstallationTokenOptions.RepositoryIDs = []int64{t.RepoID}
	} else {
		_, name, _ := strings.Cut(t.Repo, "/")
		transport.InstallationTokenOptions.Repositories = []string{name}
	}
	if workflows {
		transport.InstallationTokenOptions.Permissions.Workflows = &access
	}
	token, err := transport.Token(ctx)
	if err != nil {
		return "", fmt.Errorf("installation token for %s: %w", t.Repo, err)
	}
	return token, nil
}

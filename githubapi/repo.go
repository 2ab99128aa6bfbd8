package githubapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/palantir/go-githubapp/githubapp"
)

// Repo is an installation's client bound to one repository: the calls
// oneshot makes on it.
type Repo struct {
	Client      *github.Client
	Owner, Name string
}

// ForRepo makes the client of an installation for the repository named
// "owner/name".
func ForRepo(cc githubapp.ClientCreator, installationID int64, fullName string) (*Repo, error) {
	owner, name, ok := SplitFullName(fullName)
	if !ok {
		return nil, fmt.Errorf("repository %q is not owner/name", fullName)
	}
	client, err := cc.NewInstallationClient(installationID)
	if err != nil {
		return nil, fmt.Errorf("client for installation %d: %w", installationID, err)
	}
	return &Repo{Client: client, Owner: owner, Name: name}, nil
}

// FullName is "owner/name".
func (r *Repo) FullName() string { return r.Owner + "/" + r.Name }

// CanWrite reports whether a person may change the repository: admin,
// maintain or write access, or a custom role built on them. It asks the
// collaborator-permission endpoint, whose legacy "permission" field folds
// maintain into write and custom roles into their base; author_association
// in payloads is never enough, since it hides private org membership.
func (r *Repo) CanWrite(ctx context.Context, login string) (bool, error) {
	level, resp, err := r.Client.Repositories.GetPermissionLevel(ctx, r.Owner, r.Name, login)
	if resp != nil && resp.StatusCode == 404 {
		return false, nil // no such user: certainly no access
	}
	if err != nil {
		return false, fmt.Errorf("permission of %s on %s: %w", login, r.FullName(), err)
	}
	switch level.GetPermission() {
	case "admin", "write":
		return true, nil
	}
	return false, nil
}

// React adds a reaction to a comment, or to the issue when commentID is 0.
func (r *Repo) React(ctx context.Context, issue int, commentID int64, content string) error {
	var err error
	if commentID != 0 {
		_, _, err = r.Client.Reactions.CreateIssueCommentReaction(ctx, r.Owner, r.Name, commentID, content)
	} else {
		_, _, err = r.Client.Reactions.CreateIssueReaction(ctx, r.Owner, r.Name, issue, content)
	}
	if err != nil {
		return fmt.Errorf("react on %s#%d: %w", r.FullName(), issue, err)
	}
	return nil
}

// ReactToReviewComment adds a reaction to a pull request review comment,
// which GitHub numbers apart from issue comments.
func (r *Repo) ReactToReviewComment(ctx context.Context, pull int, commentID int64, content string) error {
	if _, _, err := r.Client.Reactions.CreatePullRequestCommentReaction(ctx, r.Owner, r.Name, commentID, content); err != nil {
		return fmt.Errorf("react on a review comment of %s#%d: %w", r.FullName(), pull, err)
	}
	return nil
}

// ReviewComments lists the comments a review left on a pull request,
// oldest first.
func (r *Repo) ReviewComments(ctx context.Context, pull int, reviewID int64) ([]*github.PullRequestComment, error) {
	var all []*github.PullRequestComment
	opts := &github.ListOptions{PerPage: 100}
	for {
		page, resp, err := r.Client.PullRequests.ListReviewComments(ctx, r.Owner, r.Name, pull, reviewID, opts)
		if err != nil {
			return nil, fmt.Errorf("list the comments of review %d on %s#%d: %w", reviewID, r.FullName(), pull, err)
		}
		all = append(all, page...)
		if resp.NextPage == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
}

// ReplyToReviewComment answers a pull request review comment in its
// thread. Like Comment, it looks for the reply before it reports a failure
// that may have come after GitHub made it.
func (r *Repo) ReplyToReviewComment(ctx context.Context, pull int, commentID int64, body string) error {
	since := time.Now().Add(-time.Minute) // GitHub's clock may be a little behind ours
	_, _, err := r.Client.PullRequests.CreateCommentInReplyTo(ctx, r.Owner, r.Name, pull, body, commentID)
	if err != nil && MayHaveHappened(err) {
		look, cancel := lookContext(ctx)
		defer cancel()
		if r.foundReply(look, pull, commentID, body, since) {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("reply to a review comment of %s#%d: %w", r.FullName(), pull, err)
	}
	return nil
}

// foundReply says whether the pull request's review comments since since
// hold body in reply to commentID. Not knowing is no.
func (r *Repo) foundReply(ctx context.Context, pull int, commentID int64, body string, since time.Time) bool {
	comments, _, err := r.Client.PullRequests.ListComments(ctx, r.Owner, r.Name, pull, &github.PullRequestListCommentsOptions{
		Since: since, ListOptions: github.ListOptions{PerPage: 100},
	})
	if err != nil {
		return false
	}
	for _, c := range comments {
		if c.GetInReplyTo() == commentID && c.GetBody() == body {
			return true
		}
	}
	return false
}

// Comment posts a comment on an issue or pull request.
//
// A failure that may have come after GitHub made the comment (a server
// error, a lost answer) is checked by looking for it among the issue's
// newest comments: a caller that tried again would post it twice.
func (r *Repo) Comment(ctx context.Context, issue int, body string) (*github.IssueComment, error) {
	since := time.Now().Add(-time.Minute) // GitHub's clock may be a little behind ours
	c, _, err := r.Client.Issues.CreateComment(ctx, r.Owner, r.Name, issue, &github.IssueComment{Body: &body})
	if err != nil && MayHaveHappened(err) {
		look, cancel := lookContext(ctx)
		defer cancel()
		if made := r.findComment(look, issue, body, since); made != nil {
			return made, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("comment on %s#%d: %w", r.FullName(), issue, err)
	}
	return c, nil
}

// PullRequest reads a pull request.
func (r *Repo) PullRequest(ctx context.Context, pull int) (*github.PullRequest, error) {
	pr, _, err := r.Client.PullRequests.Get(ctx, r.Owner, r.Name, pull)
	if err != nil {
		return nil, fmt.Errorf("read pull request %s#%d: %w", r.FullName(), pull, err)
	}
	return pr, nil
}

// OpenPullRequestFrom returns the open pull request from head, a branch
// of this repository, into whatever base; nil when there is none. A
// maintainer may have moved oneshot's pull request to another base
// (develop, say): it is still the branch's pull request, and a second one
// into the default branch would split the change's review in two. Of
// several open ones, the newest.
func (r *Repo) OpenPullRequestFrom(ctx context.Context, head string) (*github.PullRequest, error) {
	open, _, err := r.Client.PullRequests.List(ctx, r.Owner, r.Name, &github.PullRequestListOptions{
		State: "open", Head: r.Owner + ":" + head,
	})
	if err != nil {
		return nil, fmt.Errorf("look for an open pull request from %s: %w", head, err)
	}
	if len(open) == 0 {
		return nil, nil
	}
	return open[0], nil
}

// Reviewed returns the logins of those who have reviewed a pull request,
// each once.
func (r *Repo) Reviewed(ctx context.Context, pull int) ([]string, error) {
	var logins []string
	opts := &github.ListOptions{PerPage: 100}
	for {
		reviews, resp, err := r.Client.PullRequests.ListReviews(ctx, r.Owner, r.Name, pull, opts)
		if err != nil {
			return nil, fmt.Errorf("list the reviews of %s#%d: %w", r.FullName(), pull, err)
		}
		for _, rv := range reviews {
			if login := rv.GetUser().GetLogin(); !slices.Contains(logins, login) {
				logins = append(logins, login)
			}
		}
		if resp.NextPage == 0 {
			return logins, nil
		}
		opts.Page = resp.NextPage
	}
}

// PullRequestsFrom returns the pull request open from head, into whatever
// base, or else the closed one whose head was sha when it closed; both nil
// when there is neither. With one open, the branch is that one's, not a
// closed one's to replace.
func (r *Repo) PullRequestsFrom(ctx context.Context, head, sha string) (open, closed *github.PullRequest, err error) {
	prs, _, err := r.Client.PullRequests.List(ctx, r.Owner, r.Name, &github.PullRequestListOptions{
		State: "all", Head: r.Owner + ":" + head,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("look for the pull requests from %s: %w", head, err)
	}
	for _, pr := range prs {
		switch {
		case pr.GetState() == "open":
			return pr, nil, nil
		case closed == nil && pr.GetHead().GetSHA() == sha:
			closed = pr
		}
	}
	return nil, closed, nil
}

// OpenPullRequest opens a pull request, and says whether it did.
//
// A failure that may have come after GitHub opened it is checked by
// looking for the open pull request from its head; so is GitHub's answer
// that one is open already. Either way the caller gets the pull request
// that is there, not an error beside a pull request nobody mentions; made
// is false for one opened before, which the caller may want to update.
func (r *Repo) OpenPullRequest(ctx context.Context, pr *github.NewPullRequest) (open *github.PullRequest, made bool, err error) {
	created, _, err := r.Client.PullRequests.Create(ctx, r.Owner, r.Name, pr)
	if err != nil && (MayHaveHappened(err) || isStatus(err, http.StatusUnprocessableEntity)) {
		look, cancel := lookContext(ctx)
		defer cancel()
		if found, _ := r.OpenPullRequestFrom(look, pr.GetHead()); found != nil {
			// After a lost answer it is most likely the one just made;
			// after a 422, one made before.
			return found, MayHaveHappened(err), nil
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("open a pull request from %s: %w", pr.GetHead(), err)
	}
	return created, true, nil
}

// lookupTimeout bounds the look for what a request whose answer was lost
// may have made.
const lookupTimeout = 30 * time.Second

// lookContext is the context of that look. A request that took all of
// ctx's time may have made it all the same: the look gets time of its
// own, without which the caller, told of a failure, would try again and
// make it twice.
func lookContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), lookupTimeout)
}

// HasComment says whether one of the newest comments on an issue (the
// last hundred at least) by author ends with suffix. Only author's count:
// anyone may end a comment of theirs with the suffix, a hidden marker
// copied from the bot's, say.
func (r *Repo) HasComment(ctx context.Context, issue int, author, suffix string) (bool, error) {
	// Newest first is not a choice the endpoint offers: the last pages
	// are read, which the first page's links name. The last may hold a
	// single comment, so the one before it is read too.
	page := func(n int) ([]*github.IssueComment, *github.Response, error) {
		opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100, Page: n}}
		return r.Client.Issues.ListComments(ctx, r.Owner, r.Name, issue, opts)
	}
	comments, resp, err := page(1)
	if err == nil {
		for n := max(resp.LastPage-1, 2); n <= resp.LastPage && err == nil; n++ {
			var more []*github.IssueComment
			more, _, err = page(n)
			comments = append(comments, more...)
		}
	}
	if err != nil {
		return false, fmt.Errorf("list the comments of %s#%d: %w", r.FullName(), issue, err)
	}
	for _, c := range comments {
		if strings.EqualFold(c.GetUser().GetLogin(), author) && strings.HasSuffix(c.GetBody(), suffix) {
			return true, nil
		}
	}
	return false, nil
}

// findComment returns the comment on issue made since with body, or nil.
func (r *Repo) findComment(ctx context.Context, issue int, body string, since time.Time) *github.IssueComment {
	comments, _, err := r.Client.Issues.ListComments(ctx, r.Owner, r.Name, issue, &github.IssueListCommentsOptions{
		Since: &since, ListOptions: github.ListOptions{PerPage: 100},
	})
	if err != nil {
		return nil
	}
	for _, c := range comments {
		if c.GetBody() == body {
			return c
		}
	}
	return nil
}

// DefaultBranchHead returns the default branch and the commit at its head.
func (r *Repo) DefaultBranchHead(ctx context.Context) (branch, sha string, err error) {
	repo, _, err := r.Client.Repositories.Get(ctx, r.Owner, r.Name)
	if err != nil {
		return "", "", fmt.Errorf("look up %s: %w", r.FullName(), err)
	}
	branch = repo.GetDefaultBranch()
	b, _, err := r.Client.Repositories.GetBranch(ctx, r.Owner, r.Name, branch, 1)
	if err != nil {
		return "", "", fmt.Errorf("look up %s branch %s: %w", r.FullName(), branch, err)
	}
	return branch, b.GetCommit().GetSHA(), nil
}

// IsBot says whether an account is a bot, by its type or its login. A bot's
// word is never a person's: it starts no work and is no trusted voice.
func IsBot(login, accountType string) bool {
	return accountType == "Bot" || strings.HasSuffix(login, "[bot]")
}

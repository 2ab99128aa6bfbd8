package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v62/github"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/tasks"
	"github.com/oneshot-dev/oneshot/workspace"
)

// Publish pushes the commit to the task's branch, never the default
// branch, and opens the pull request, or updates the one already open for
// the branch.
func (g *GitHub) Publish(ctx context.Context, t *tasks.Task, co *pipeline.Checkout, pr pipeline.PullRequest) (pipeline.Published, error) {
	if pr.Branch == co.DefaultBranch || !strings.Contains(pr.Branch, "/") {
		return pipeline.Published{}, fmt.Errorf("refusing to push to %q: oneshot pushes only to its own branches", pr.Branch)
	}
	token, err := g.token(ctx, t, "write", pr.Workflows)
	var refused *ghinstallation.HTTPError
	if pr.Workflows && errors.As(err, &refused) && refused.Response != nil && refused.Response.StatusCode == http.StatusUnprocessableEntity {
		return pipeline.Published{}, fmt.Errorf("the change touches .github/workflows/, which only a token with the App's workflows permission may push (see app.yml): %w", err)
	}
	if err != nil {
		return pipeline.Published{}, err
	}
	// The push expects the branch where the attempt found it: a branch it
	// continued, deleted since (as GitHub may when its pull request is
	// merged), must not be made again with what was merged.
	expected := pr.Continues
	if co.Replaces != nil {
		expected = co.Replaces.Head
	}
	if pr.Continues != "" {
		if err := g.stillOpen(ctx, t, pr); err != nil {
			return pipeline.Published{}, err
		}
	}
	if co.Replaces != nil {
		if err := g.stillClosed(ctx, t, pr.Branch); err != nil {
			return pipeline.Published{}, err
		}
	}
	auth := workspace.Auth{Token: token}
	err = push(ctx, co, auth, pr.Head, pr.Branch, expected)
	if co.Replaces != nil && errors.Is(err, workspace.ErrBranchMoved) {
		// The branch replaced was left by a closed pull request and
		// builds nothing here: deleted meanwhile (as a maintainer tidying
		// up after closing it does), it is made again.
		if head, lookErr := co.Repo.RemoteHead(ctx, co.Remote, auth, pr.Branch); lookErr == nil && head == "" {
			err = push(ctx, co, auth, pr.Head, pr.Branch, workspace.NoBranch)
		}
	}
	if err != nil {
		return pipeline.Published{}, fmt.Errorf("push %s: %w", pr.Branch, err)
	}
	// The change is on GitHub now: its pull request is opened or found
	// whatever ends the attempt meanwhile (a cancel, the deadline), so
	// that the attempt's report can link it rather than say it stopped
	// with nothing to show.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pullRequestTimeout)
	defer cancel()
	published, err := g.pullRequestOf(ctx, t, pr)
	if err != nil {
		return pipeline.Published{}, &pipeline.NoPullRequestError{Err: err}
	}
	return published, nil
}

// pullRequestOf opens or updates the pull request of the pushed branch.
func (g *GitHub) pullRequestOf(ctx context.Context, t *tasks.Task, pr pipeline.PullRequest) (pipeline.Published, error) {
	repo, err := githubapi.ForRepo(g.Clients, t.InstallationID, t.Repo)
	if err != nil {
		return pipeline.Published{}, err
	}
	// The branch's open pull request, whatever its base: pr.Base is only
	// where a new one goes. Looked for again while GitHub fails for now,
	// as opening it is below: the change is pushed.
	var existing *github.PullRequest
	err = githubapi.UntilTaken(ctx, pullRequestRetry, func() (err error) {
		existing, err = repo.OpenPullRequestFrom(ctx, pr.Branch)
		return err
	})
	if err != nil {
		return pipeline.Published{}, err
	}
	write := func(w githubapi.Write, fn func() error) error {
		return g.Throttle.Do(ctx, t.ID, w, func(context.Context) error { return fn() })
	}
	var warnings []string
	update := func(existing *github.PullRequest) (pipeline.Published, error) {
		published := pipeline.Published{URL: existing.GetHTMLURL(), Number: existing.GetNumber(), Updated: true, Warnings: warnings}
		// Only oneshot's part of the description: the title, and what
		// people wrote around that part, are theirs to keep. A description
		// without that part (a person took it out, or opened the pull
		// request from the branch themselves) is theirs whole.
		if body, ok := pipeline.UpdatedDescription(existing.GetBody(), pr.Body); ok && utf8.RuneCountInString(body) > maxDescription {
			published.Warnings = append(published.Warnings, "could not update its description: with what people wrote around oneshot's part, it would be longer than GitHub takes")
		} else if ok {
			if err := write(githubapi.Write{}, func() error {
				_, _, err := repo.Client.PullRequests.Edit(ctx, repo.Owner, repo.Name, existing.GetNumber(), &github.PullRequest{Body: &body})
				return err
			}); err != nil {
				// The push has updated it already: the change is there, and
				// only its description is behind, which is said beside it.
				published.Warnings = append(published.Warnings, fmt.Sprintf("could not update its description: %v", err))
			}
		}
		// The attempt that opened it may have died before it labelled it
		// and asked for reviews.
		published.Warnings = append(published.Warnings, g.labelAndAsk(ctx, write, repo, t, pr, existing, false)...)
		return published, nil
	}
	if existing != nil {
		return update(existing)
	}
	var created *github.PullRequest
	// made says this attempt opened it; perhapsMade, that a try whose
	// answer was lost may have, which makes the pull request a later try
	// finds open this attempt's too, to label and ask reviews for.
	made, perhapsMade := false, false
	open := func(draft bool) error {
		// Tried again while GitHub fails for now: the change is pushed,
		// and a failure here would stop the attempt with nothing to show.
		return githubapi.UntilTaken(ctx, pullRequestRetry, func() error {
			return write(githubapi.Write{Creates: true}, func() (err error) {
				created, made, err = repo.OpenPullRequest(ctx, &github.NewPullRequest{
					Title: &pr.Title, Head: &pr.Branch, Base: &pr.Base, Body: &pr.Body, Draft: &draft,
				})
				made = made || (err == nil && perhapsMade)
				perhapsMade = perhapsMade || githubapi.MayHaveHappened(err)
				return err
			})
		})
	}
	err = open(pr.Draft)
	if pr.Draft && githubapi.DraftsRefused(err) {
		warnings = append(warnings, "was opened ready for review: GitHub has no draft pull requests in this repository")
		err = open(false)
	}
	if err != nil {
		return pipeline.Published{}, err
	}
	if !made {
		// Opened before, by an earlier attempt the list above missed.
		return update(created)
	}
	published := pipeline.Published{URL: created.GetHTMLURL(), Number: created.GetNumber(), Warnings: warnings}
	published.Warnings = append(published.Warnings, g.labelAndAsk(ctx, write, repo, t, pr, created, true)...)
	return published, nil
}

// labelAndAsk labels the pull request pull and asks for its reviews as pr
// says, leaving out what it has: the labels it carries, and the reviewers
// asked already, those who have reviewed it (unless it was just opened,
// when none has) and its author, whom GitHub refuses. A pull request that
// an earlier attempt opened so gets what it lacks, and no one is asked
// twice. The pull request is open: what GitHub refuses from here on is
// returned, to be said beside it, not made the task's failure.
func (g *GitHub) labelAndAsk(ctx context.Context, write func(githubapi.Write, func() error) error,
	repo *githubapi.Repo, t *tasks.Task, pr pipeline.PullRequest, pull *github.PullRequest, opened bool) (warnings []string) {
	create := githubapi.Write{Creates: true}
	number := pull.GetNumber()
	var labels []string
	for _, name := range pr.Labels {
		if !slices.ContainsFunc(pull.Labels, func(l *github.Label) bool { return strings.EqualFold(l.GetName(), name) }) {
			labels = append(labels, name)
		}
	}
	if len(labels) > 0 {
		if err := write(create, func() error {
			_, _, err := repo.Client.Issues.AddLabelsToIssue(ctx, repo.Owner, repo.Name, number, labels)
			return err
		}); err != nil {
			warnings = append(warnings, fmt.Sprintf("could not label it %s: %v", strings.Join(labels, ", "), err))
		}
	}
	skip := []string{pull.GetUser().GetLogin()}
	for _, u := range pull.RequestedReviewers {
		skip = append(skip, u.GetLogin())
	}
	reviewers := without(reviewersFor(t.Requester, pr.Reviewers, g.BotLogin), skip)
	if len(reviewers) > 0 && !opened {
		reviewed, err := repo.Reviewed(ctx, number)
		if err != nil {
			return append(warnings, fmt.Sprintf("could not request reviews from %s: %v", strings.Join(reviewers, ", "), err))
		}
		reviewers = without(reviewers, reviewed)
	}
	request := func(reviewers []string) error {
		return write(create, func() error {
			_, _, err := repo.Client.PullRequests.RequestReviewers(ctx, repo.Owner, repo.Name, number,
				github.ReviewersRequest{Reviewers: reviewers})
			return err
		})
	}
	return append(warnings, requestReviews(request, reviewers)...)
}

// maxDescription is the most characters GitHub takes in a pull
// request's description.
const maxDescription = 65536

// without returns the logins not in skip, which GitHub compares without
// case.
func without(logins, skip []string) []string {
	return slices.DeleteFunc(logins, func(login string) bool {
		return slices.ContainsFunc(skip, func(s string) bool { return strings.EqualFold(s, login) })
	})
}

// requestReviews asks reviewers for reviews by request, and says what
// GitHub refused. GitHub refuses the whole request for one login it will
// not take (someone who left the organisation): each is then asked alone,
// in order, the requester first.
func requestReviews(request func(reviewers []string) error, reviewers []string) (warnings []string) {
	if len(reviewers) == 0 {
		return nil
	}
	err := request(reviewers)
	if err == nil {
		return nil
	}
	if len(reviewers) == 1 || !githubapi.Refused(err) {
		return []string{fmt.Sprintf("could not request reviews from %s: %v", strings.Join(reviewers, ", "), err)}
	}
	for _, login := range reviewers {
		if err := request([]string{login}); err != nil {
			warnings = append(warnings, fmt.Sprintf("could not request a review from %s: %v", login, err))
		}
	}
	return warnings
}

// push pushes commit to branch as expected (see workspace.Repo.Push),
// trying again while GitHub fails for now, pushTries times in all: the
// change passed its checks, and a push GitHub failed once would lose it.
// A try whose answer was lost may have gone through: the next finds the
// branch at the commit already, which git takes as done, whatever the
// lease expected.
func push(ctx context.Context, co *pipeline.Checkout, auth workspace.Auth, commit, branch, expected string) error {
	wait := pushRetry
	for try := 1; ; try++ {
		err := co.Repo.Push(ctx, co.Remote, auth, commit, branch, expected)
		if err == nil || try == pushTries || !workspace.FailedForNow(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// pushTries is how many times a push is tried while GitHub fails for
// now; pushRetry, the wait after the first, doubled after each next.
const (
	pushTries = 3
	pushRetry = 2 * time.Second
)

// pullRequestTimeout bounds opening or updating the pull request after the
// push, retries and the throttle included; pullRequestRetry is the first
// wait before looking for it or opening it is tried again, doubled at each
// next.
const (
	pullRequestTimeout = 2 * time.Minute
	pullRequestRetry   = 2 * time.Second
)

// reviewersFor asks the requester first, then the configured reviewers;
// never the bot, which GitHub refuses as the pull request's author.
func reviewersFor(requester string, configured []string, bot string) []string {
	var out []string
	seen := map[string]bool{bot: true}
	for _, login := range append([]string{requester}, configured...) {
		if login != "" && !seen[login] {
			seen[login] = true
			out = append(out, login)
		}
	}
	return out
}

package contextgather

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/go-github/v62/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/tasks"
)

// maxTitle bounds a title kept as one line; GitHub's own limit is 256.
const maxTitle = 256

// Gatherer reads a task's material from GitHub and from the repository's
// checkout.
type Gatherer struct {
	Clients githubapp.ClientCreator
	// WebURL is GitHub's web address, as https://github.com or a GitHub
	// Enterprise host: links to issues are recognised on it alone.
	WebURL string
	Logger zerolog.Logger
}

// ErrEditedSinceAsked is a task whose issue, opened by someone who may
// not ask for work, is no longer what the person who asked saw.
var ErrEditedSinceAsked = errors.New("the issue's title or body changed after the work was asked for")

// Gather reads the task's issue (for a follow-up, its pull request), the
// comments of people who may write to the repository, what they link to,
// related issues, the guidelines and layout of checkout (the repository
// at the task's base commit; nil skips them) and the repository's
// languages. Only the issue and its comments are needed: anything else
// that fails is logged and left out.
func (g *Gatherer) Gather(ctx context.Context, t *tasks.Task, checkout fs.FS) (Material, error) {
	log := g.Logger.With().Str("task_id", t.ID).Str("repo", t.Repo).Int("issue", t.Issue).
		Str("delivery_id", t.DeliveryID).Logger()
	repo, err := githubapi.ForRepo(g.Clients, t.InstallationID, t.Repo)
	if err != nil {
		return Material{}, err
	}
	number := t.Issue
	if t.Kind == tasks.KindFollowUp && t.PullRequest != 0 {
		number = t.PullRequest
	}
	issue, _, err := repo.Client.Issues.Get(ctx, repo.Owner, repo.Name, number)
	if err != nil {
		return Material{}, fmt.Errorf("read %s#%d: %w", t.Repo, number, err)
	}
	if !inRepository(issue, repo) {
		return Material{}, fmt.Errorf("%s#%d was moved to another repository (%s)", t.Repo, number, issue.GetHTMLURL())
	}
	trust := newTrustCache(repo)
	// Whether the issue is its author's word or text to fence decides all
	// the prompt says of it: not known, the attempt stops, saying so, for
	// a retry, rather than fence a maintainer's issue (or refuse it as
	// edited since) on a guess. (A linked item's author is taken as
	// untrusted then.)
	if _, err := trust.canWrite(ctx, issue.GetUser()); err != nil {
		return Material{}, fmt.Errorf("read the permission of %s#%d's author: %w", t.Repo, number, err)
	}
	m := Material{
		Repo:         t.Repo,
		Issue:        itemOf(ctx, issue, trust, log),
		FollowUp:     t.Kind == tasks.KindFollowUp,
		Instructions: Sanitize(t.Instructions),
		Requester:    t.Requester,
	}
	// The person who asked approved the issue as they saw it. Changed
	// since, when its author may not ask for work, it is not what they
	// approved. (GitHub does not say who made the change, which someone
	// who may write could have made too: they ask again all the same. A
	// follow-up's pull request is the bot's, which its attempts edit.)
	if t.Kind == tasks.KindIssue && !m.Issue.Trusted && t.IssueDigest != "" &&
		tasks.DigestOf(issue.GetTitle(), issue.GetBody()) != t.IssueDigest {
		return Material{}, ErrEditedSinceAsked
	}
	if m.Comments, err = trustedComments(ctx, repo, number, issue.GetComments(), trust, log); err != nil {
		return Material{}, err
	}

	// findRefs keeps the first few references: the issue's own first, if
	// its author may write, else after those of the people who may, so
	// that a stranger's list of links cannot crowd out theirs. A
	// follow-up's pull request is the bot's, whose "Fixes #N" names the
	// issue its work is for.
	texts := []string{m.Instructions}
	for _, c := range m.Comments {
		texts = append(texts, c.Body)
	}
	if m.Issue.Trusted || m.FollowUp {
		texts = slices.Insert(texts, 0, m.Issue.Body)
	} else {
		texts = append(texts, m.Issue.Body)
	}
	refs := findRefs(g.WebURL, repo.Owner, repo.Name, number, texts...)
	m.Linked = readLinked(ctx, repo, refs, trust, log)
	m.Related = related(ctx, repo, m.Issue.Title, skipNumbers(number, m.Linked), log)
	m.Languages = languages(ctx, repo, log)
	if checkout != nil {
		m.Guidelines = guidelines(checkout, log)
		m.Layout, m.LayoutOmitted = topLevel(checkout, log)
	}
	return m, nil
}

// itemOf keeps what the agent needs of an issue or pull request. An
// author whose permission cannot be read is taken as untrusted: their
// text is then fenced, which costs little when wrong.
func itemOf(ctx context.Context, is *github.Issue, trust *trustCache, log zerolog.Logger) Item {
	it := Item{
		Number: is.GetNumber(),
		Kind:   KindIssue,
		State:  is.GetState(),
		Title:  cleanTitle(is.GetTitle()),
		Body:   Sanitize(is.GetBody()),
		URL:    is.GetHTMLURL(),
		Author: is.GetUser().GetLogin(),
	}
	if is.IsPullRequest() {
		it.Kind = KindPullRequest
	}
	ok, err := trust.canWrite(ctx, is.GetUser())
	if err != nil {
		log.Warn().Err(err).Int("number", it.Number).Str("author", it.Author).
			Msg("Could not read the permission of an author; their text is marked untrusted.")
	}
	it.Trusted = ok
	return it
}

// trustedComments returns the comments on an issue by people who may
// write to the repository, oldest first. Anyone may comment on an issue,
// and what the prompt says steers code that will run, so a permission
// that cannot be read fails the task rather than let a comment through or
// lose a maintainer's. On an issue with a crowd in it, only the newest
// maxComments comments are read, and the permissions of the newest
// maxCommenters people asked, whose comments are the ones the prompt has
// room for: each question is a request of the installation's, which all
// its tasks share.
//
// count is how many comments the issue said it had. The pages are read
// from the last it makes back, until maxComments are held, so that none
// is read only to be dropped, as the first was when it was read to learn
// which page is the last; a last page that is not full takes part of one
// more to make up maxComments, where the newest five pages held as few as
// 401.
func trustedComments(ctx context.Context, repo *githubapi.Repo, number, count int, trust *trustCache, log zerolog.Logger) ([]Comment, error) {
	page := func(n int) ([]*github.IssueComment, *github.Response, error) {
		opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: commentsPerPage, Page: n}}
		comments, resp, err := repo.Client.Issues.ListComments(ctx, repo.Owner, repo.Name, number, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("read the comments of %s#%d: %w", repo.FullName(), number, err)
		}
		return comments, resp, nil
	}
	last := max(1, (count+commentsPerPage-1)/commentsPerPage)
	all, resp, err := page(last)
	if err != nil {
		return nil, err
	}
	if resp.LastPage > last {
		// More pages than the issue's count makes, which comments since
		// have added, or a count missing: the newest are on the last.
		last = resp.LastPage
		if all, _, err = page(last); err != nil {
			return nil, err
		}
	}
	from := last
	for from > 1 && len(all) < maxComments && last-from < maxComments/commentsPerPage {
		from--
		more, _, err := page(from)
		if err != nil {
			return nil, err
		}
		all = append(more, all...)
	}
	if from > 1 || len(all) > maxComments {
		all = all[max(0, len(all)-maxComments):]
		log.Info().Int("comments", count).Msg("The issue has more comments than are read; only the newest are.")
	}
	asked, skipped := map[string]bool{}, 0
	keep := make([]bool, len(all))
	for i := len(all) - 1; i >= 0; i-- {
		c := all[i]
		login := strings.ToLower(c.GetUser().GetLogin())
		if !asked[login] && len(asked) == maxCommenters {
			skipped++
			continue
		}
		asked[login] = true
		ok, err := trust.canWrite(ctx, c.GetUser())
		if err != nil {
			return nil, err
		}
		keep[i] = ok
	}
	if skipped > 0 {
		log.Info().Int("comments", skipped).Msg("The issue has more commenters than are asked about; the comments of the earlier ones are left out.")
	}
	var out []Comment
	for i, c := range all {
		if keep[i] {
			out = append(out, Comment{
				Author: c.GetUser().GetLogin(), Body: Sanitize(c.GetBody()),
				URL: c.GetHTMLURL(), Created: c.GetCreatedAt().Time,
			})
		}
	}
	return out, nil
}

// maxComments and maxCommenters bound what trustedComments reads and
// asks: 500 comments, in pages of commentsPerPage, GitHub's most, and the
// permissions of 100 people.
const (
	maxComments     = 500
	commentsPerPage = 100
	maxCommenters   = 100
)

// cleanTitle is an issue's title as the prompt shows it: without invisible
// characters, on one line, cut to maxTitle. GitHub shows a title as plain
// text, markup and all ("Handle <script> tags"), so nothing else goes;
// the prompt puts it after "Title: ", where it cannot open a block.
func cleanTitle(title string) string { return oneLine(stripInvisible(title), maxTitle) }

// oneLine joins the lines of s and cuts it to at most limit characters,
// the "…" that marks a cut included: GitHub counts a title's characters,
// and a title of Chinese or Japanese is three bytes a character.
func oneLine(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return string([]rune(s)[:limit-1]) + "…"
}

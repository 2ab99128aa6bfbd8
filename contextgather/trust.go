package contextgather

import (
	"context"
	"strings"

	"github.com/google/go-github/v62/github"

	"github.com/oneshot-dev/oneshot/githubapi"
)

// trustCache asks GitHub once per person, for one Gather, whether they may
// write to the repository.
type trustCache struct {
	repo  *githubapi.Repo
	known map[string]bool // by lower-case login
}

func newTrustCache(repo *githubapi.Repo) *trustCache {
	return &trustCache{repo: repo, known: map[string]bool{}}
}

// canWrite reports whether u has write, maintain or admin permission.
// Bots never do here: an App's text is not a person's word, and GitHub's
// permission endpoint does not know them. An error is not remembered, so
// the next question asks again.
func (c *trustCache) canWrite(ctx context.Context, u *github.User) (bool, error) {
	login := u.GetLogin()
	if login == "" || githubapi.IsBot(login, u.GetType()) {
		return false, nil
	}
	key := strings.ToLower(login)
	if ok, seen := c.known[key]; seen {
		return ok, nil
	}
	ok, err := c.repo.CanWrite(ctx, login)
	if err != nil {
		return false, err
	}
	c.known[key] = ok
	return ok, nil
}

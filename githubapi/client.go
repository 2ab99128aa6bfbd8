// Package githubapi is the bot's side of GitHub's REST API: installation
// clients that retry what is safe to retry, and the calls oneshot makes
// (permissions, reactions, replies, check runs).
package githubapi

import (
	"context"
	"fmt"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
)

// clientTimeout bounds one call, its retries and their waits included.
const clientTimeout = DefaultRetryMaxWait + time.Minute

// NewClientCreator makes the clients every GitHub call goes through: App
// and installation auth by go-githubapp and ghinstallation, response
// caching, and Retry. cfg's API URLs decide where they point, which is how
// tests point them at a fake.
func NewClientCreator(cfg githubapp.Config, version string, retry RetryPolicy) (githubapp.ClientCreator, error) {
	cc, err := githubapp.NewDefaultCachingClientCreator(cfg,
		githubapp.WithClientUserAgent("oneshot/"+version),
		githubapp.WithClientTimeout(clientTimeout),
		githubapp.WithClientMiddleware(Retry(retry)),
	)
	if err != nil {
		return nil, fmt.Errorf("github clients: %w", err)
	}
	return cc, nil
}

// BotLogin returns the login GitHub shows for the App's own actions, as in
// "oneshot[bot]".
func BotLogin(ctx context.Context, cc githubapp.ClientCreator) (string, error) {
	client, err := cc.NewAppClient()
	if err != nil {
		return "", err
	}
	app, _, err := client.Apps.Get(ctx, "")
	if err != nil {
		return "", fmt.Errorf("look up the GitHub App: %w", err)
	}
	return app.GetSlug() + "[bot]", nil
}

package server

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/oneshot-dev/oneshot/workspace"
)

// makeGitCacheDir makes the git cache's directory, and refuses one that is
// not this user's alone: it holds the history of every repository the bot
// works on, and git runs in it with the tasks' tokens, which a
// configuration planted there could send elsewhere.
func makeGitCacheDir(dir string) error {
	const setting = "git.cache_dir (ONESHOT_GIT_CACHE_DIR)"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%w; set %s to a directory this user may write", err, setting)
	}
	return ownPrivateDir(dir, setting)
}

// gitCacheSweep is how often a working bot looks for repositories to
// remove from its git cache.
const gitCacheSweep = time.Hour

// startGitCacheSweep removes from the git cache the repositories no task
// fetched into for git.cache_max_age: at once, then every gitCacheSweep,
// until stopGitCacheSweep. Each host has its own cache, so each working
// process sweeps its own, not a queue job that any replica might take.
func (s *Server) startGitCacheSweep() {
	maxAge := s.cfg.Git.CacheMaxAge
	if maxAge == 0 {
		return
	}
	cache := &workspace.Cache{Dir: s.cfg.Git.CacheDir}
	s.stopGitCacheSweep = every(gitCacheSweep, true, func(context.Context) {
		removed, err := cache.Evict(maxAge, time.Now())
		if err != nil {
			s.log.Warn().Err(err).Str("cache", cache.Dir).Msg("Could not remove unused repositories from the git cache.")
		}
		if len(removed) > 0 {
			s.log.Info().Strs("removed", removed).Stringer("unused_for", maxAge).Msg("Removed repositories no task used from the git cache.")
		}
	})
}

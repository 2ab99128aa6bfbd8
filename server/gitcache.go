package server

import (
	"context"
	"time"

	"github.com/oneshot-dev/oneshot/workspace"
)

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
			s.log.Info().Strs("removed", removed).Dur("unused_for", maxAge).Msg("Removed repositories no task used from the git cache.")
		}
	})
}

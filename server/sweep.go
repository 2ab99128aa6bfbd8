package server

import (
	"context"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/sandbox"
)

// every runs fn every interval, at once first if now, until the returned
// stop, which waits for a run under way to end. Each working process runs
// its own sweeps: what they clear (a git cache, a Docker engine's
// containers) is its host's, not a queue job that any replica might take.
func every(interval time.Duration, now bool, fn func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		if now {
			fn(ctx)
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			fn(ctx)
		}
	}()
	return func() { cancel(); <-done }
}

// reaper removes the sandboxes and the host workspaces (beside work's) an
// earlier process of this bot left, before any task of this one runs; nil
// without an engine. Without Docker the bot still takes
// webhooks, so it warns rather than fails.
func reaper(engine *sandbox.Engine, work *workDir, log zerolog.Logger) func(context.Context) {
	if engine == nil {
		return nil
	}
	return func(ctx context.Context) {
		sweepWorkDirs(filepath.Dir(work.path), work.path, log)
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		n, err := engine.Reap(ctx)
		switch {
		case err != nil:
			log.Warn().Err(err).Msg("Could not reach Docker to remove old sandboxes; tasks need it to run.")
		case n > 0:
			log.Info().Int("containers", n).Msg("Removed sandboxes an earlier process left behind.")
		}
	}
}

// warnOfUnusableImages says at start which of the images tasks may run in
// cannot run a sandbox, and why, rather than leave it to each task to stop
// at setup saying so. A warning, not a refusal: the operator may be
// building the image while the bot starts.
func warnOfUnusableImages(ctx context.Context, engine *sandbox.Engine, images []string, log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, image := range images {
		if err := engine.CheckImage(ctx, image); err != nil {
			log.Warn().Err(err).Str("image", image).Msg("Tasks cannot run in this image until it is fixed.")
		}
	}
}

// sandboxSweep is how often a working bot removes the sandboxes its own
// sessions left: a container whose removal Docker failed, or one Docker
// made for a request the bot stopped waiting for.
const sandboxSweep = 10 * time.Minute

// startSandboxSweep removes, every sandboxSweep until the returned stop,
// the containers of this bot's owner that no session holds and that
// stopped or ran past their deadline.
func startSandboxSweep(engine *sandbox.Engine, log zerolog.Logger) (stop func()) {
	return every(sandboxSweep, false, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		n, err := engine.ReapEnded(ctx)
		if err != nil {
			log.Warn().Err(err).Msg("Could not remove sandboxes that ended; the next sweep tries again.")
		}
		if n > 0 {
			log.Info().Int("containers", n).Msg("Removed sandboxes that ended and were left behind.")
		}
	})
}

package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/oneshot-dev/oneshot/config"
	"github.com/oneshot-dev/oneshot/contextgather"
	"github.com/oneshot-dev/oneshot/tasks"
)

// gather collects the task's context, ranks the repository's files for
// it, and writes the prompt into the sandbox. The files are read on the
// host from the commit the sandbox starts from, the base or the branch a
// follow-up continues: ranking them costs no exec and no API call. The
// guidelines come from the base, like the configuration, so that a
// branch cannot change what its next run is told.
//
// All but the writing is done on the host while setup starts the sandbox
// and runs the setup commands (see startGathering): here it is waited for.
func (r *run) gather(ctx context.Context) error {
	g, err := r.gathering.take(ctx)
	m := g.material
	if errors.Is(err, contextgather.ErrEditedSinceAsked) {
		return &stopError{Outcome{State: tasks.Failed, ByCommentOnly: true, Reason: "the issue was edited after the work was asked for",
			// Not named: the attempt may be a retry someone other than
			// the task's requester asked for, seeing the issue as it was.
			Details: fmt.Sprintf("Its title or body changed after this attempt was asked for, and it was opened by someone who cannot write to "+
				"the repository: oneshot works only from what was approved. To go on with the issue as it is now, comment `%s retry`.",
				cmp.Or(r.p.Defaults.Command, config.DefaultCommand))}}
	}
	if err != nil {
		return err
	}
	r.title = m.Issue.Title
	if r.title == "" {
		// A title of characters that show nothing is cleaned away, and
		// GitHub opens no pull request without one.
		r.title = fmt.Sprintf("The change for issue #%d", r.task.Issue)
	}
	r.promptInput, r.prompt = g.input, g.prompt
	if err := r.session.WriteFile(ctx, promptFile, strings.NewReader(r.prompt), 0o644); err != nil {
		return err
	}
	r.note("%d trusted comments, %d linked, %d tokens", len(m.Comments), len(m.Linked), g.tokens)
	return nil
}

// gathered is the gather step's work on the host, which needs neither the
// sandbox nor what the setup commands do: asking GitHub for the issue and
// what people added, ranking the files, and writing the prompt. Done
// beside setup (see startGathering), its time is hidden behind the
// sandbox's start and the setup commands'.
type gathered struct {
	material contextgather.Material
	input    contextgather.PromptInput
	prompt   string
	tokens   int
}

// startGathering begins the gather step's host work, once setup knows the
// code the agent starts from.
func (r *run) startGathering(ctx context.Context) {
	r.gathering = begin(ctx, "gathering the context", func(ctx context.Context) (gathered, error) {
		m, err := r.p.Forge.Gather(ctx, r.task, r.files)
		if errors.Is(err, contextgather.ErrEditedSinceAsked) {
			return gathered{}, err
		}
		if err != nil {
			return gathered{}, fmt.Errorf("gather the context: %w", err)
		}
		in, err := promptInput(ctx, m, r.code, r.cfg, r.branch, r.p.Defaults.PromptTokens)
		if err != nil {
			return gathered{}, err
		}
		prompt := contextgather.Assemble(in)
		return gathered{m, in, prompt, contextgather.CountTokens(prompt)}, nil
	})
}

// Prompt is what the agent gets: the task's material, with the checkout's
// files ranked against what people said, and the repository's checks and
// rules, within budget tokens (config.DefaultPromptTokens when 0). Ranking
// the files stops when ctx is done.
func Prompt(ctx context.Context, m contextgather.Material, files fs.FS, cfg config.Repo, branch string, budget int) (string, error) {
	in, err := promptInput(ctx, m, files, cfg, branch, budget)
	if err != nil {
		return "", err
	}
	return contextgather.Assemble(in), nil
}

// promptInput is what Prompt assembles, kept by a run for its fix rounds,
// which assemble it again in less room.
func promptInput(ctx context.Context, m contextgather.Material, files fs.FS, cfg config.Repo, branch string, budget int) (contextgather.PromptInput, error) {
	if budget <= 0 {
		budget = config.DefaultPromptTokens
	}
	ranked, err := contextgather.Locate(ctx, files, m.Said())
	if err != nil {
		return contextgather.PromptInput{}, fmt.Errorf("rank the files: %w", err)
	}
	var verify []string
	for _, c := range cfg.Verify {
		verify = append(verify, c.Run)
	}
	return contextgather.PromptInput{
		Material: m, Branch: branch, Ranked: ranked, Files: files,
		Verify: verify, Protected: cfg.ProtectedPaths, Budget: budget,
	}, nil
}

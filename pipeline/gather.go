package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/oneshot-dev/oneshot/contextgather"
)

// gather collects the task's context, ranks the repository's files for
// it, and writes the prompt into the sandbox. The files are read from the
// base commit on the host, the same commit the sandbox holds: ranking them
// costs no exec and no API call.
func (r *run) gather(ctx context.Context) error {
	tree := filepath.Join(r.co.Dir, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		return err
	}
	if err := r.co.Repo.Export(ctx, r.co.Base, tree); err != nil {
		return fmt.Errorf("read the code: %w", err)
	}
	files := os.DirFS(tree)
	m, err := r.p.Forge.Gather(ctx, r.task, files)
	if err != nil {
		return fmt.Errorf("gather the context: %w", err)
	}
	r.title = m.Issue.Title
	ranked, err := contextgather.Locate(files, issueText(m))
	if err != nil {
		return fmt.Errorf("rank the files: %w", err)
	}
	var verify []string
	for _, c := range r.cfg.Verify {
		verify = append(verify, c.Run)
	}
	r.prompt = contextgather.Assemble(contextgather.PromptInput{
		Material: m, Branch: r.branch, Ranked: ranked, Files: files,
		Verify: verify, Protected: r.cfg.ProtectedPaths, Budget: r.p.Defaults.PromptTokens,
	})
	if err := r.session.WriteFile(ctx, stateDir+"/prompt.md", strings.NewReader(r.prompt), 0o644); err != nil {
		return err
	}
	r.note("%d trusted comments, %d linked, about %d tokens", len(m.Comments), len(m.Linked), contextgather.EstimateTokens(r.prompt))
	return nil
}

// issueText is what the files are ranked against: what people said, not
// the prompt's own boilerplate.
func issueText(m contextgather.Material) string {
	parts := []string{m.Issue.Title, m.Issue.Body, m.Instructions}
	for _, c := range m.Comments {
		parts = append(parts, c.Body)
	}
	return strings.Join(parts, "\n")
}

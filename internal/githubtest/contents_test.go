package githubtest_test

import (
	"net/http"
	"testing"

	"github.com/google/go-github/v62/github"
)

func TestContentsAndRefsReadTheBareRepository(t *testing.T) {
	t.Parallel()
	b := setup(t)
	head := b.gh.Head(t, b.repo, "main")

	file, _, _, err := b.client.Repositories.GetContents(b.ctx, "acme", "widgets", "cmd/main.go", &github.RepositoryContentGetOptions{Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	content, err := file.GetContent()
	if err != nil || content != "package main\n" || file.GetType() != "file" || file.GetName() != "main.go" ||
		file.GetPath() != "cmd/main.go" || file.GetSize() != 13 || len(file.GetSHA()) != 40 {
		t.Errorf("file = %+v, content %q (%v)", file, content, err)
	}
	_, dir, _, err := b.client.Repositories.GetContents(b.ctx, "acme", "widgets", "", nil)
	if err != nil || len(dir) != 2 || dir[0].GetName() != "README.md" || dir[1].GetType() != "dir" {
		t.Errorf("root = %+v (%v)", dir, err)
	}
	_, _, resp, err := b.client.Repositories.GetContents(b.ctx, "acme", "widgets", "missing.txt", nil)
	if err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing file: %v, want 404", err)
	}

	ref, _, err := b.client.Git.GetRef(b.ctx, "acme", "widgets", "heads/main")
	if err != nil || ref.GetRef() != "refs/heads/main" || ref.GetObject().GetSHA() != head || ref.GetObject().GetType() != "commit" {
		t.Errorf("ref = %+v (%v)", ref, err)
	}
	if _, _, err := b.client.Git.GetRef(b.ctx, "acme", "widgets", "heads/ma"); statusOf(t, err) != http.StatusNotFound {
		t.Errorf("ref prefix: %v, want 404", err)
	}
	sha, _, err := b.client.Repositories.GetCommitSHA1(b.ctx, "acme", "widgets", "main", "")
	if err != nil || sha != head {
		t.Errorf("commit sha = %q (%v), want %s", sha, err, head)
	}
	if _, resp, err := b.client.Repositories.GetCommitSHA1(b.ctx, "acme", "widgets", "main", head); err == nil || resp.StatusCode != http.StatusNotModified {
		t.Errorf("unchanged sha: %v, want 304", err)
	}
	commit, _, err := b.client.Repositories.GetCommit(b.ctx, "acme", "widgets", head, nil)
	if err != nil || commit.GetSHA() != head || commit.GetCommit().GetMessage() != "Initial commit" || len(commit.Parents) != 0 {
		t.Errorf("commit = %+v (%v)", commit, err)
	}
	if _, _, err := b.client.Repositories.GetBranch(b.ctx, "acme", "widgets", "nope", 0); err == nil {
		t.Error("missing branch was found")
	}
}

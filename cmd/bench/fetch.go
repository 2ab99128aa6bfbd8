package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oneshot-dev/oneshot/workspace"
)

// benchFetch compares what a task's host repository costs to fill: the
// whole history fetched anew, as without a cache, against the git cache
// topped up and linked, once it holds the history (after the first task of
// a repository).
func benchFetch(args []string) error {
	fs := newFlagSet("fetch")
	repo := fs.String("repo", "", "a local repository to fetch from, as a task fetches from GitHub (required)")
	branch := fs.String("branch", "", "the branch to fetch (default: the repository's HEAD)")
	n := fs.Int("n", 5, "runs of each")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *repo == "" {
		return errors.New("fetch needs --repo")
	}
	ctx := context.Background()
	if *branch == "" {
		head, err := os.ReadFile(filepath.Join(*repo, "HEAD"))
		if err != nil {
			head, err = os.ReadFile(filepath.Join(*repo, ".git", "HEAD"))
		}
		if err != nil {
			return fmt.Errorf("read the repository's HEAD: %w", err)
		}
		*branch = strings.TrimPrefix(strings.TrimSpace(string(head)), "ref: refs/heads/")
	}
	tmp, err := os.MkdirTemp("", "oneshot-bench-fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cache := &workspace.Cache{Dir: filepath.Join(tmp, "cache")}
	fresh := func(i int, name string) (*workspace.Repo, error) {
		return workspace.Init(ctx, filepath.Join(tmp, fmt.Sprintf("%s-%d.git", name, i)))
	}
	// The first task of a repository fills the cache.
	first, err := fresh(0, "first")
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := cache.Fetch(ctx, *repo, *repo, workspace.Auth{}, *branch, first, "refs/oneshot/default"); err != nil {
		return err
	}
	filled := time.Since(start)

	var cached, whole samples
	for i := range *n {
		r, err := fresh(i, "cached")
		if err != nil {
			return err
		}
		start := time.Now()
		if _, err := cache.Fetch(ctx, *repo, *repo, workspace.Auth{}, *branch, r, "refs/oneshot/default"); err != nil {
			return err
		}
		cached = append(cached, time.Since(start))

		if r, err = fresh(i, "whole"); err != nil {
			return err
		}
		start = time.Now()
		if err := r.Fetch(ctx, *repo, workspace.Auth{}, "+refs/heads/"+*branch+":refs/oneshot/default"); err != nil {
			return err
		}
		whole = append(whole, time.Since(start))
	}
	fmt.Printf("a task's fetch of %s (%s), interleaved\n", *repo, *branch)
	fmt.Printf("  the first task of the repository, filling the cache: %s\n", ms(filled))
	comparison("the task's history on its host", cached, whole, "from the git cache, topped up and linked", "the whole history fetched anew", 1.0)
	return nil
}

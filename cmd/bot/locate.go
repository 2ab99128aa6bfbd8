package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/oneshot-dev/oneshot/contextgather"
)

// defaultLocateTop is how many files bot locate prints unless told.
const defaultLocateTop = 10

// locate ranks a checkout's files for an issue, as the pipeline does when
// it gathers context, and prints the best, one a line.
func locate(args []string, out io.Writer) error {
	fs := newFlagSet("locate")
	dir := fs.String("dir", ".", "the repository's checkout")
	issueFile := fs.String("issue", "", "a file holding the issue's text, its title on the first line (required; - reads stdin)")
	top := fs.Int("top", defaultLocateTop, "how many files to print")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *issueFile == "" {
		return errors.New("locate needs --issue")
	}
	if *top < 1 {
		return fmt.Errorf("--top is %d; it must be at least 1", *top)
	}
	text, err := readIssue(*issueFile)
	if err != nil {
		return err
	}
	// A root, not os.DirFS: the checkout's links may not lead out of it.
	root, err := os.OpenRoot(*dir)
	if err != nil {
		return err
	}
	defer root.Close()
	ranked, err := contextgather.Locate(context.Background(), root.FS(), contextgather.Sanitize(text))
	if err != nil {
		return err
	}
	for _, r := range ranked[:min(*top, len(ranked))] {
		fmt.Fprintln(out, r.Path)
	}
	return nil
}

// splitTask reads a task's text as an issue: its first line the title, the
// rest the body. A task of one line is its own body, so the prompt's
// description is never empty.
func splitTask(text string) (title, body string) {
	title, body, _ = strings.Cut(strings.TrimSpace(text), "\n")
	return title, cmp.Or(body, title)
}

func readIssue(name string) (string, error) {
	var data []byte
	var err error
	if name == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return "", fmt.Errorf("read the issue: %w", err)
	}
	return string(data), nil
}

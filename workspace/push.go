package workspace

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Push pushes a commit to a branch of a remote. It never pushes over work
// it has not seen: a branch that moved meanwhile fails the push
// (ErrBranchMoved) rather than losing someone's work. With expected set,
// commit goes in place of the branch's head, which it need not descend
// from, as long as that head is still expected; a branch deleted
// meanwhile fails the push too. With expected NoBranch, the push makes
// the branch, and fails if it exists.
func (r *Repo) Push(ctx context.Context, remote string, auth Auth, commit, branch, expected string) error {
	ref := "refs/heads/" + branch
	args := []string{"push", "--quiet"}
	switch expected {
	case "":
	case NoBranch:
		args = append(args, "--force-with-lease="+ref+":") // git's way to say it must not exist
	default:
		args = append(args, "--force-with-lease="+ref+":"+expected)
	}
	_, err := r.git(ctx, auth, append(args, remote, commit+":"+ref)...)
	return pushError(err)
}

// NoBranch is what Push expects of a branch that must not exist.
const NoBranch = "(none)"

// ErrBranchMoved is a push refused because the branch is no longer where
// the push expected it: something else pushed to it meanwhile.
var ErrBranchMoved = errors.New("the branch moved")

// pushError is err, marked ErrBranchMoved when git refused the push for
// that: " ! [rejected] ... (fetch first)", "(non-fast-forward)" or, for a
// lease, "(stale info)"; or when the remote did, the branch having moved
// between its listing of refs and the push ("[remote rejected] ...
// (failed to update ref)", after "cannot lock ref ...: reference already
// exists" or "is at ... but expected ..."). A hook's refusal is
// "[remote rejected]" too, for a reason of its own.
func pushError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	// The ref's update lost a race when git's own reason, in brackets,
	// says its update failed, and the remote's error why: a hook, which
	// may write anything, declines before any update.
	lockLost := strings.Contains(msg, "reference already exists") || strings.Contains(msg, "but expected")
	refusal := ""
	for line := range strings.Lines(msg) {
		_, reason, rejected := strings.Cut(line, "[remote rejected]")
		raced := rejected && lockLost &&
			(strings.Contains(reason, "(failed to update ref)") || strings.Contains(reason, "(cannot lock ref"))
		if strings.Contains(line, "! [rejected]") || raced {
			return fmt.Errorf("%w: %w", ErrBranchMoved, err)
		}
		if _, why, ok := strings.Cut(reason, " ("); rejected && ok && refusal == "" {
			refusal = strings.TrimSuffix(strings.TrimSpace(why), ")")
		}
	}
	if refusal != "" {
		// git's first line names the remote ("To https://..."), which
		// says nothing of why: the remote's reason leads, as in GitHub's
		// "refusing to allow a GitHub App to create or update workflow
		// ... without workflows permission".
		return fmt.Errorf("the remote refused the push: %s\n%w", refusal, err)
	}
	return err
}

// FailedForNow says whether a git command failed to reach a remote in a
// way a later try may not: the remote answered a server error or a rate
// limit, or the connection failed. A refusal (a rejected push, a 403, a
// repository not found) would be the same again.
func FailedForNow(err error) bool {
	if err == nil || errors.Is(err, ErrBranchMoved) {
		return false
	}
	msg := err.Error()
	if strings.Contains(msg, "[remote rejected]") || strings.Contains(msg, "! [rejected]") {
		return false
	}
	// git words an HTTP status as "RPC failed; HTTP 502" or "The
	// requested URL returned error: 502", and says the connection ended
	// unexpectedly after either, so the status is read first.
	for _, prefix := range []string{"HTTP ", "returned error: "} {
		if i := strings.Index(msg, prefix); i >= 0 {
			status := msg[i+len(prefix):]
			return strings.HasPrefix(status, "5") || strings.HasPrefix(status, "429")
		}
	}
	for _, sign := range []string{
		"Could not resolve host", "Failed to connect", "Connection refused", "Connection reset",
		"Connection timed out", "Operation timed out", "remote end hung up unexpectedly", "early EOF",
		"unexpected disconnect",
	} {
		if strings.Contains(msg, sign) {
			return true
		}
	}
	return false
}

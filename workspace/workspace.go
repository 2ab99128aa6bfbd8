// Package workspace runs git on the bot's host, outside any sandbox. It is
// where credentials may be used: it fetches a repository, bundles what a
// sandbox needs, takes back the bundle the sandbox made, shows what changed,
// and pushes. A sandbox therefore never holds a token, not even to read.
package workspace

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Repo is a bare repository in a directory of the bot's, for one task.
type Repo struct {
	dir string
}

// Auth is how git authenticates to a remote: an installation token, or
// nothing for a local path.
type Auth struct {
	Token string
}

// Init creates an empty bare repository in dir.
func Init(ctx context.Context, dir string) (*Repo, error) {
	r := &Repo{dir: dir}
	if _, err := r.git(ctx, Auth{}, "init", "--bare", "--quiet"); err != nil {
		return nil, err
	}
	return r, nil
}

// Fetch fetches refspecs from a remote URL or path.
func (r *Repo) Fetch(ctx context.Context, remote string, auth Auth, refspecs ...string) error {
	args := append([]string{"fetch", "--quiet", "--no-tags", remote}, refspecs...)
	_, err := r.git(ctx, auth, args...)
	return err
}

// RemoteHead returns the commit a remote branch points at, or "" when the
// branch does not exist.
func (r *Repo) RemoteHead(ctx context.Context, remote string, auth Auth, branch string) (string, error) {
	ref := "refs/heads/" + branch
	out, err := r.git(ctx, auth, "ls-remote", "--heads", remote, ref)
	if err != nil {
		return "", err
	}
	// ls-remote lists every ref whose name ends with the pattern, so a
	// branch "a/refs/heads/oneshot/issue-1" comes with "oneshot/issue-1":
	// only the line naming the ref itself is the branch's.
	for line := range strings.Lines(string(out)) {
		if sha, name, ok := strings.Cut(strings.TrimSpace(line), "\t"); ok && name == ref {
			return sha, nil
		}
	}
	return "", nil
}

// Resolve returns the commit a revision names.
func (r *Repo) Resolve(ctx context.Context, rev string) (string, error) {
	out, err := r.git(ctx, Auth{}, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", rev, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// TreeOf returns the ID of a commit's tree.
func (r *Repo) TreeOf(ctx context.Context, rev string) (string, error) {
	out, err := r.git(ctx, Auth{}, "rev-parse", "--verify", "--quiet", rev+"^{tree}")
	if err != nil {
		return "", fmt.Errorf("read the tree of %s: %w", rev, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// IsAncestor says whether commit a is an ancestor of (or is) commit b.
func (r *Repo) IsAncestor(ctx context.Context, a, b string) bool {
	_, err := r.git(ctx, Auth{}, "merge-base", "--is-ancestor", a, b)
	return err == nil
}

// MergeBase returns the best common ancestor of commits a and b.
func (r *Repo) MergeBase(ctx context.Context, a, b string) (string, error) {
	out, err := r.git(ctx, Auth{}, "merge-base", a, b)
	if err != nil {
		return "", fmt.Errorf("merge base of %s and %s: %w", a, b, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Entry describes path in a commit's tree: its mode, as git writes it
// ("100644" for a file, "120000" for a link), and its size. found is false
// when the tree has no such path.
func (r *Repo) Entry(ctx context.Context, rev, path string) (mode string, size int64, found bool, err error) {
	out, err := r.git(ctx, Auth{}, "ls-tree", "-l", "-z", "--full-tree", rev, "--", path)
	if err != nil {
		return "", 0, false, fmt.Errorf("look for %s at %s: %w", path, rev, err)
	}
	mode, size, _, found = treeEntry(strings.TrimSuffix(string(out), "\x00"))
	return mode, size, found, nil
}

// treeEntry reads one record of git ls-tree -l: "<mode> SP <type> SP
// <object> SP+ <size> TAB <path>". The size is 0 for a directory or a
// submodule, which git writes as "-".
func treeEntry(record string) (mode string, size int64, path string, ok bool) {
	info, path, ok := strings.Cut(record, "\t")
	fields := strings.Fields(info)
	if !ok || len(fields) != 4 {
		return "", 0, "", false
	}
	size, _ = strconv.ParseInt(fields[3], 10, 64)
	return fields[0], size, path, true
}

// SetRef points a ref at a commit.
func (r *Repo) SetRef(ctx context.Context, ref, commit string) error {
	_, err := r.git(ctx, Auth{}, "update-ref", ref, commit)
	return err
}

// NewCommit is a commit to write on the bot's host.
type NewCommit struct {
	// Tree is the tree to commit, or a revision naming one ("abc123^{tree}").
	Tree   string
	Parent string
	// Name and Email are the author's and the committer's.
	Name, Email string
	Message     string
}

// Commit writes a commit of c.Tree on c.Parent, by c.Name and c.Email,
// and returns its ID. The message goes through standard input, never a
// command line.
func (r *Repo) Commit(ctx context.Context, c NewCommit) (string, error) {
	cmd := r.command(ctx, Auth{}, "commit-tree", "--no-gpg-sign", "-p", c.Parent, "-F", "-", c.Tree)
	cmd.Env = append(cmd.Env, "GIT_AUTHOR_NAME="+c.Name, "GIT_AUTHOR_EMAIL="+c.Email,
		"GIT_COMMITTER_NAME="+c.Name, "GIT_COMMITTER_EMAIL="+c.Email)
	cmd.Stdin = strings.NewReader(c.Message)
	out, err := run(ctx, cmd, Auth{})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// Changes lists the paths of the files that differ between two commits;
// a rename is its two paths. A list over MaxDiff is ErrTooLarge.
func (r *Repo) Changes(ctx context.Context, from, to string) ([]string, error) {
	out, err := r.gitUpTo(ctx, MaxDiff, "diff", "--name-only", "-z", "--no-renames", from, to)
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"), nil
}

// Written lists the paths of the files that to holds and that differ
// from from's: Changes less the files deleted.
func (r *Repo) Written(ctx context.Context, from, to string) ([]string, error) {
	out, err := r.gitUpTo(ctx, MaxDiff, "diff", "--name-only", "-z", "--no-renames", "--diff-filter=d", from, to)
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"), nil
}

// MaxDiff is the largest diff read, in bytes. A diff is one change for
// people to review; a larger one is refused rather than held in memory, as
// a few kilobytes of objects can expand to gigabytes.
const MaxDiff = 64 << 20

// ErrTooLarge says that what git would write outgrows its bound.
var ErrTooLarge = errors.New("larger than the bot reads")

// Bounds of a commit that may be diffed and pushed: GitHub refuses a file
// over 100 MB, and a tree is made of a few objects whatever it lists (a
// tree of a hundred entries that each name it again lists millions of
// paths), while git holds every path it diffs in memory.
//
// Paths are bounded too, one by the longest a Linux checkout takes, and
// all together: a tree names its entries once, however many paths reach
// them, so a few kilobytes of trees can list gigabytes of long names.
const (
	MaxTreeEntries = 1_000_000
	MaxFileSize    = 100 << 20
	MaxPathLength  = 4096
	MaxPathBytes   = 128 << 20
)

// CheckSize refuses, with ErrTooLarge, a commit whose tree lists more than
// MaxTreeEntries paths or MaxPathBytes of them, a path longer than
// MaxPathLength, or a file over MaxFileSize. The listing is read as git
// writes it, and git is stopped at the first path past a bound.
//
// Directories count as paths: a tree of trees that end in the empty one
// lists no file, yet git walks each of its billions of paths to find so.
func (r *Repo) CheckSize(ctx context.Context, rev string) error {
	return r.gitStream(ctx, func(out io.Reader) error {
		entries, pathBytes := 0, 0
		sc := bufio.NewScanner(out)
		// A line is an entry: its mode, type, object, size and path.
		sc.Buffer(make([]byte, 0, 4<<10), 2*MaxPathLength)
		sc.Split(splitNUL)
		for sc.Scan() {
			if entries++; entries > MaxTreeEntries {
				return fmt.Errorf("its tree lists more than %d paths: %w", MaxTreeEntries, ErrTooLarge)
			}
			_, size, path, _ := treeEntry(sc.Text())
			switch pathBytes += len(path); {
			case len(path) > MaxPathLength:
				return fmt.Errorf("it has a path of over %d bytes: %w", MaxPathLength, ErrTooLarge)
			case pathBytes > MaxPathBytes:
				return fmt.Errorf("its tree lists over %d MB of paths: %w", MaxPathBytes>>20, ErrTooLarge)
			case size > MaxFileSize:
				return fmt.Errorf("%s is over %d MB: %w", path, MaxFileSize>>20, ErrTooLarge)
			}
		}
		if errors.Is(sc.Err(), bufio.ErrTooLong) {
			return fmt.Errorf("it has a path of over %d bytes: %w", MaxPathLength, ErrTooLarge)
		}
		return sc.Err()
	}, "ls-tree", "-r", "-t", "-l", "-z", "--full-tree", rev)
}

// splitNUL splits NUL-terminated records.
func splitNUL(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// Diff returns the diff between two commits as a patch git apply takes
// whole, binary files included, or ErrTooLarge.
func (r *Repo) Diff(ctx context.Context, from, to string) ([]byte, error) {
	return r.gitUpTo(ctx, MaxDiff, "diff", "--binary", "--no-color", "--no-ext-diff", "--no-renames", from, to)
}

// TextDiff is Diff for a secret scan: every file is taken as text, binary
// or not, and shown as stored, whatever conversion an attribute asks for.
// Otherwise a NUL byte early in a file makes git print "Binary files
// differ" in place of its lines, and a key after it goes unread.
func (r *Repo) TextDiff(ctx context.Context, from, to string) ([]byte, error) {
	return r.gitUpTo(ctx, MaxDiff, "diff", "--text", "--no-textconv", "--no-color", "--no-ext-diff", "--no-renames", from, to)
}

// DiffStat returns git's summary of a diff, as in "2 files changed, ...".
func (r *Repo) DiffStat(ctx context.Context, from, to string) (string, error) {
	out, err := r.git(ctx, Auth{}, "diff", "--shortstat", "--no-renames", from, to)
	return strings.TrimSpace(string(out)), err
}

// git runs git in the repository. A token travels in the environment as an
// extra header, never on the command line where a process list shows it,
// and never in an error message.
func (r *Repo) git(ctx context.Context, auth Auth, args ...string) ([]byte, error) {
	return run(ctx, r.command(ctx, auth, args...), auth)
}

// HostEnv is the bot's environment without git's own variables, which
// could carry configuration (GIT_CONFIG_COUNT), point git at another
// repository or index, or run a program of their own (GIT_SSH_COMMAND,
// GIT_EXTERNAL_DIFF); but for where the operator keeps the certificates of
// a GitHub Enterprise Server.
func HostEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "GIT_") && name != "GIT_SSL_CAINFO" && name != "GIT_SSL_CAPATH" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// command is git with args in the repository, authenticated with auth.
func (r *Repo) command(ctx context.Context, auth Auth, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", args...)
	// Neither the host's nor the operator's git configuration applies: a
	// hook path, a credential helper or a rewrite of URLs there would
	// change what the bot fetches and pushes. Nor do their attributes,
	// which git reads apart from the configuration (the operator's from
	// core.attributesFile's default, set below): an export-ignore there
	// would leave files out of what Export writes.
	cmd.Env = append(HostEnv(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_ATTR_NOSYSTEM=1", "GIT_DIR="+r.dir)
	// A server that takes the connection and then sends nothing would
	// hold a fetch or a push for ever: under 1 KB/s for a minute, git
	// gives up. No hook runs, whoever wrote one into the repository: it
	// would run with the token in its environment.
	config := [][2]string{
		{"http.lowSpeedLimit", "1000"}, {"http.lowSpeedTime", "60"},
		{"core.attributesFile", "/dev/null"}, {"core.hooksPath", "/dev/null"},
	}
	if auth.Token != "" {
		basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + auth.Token))
		config = append(config, [2]string{"http.extraHeader", "Authorization: Basic " + basic})
	}
	cmd.Env = append(cmd.Env, "GIT_CONFIG_COUNT="+strconv.Itoa(len(config)))
	for i, kv := range config {
		cmd.Env = append(cmd.Env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	// When ctx ends, git goes with the helpers it started (git
	// remote-https holds the connection, and git's output pipes): killed
	// alone, git would leave its helper running, and Wait waiting on it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = gitWaitDelay
	return cmd
}

// gitWaitDelay is how long a git command stopped by its context has to
// close its output before Wait gives up on it.
const gitWaitDelay = 5 * time.Second

// run runs a git command and returns its standard output, or an error
// with its standard error, auth's token masked.
func run(ctx context.Context, cmd *exec.Cmd, auth Auth) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, gitError(ctx, subcommand(cmd.Args[1:]), err, stderr.String(), auth)
	}
	return stdout.Bytes(), nil
}

// gitUpTo runs git without credentials and returns its standard output,
// or ErrTooLarge, having stopped git, when that outgrows limit bytes.
func (r *Repo) gitUpTo(ctx context.Context, limit int64, args ...string) ([]byte, error) {
	var out []byte
	err := r.gitStream(ctx, func(stdout io.Reader) error {
		var err error
		if out, err = io.ReadAll(io.LimitReader(stdout, limit+1)); err == nil && int64(len(out)) > limit {
			return fmt.Errorf("over %d MB: %w", limit>>20, ErrTooLarge)
		}
		return err
	}, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// gitStream runs git without credentials, handing its standard output to
// read as it comes. When read fails, git is stopped and read's error
// returned.
func (r *Repo) gitStream(ctx context.Context, read func(io.Reader) error, args ...string) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	cmd := r.command(ctx, Auth{}, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git %s: %w", subcommand(args), err)
	}
	readErr := read(stdout)
	if readErr != nil {
		stop()
	}
	waitErr := cmd.Wait()
	switch {
	case readErr != nil:
		return fmt.Errorf("git %s: %w", subcommand(args), readErr)
	case waitErr != nil:
		return gitError(ctx, subcommand(args), waitErr, stderr.String(), Auth{})
	}
	return nil
}

// subcommand is the git command args run, as "fetch" in "-c gc.auto=0
// fetch ...": the first that is neither an option nor the value of one,
// which -c and -C take.
func subcommand(args []string) string {
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-c" || args[i] == "-C":
			i++
		case !strings.HasPrefix(args[i], "-"):
			return args[i]
		}
	}
	return strings.Join(args, " ")
}

// gitError explains a failed git command by what it said, auth's token
// masked, or by what ended ctx.
func gitError(ctx context.Context, sub string, err error, stderr string, auth Auth) error {
	if ctx.Err() != nil {
		return fmt.Errorf("git %s: %w", sub, context.Cause(ctx))
	}
	msg := strings.TrimSpace(stderr)
	if auth.Token != "" {
		msg = strings.ReplaceAll(msg, auth.Token, "***")
	}
	if msg == "" {
		return fmt.Errorf("git %s: %w", sub, err)
	}
	return fmt.Errorf("git %s: %s", sub, msg)
}

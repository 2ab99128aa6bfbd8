package workspace

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A bundle as the sandbox makes one, of a change whose objects are
// deltas against what the repository has, is taken in whole.
func TestABundleOfDeltasIsTakenIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := workTree(t)
	text := strings.Repeat("a line of the file that changes a little\n", 2000)
	base := commitFiles(t, src, map[string]string{"big.txt": text})
	change := commitFiles(t, src, map[string]string{"big.txt": text + "one more line\n"})
	bundle := bundleOfChange(t, src, base, change)
	if !strings.Contains(sh(t, src, "git", "bundle", "list-heads", bundle), change) {
		t.Fatal("the bundle lacks the change")
	}
	r := takeIn(t, src, bundle)
	if got, err := r.Resolve(ctx, "refs/oneshot/new"); err != nil || got != change {
		t.Fatalf("took in %s, %v; want %s", got, err, change)
	}
}

// A delta of a few bytes that declares gigabytes is refused before git
// reads it, which would make them all; so are many that declare less each.
func TestABundleWhoseDeltasDeclareGigabytesIsRefused(t *testing.T) {
	t.Parallel()
	for name, bundle := range map[string][]byte{
		"one of 4 GB":     bundleOfDeltas(t, []uint64{4 << 30}),
		"thirty of 90 MB": bundleOfDeltas(t, slices.Repeat([]uint64{90 << 20}, 30)),
		"one whose body is 200 MB, making 10 bytes": bundleOfHugeDelta(t, 200<<20),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.bundle")
			if err := os.WriteFile(path, bundle, 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := Init(context.Background(), filepath.Join(t.TempDir(), "repo.git"))
			if err != nil {
				t.Fatal(err)
			}
			if err := r.FetchBundle(context.Background(), path, nil, "refs/oneshot/out:refs/oneshot/new"); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("FetchBundle: %v, want it refused as too large", err)
			}
		})
	}
}

// bundleOfDeltas is a bundle whose pack holds a delta for each size, each
// of a few bytes declaring it makes that many.
func bundleOfDeltas(t *testing.T, sizes []uint64) []byte {
	var b bytes.Buffer
	b.WriteString("# v2 git bundle\n" + strings.Repeat("1", 40) + " refs/oneshot/out\n\n")
	b.WriteString("PACK")
	binary.Write(&b, binary.BigEndian, [2]uint32{2, uint32(len(sizes))})
	for _, size := range sizes {
		var delta bytes.Buffer
		delta.Write(binary.AppendUvarint(nil, 10))   // the base's size
		delta.Write(binary.AppendUvarint(nil, size)) // what it makes
		delta.Write([]byte{0x90, 0x10})              // copy 16 bytes, over and over
		if delta.Len() >= 16 {
			t.Fatalf("the delta is %d bytes; the header below holds 15 at most", delta.Len())
		}
		var packed bytes.Buffer
		zw := zlib.NewWriter(&packed)
		zw.Write(delta.Bytes())
		zw.Close()
		b.WriteByte(refDelta<<4 | byte(delta.Len()))
		b.Write(bytes.Repeat([]byte{0xab}, 20)) // the base's ID
		b.Write(packed.Bytes())
	}
	b.Write(make([]byte, 20)) // the pack's checksum
	return b.Bytes()
}

// bundleOfHugeDelta is a bundle whose pack holds one delta of size bytes,
// zeros but for a header declaring it makes 10: git would hold its body
// whole as it reads it.
func bundleOfHugeDelta(t *testing.T, size int) []byte {
	var b bytes.Buffer
	b.WriteString("# v2 git bundle\n" + strings.Repeat("1", 40) + " refs/oneshot/out\n\n")
	b.WriteString("PACK")
	binary.Write(&b, binary.BigEndian, [2]uint32{2, 1})
	// The object's header: its type and size, four bits in the first
	// byte, seven in each after.
	b.WriteByte(0x80 | refDelta<<4 | byte(size&15))
	for rest := size >> 4; rest > 0; rest >>= 7 {
		c := byte(rest & 0x7f)
		if rest>>7 > 0 {
			c |= 0x80
		}
		b.WriteByte(c)
	}
	b.Write(bytes.Repeat([]byte{0xab}, 20)) // the base's ID
	zw := zlib.NewWriter(&b)
	zw.Write(binary.AppendUvarint(binary.AppendUvarint(nil, 10), 10))
	zw.Write(make([]byte, size-2))
	zw.Close()
	b.Write(make([]byte, 20)) // the pack's checksum
	return b.Bytes()
}

// A prerequisite's line holds its commit's subject, which may be long.
func TestABundleWithALongHeaderIsTakenIn(t *testing.T) {
	t.Parallel()
	src := workTree(t)
	writeFiles(t, src, map[string]string{"a.txt": "a\n"})
	sh(t, src, "git", "add", "--all")
	sh(t, src, "git", "commit", "--quiet", "-m", strings.Repeat("a very long subject ", 400))
	base := sh(t, src, "git", "rev-parse", "HEAD")
	change := commitFiles(t, src, map[string]string{"b.txt": "b\n"})
	r := takeIn(t, src, bundleOfChange(t, src, base, change))
	if got, err := r.Resolve(context.Background(), "refs/oneshot/new"); err != nil || got != change {
		t.Fatalf("the bundle's change came in as %q (%v), want %s", got, err, change)
	}
}

// A tree no git should check out, as one with a .GIT/config that git on a
// case-insensitive disk would take for its own configuration, is refused
// as it comes in: pushed, it would reach whoever fetches the branch.
func TestABundleHoldingATreeGitRefusesIsRefused(t *testing.T) {
	t.Parallel()
	src := workTree(t)
	base := commitFiles(t, src, map[string]string{"a.txt": "a\n"})
	blob := sh(t, src, "sh", "-c", "printf '[core]\\n\\tfsmonitor = touch /tmp/owned\\n' | git hash-object -w --stdin")
	mk := func(entry string) string {
		cmd := exec.Command("git", "mktree")
		cmd.Dir, cmd.Stdin = src, strings.NewReader(entry+"\n")
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	tree := mk("040000 tree " + mk("100644 blob "+blob+"\tconfig") + "\t.GIT")
	change := sh(t, src, "git", "commit-tree", tree, "-p", base, "-m", "change")
	bundle := bundleOfChange(t, src, base, change)

	ctx := context.Background()
	r, sent := hostOf(t, src)
	err := r.FetchBundle(ctx, bundle, sent, "refs/oneshot/out:refs/oneshot/new")
	if err == nil || !strings.Contains(err.Error(), "hasDotgit") {
		t.Fatalf("a tree holding .GIT/config: %v, want it refused by fsck", err)
	}
	if _, err := r.Resolve(ctx, "refs/oneshot/new"); err == nil {
		t.Error("the refused change's ref was made")
	}
}

// The host holds history the sandbox never had (what a force push left in
// the git cache, say): a bundle that names it, or builds on it, is refused,
// though every object it needs is on the host.
func TestABundleOfHistoryTheSandboxNeverHadIsRefused(t *testing.T) {
	t.Parallel()
	src := workTree(t)
	base := commitFiles(t, src, map[string]string{"a.txt": "a\n"})
	sh(t, src, "git", "branch", "base", base)
	hidden := commitFiles(t, src, map[string]string{"secret.txt": "kept from the sandbox\n"})
	sh(t, src, "git", "branch", "hidden", hidden)
	sh(t, src, "git", "checkout", "--quiet", "-B", "main", base)
	change := commitFiles(t, src, map[string]string{"b.txt": "b\n"})

	// A header naming the hidden commit, and a pack of nothing.
	empty := []byte("PACK\x00\x00\x00\x02\x00\x00\x00\x00")
	sum := sha1.Sum(empty)
	named := filepath.Join(t.TempDir(), "out.bundle")
	if err := os.WriteFile(named, append([]byte("# v2 git bundle\n"+hidden+" refs/oneshot/out\n\n"), append(empty, sum[:]...)...), 0o600); err != nil {
		t.Fatal(err)
	}
	// A change made on top of the hidden commit, which it takes for had.
	sh(t, src, "git", "update-ref", "refs/oneshot/out", sh(t, src, "git", "commit-tree", change+"^{tree}", "-p", hidden, "-m", "on the hidden"))
	builtOn := filepath.Join(t.TempDir(), "out.bundle")
	sh(t, src, "git", "bundle", "create", "-q", builtOn, "refs/oneshot/out", "^hidden")

	for name, bundle := range map[string]string{"naming it": named, "building on it": builtOn} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			r, sent := hostOf(t, src)
			if err := r.Fetch(ctx, src, Auth{}, "+refs/heads/hidden:refs/cache/hidden"); err != nil {
				t.Fatal(err)
			}
			if err := r.FetchBundle(ctx, bundle, sent, "refs/oneshot/out:refs/oneshot/new"); err == nil {
				t.Fatal("the bundle was taken in")
			}
			if _, err := r.Resolve(ctx, "refs/oneshot/new"); err == nil {
				t.Error("the refused change's ref was made")
			}
		})
	}
}

// bundleOfChange is a bundle of the commit change, made in the repository
// at src as the sandbox makes one: refs/oneshot/out, without base, which
// src's branch base names.
func bundleOfChange(t *testing.T, src, base, change string) string {
	t.Helper()
	sh(t, src, "git", "update-ref", "refs/oneshot/out", change)
	sh(t, src, "git", "branch", "base", base)
	bundle := filepath.Join(t.TempDir(), "out.bundle")
	sh(t, src, "git", "bundle", "create", "-q", bundle, "refs/oneshot/out", "^"+base)
	return bundle
}

// takeIn takes bundle into a new repository holding src's branch base, as
// the bot's host holds what it handed the sandbox, and fails the test if
// the bundle is refused.
func takeIn(t *testing.T, src, bundle string) *Repo {
	t.Helper()
	r, sent := hostOf(t, src)
	if err := r.FetchBundle(context.Background(), bundle, sent, "refs/oneshot/out:refs/oneshot/new"); err != nil {
		t.Fatalf("the bundle was refused: %v", err)
	}
	return r
}

// hostOf is a new repository holding src's branch base, and the packs it
// hands the sandbox, of that base, as the bot's host holds them.
func hostOf(t *testing.T, src string) (*Repo, []string) {
	t.Helper()
	ctx := context.Background()
	r, err := Init(ctx, filepath.Join(t.TempDir(), "repo.git"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Fetch(ctx, src, Auth{}, "+refs/heads/base:refs/oneshot/base"); err != nil {
		t.Fatal(err)
	}
	sent, err := r.PackFor(ctx, filepath.Dir(r.dir), "refs/oneshot/base")
	if err != nil {
		t.Fatal(err)
	}
	return r, sent
}

package sandbox_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oneshot-dev/oneshot/sandbox"
)

func TestSandboxIsLockedDown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec())

	t.Run("sandboxd's environment, memory and streams are out of reach", func(t *testing.T) {
		// sandboxd runs as the same user as everything else; only its
		// being undumpable keeps its protocol streams, which carry the
		// secrets of execs, from the processes it runs. PID 1 held them
		// once too, and is checked whatever it is.
		// The one serving this exec is its shell's parent, started from
		// /proc/self/exe, whose name is not sandboxd's.
		script := `pids="1 $PPID"
for p in /proc/[0-9]*; do if [ "$(cat $p/comm 2>/dev/null)" = sandboxd ]; then pids="$pids ${p#/proc/}"; fi; done
test "$PPID" != 1 || { echo "no serving sandboxd"; exit 2; }
for pid in $pids; do
  for f in environ mem; do if cat /proc/$pid/$f >/dev/null 2>&1 </dev/null; then echo "read /proc/$pid/$f"; fi; done
  # Opened only: reading a stream would take the bot's frames.
  for f in fd/0 fd/1 fd/2; do if (exec 3</proc/$pid/$f) 2>/dev/null; then echo "opened /proc/$pid/$f"; fi; done
  ls /proc/$pid/fd >/dev/null 2>&1 && echo "listed /proc/$pid/fd"
done; true`
		if out := mustSucceed(t, s, script); out != "" {
			t.Fatal(out)
		}
	})
	t.Run("runs as a user that is not root", func(t *testing.T) {
		if uid := strings.TrimSpace(mustSucceed(t, s, "id -u")); uid == "0" || uid == "" {
			t.Fatalf("uid = %q", uid)
		}
	})
	t.Run("root filesystem is read-only", func(t *testing.T) {
		for _, path := range []string{"/oneshot-probe", "/usr/oneshot-probe", "/etc/oneshot-probe"} {
			res := run(t, s, "touch "+path)
			if res.ExitCode == 0 || !strings.Contains(string(res.Stderr), "Read-only file system") {
				t.Errorf("touch %s: exit %d, stderr %q", path, res.ExitCode, res.Stderr)
			}
		}
	})
	t.Run("work area and tmp are writable", func(t *testing.T) {
		out := mustSucceed(t, s, "echo a > /sandbox/probe && echo b > /tmp/probe && cat /sandbox/probe /tmp/probe")
		if out != "a\nb\n" {
			t.Fatalf("got %q", out)
		}
	})
	t.Run("has no capabilities", func(t *testing.T) {
		status := mustSucceed(t, s, "cat /proc/self/status")
		for _, field := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
			if !strings.Contains(status, field+":\t0000000000000000") {
				t.Errorf("%s is not empty in:\n%s", field, status)
			}
		}
	})
	t.Run("cannot gain privileges and runs under seccomp", func(t *testing.T) {
		status := mustSucceed(t, s, "cat /proc/self/status")
		if !strings.Contains(status, "NoNewPrivs:\t1") {
			t.Error("no_new_privs is not set")
		}
		if !strings.Contains(status, "Seccomp:\t2") {
			t.Error("no seccomp filter is applied")
		}
	})
	t.Run("cannot mount", func(t *testing.T) {
		res := run(t, s, "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m")
		if res.ExitCode == 0 {
			t.Fatal("mount succeeded")
		}
		// Any user may mount in a user namespace of its own, capabilities
		// or not; Docker's seccomp profile is what refuses to create one.
		res = run(t, s, "unshare --user --map-root-user --mount mount -t tmpfs none /tmp/m")
		if res.ExitCode == 0 || !strings.Contains(string(res.Stderr), "unshare failed") {
			t.Fatalf("mount in a new user namespace: exit %d, stderr %q", res.ExitCode, res.Stderr)
		}
	})
	t.Run("dumps no core", func(t *testing.T) {
		if limit := strings.TrimSpace(mustSucceed(t, s, "ulimit -c; ulimit -H -c")); limit != "0\n0" {
			t.Fatalf("core size limits (soft, hard): %q", limit)
		}
	})
	t.Run("has no Docker socket", func(t *testing.T) {
		out := mustSucceed(t, s, "for p in /var/run/docker.sock /run/docker.sock; do if test -e $p; then echo $p; fi; done")
		if out != "" {
			t.Fatalf("a Docker socket is visible: %s", out)
		}
	})
	t.Run("an init reaps orphaned zombies", func(t *testing.T) {
		// The subshell's child outlives it, is re-parented to PID 1, and
		// exits at once; without a reaping init it stays a zombie, whose
		// /proc entry remains.
		pid := strings.TrimSpace(mustSucceed(t, s, "(true & echo $!); true"))
		waitFor(t, 10*time.Second, "the orphan to be reaped", func() error {
			if out := mustSucceed(t, s, "cat /proc/"+pid+"/stat 2>/dev/null || true"); out != "" {
				return fmt.Errorf("the orphan is still there: %s", out)
			}
			return nil
		})
		if comm := strings.TrimSpace(mustSucceed(t, s, "cat /proc/1/comm")); comm != "sandboxd" {
			t.Errorf("PID 1 is %q, want sandboxd", comm)
		}
	})
}

func TestForkBombIsContainedAndSessionAnswersAfterwards(t *testing.T) {
	t.Parallel()
	b := setup(t)
	spec := b.spec()
	spec.Pids = 128
	s := b.start(t, spec)

	res, err := s.Exec(context.Background(), sandbox.Command{
		Script:  "bomb() { bomb | bomb & }; bomb; sleep 600",
		Timeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut {
		t.Fatalf("the bomb was not stopped by its timeout: %+v", res)
	}
	if !strings.Contains(string(res.Stderr), "Resource temporarily unavailable") {
		t.Errorf("the pids limit never refused a fork; stderr: %.500s", res.Stderr)
	}
	if out := mustSucceed(t, s, "echo alive"); out != "alive\n" {
		t.Fatalf("session answered %q", out)
	}
	// Only sandboxd, its init and the ps pipeline itself are left.
	if n := len(lines(mustSucceed(t, s, "ps -e --no-headers"))); n > 6 {
		t.Fatalf("%d processes remain after the bomb:\n%s", n, mustSucceed(t, s, "ps -ef"))
	}
}

func TestMemoryHogIsOOMKilledAndReported(t *testing.T) {
	t.Parallel()
	b := setup(t)
	spec := b.spec()
	spec.Memory, spec.Disk, spec.Tmp = "128m", "16m", "16m"
	s := b.start(t, spec)

	// tail keeps the whole of an endless line in memory: twice the limit.
	res := run(t, s, "head -c 320m /dev/zero | tail > /dev/null")
	if !res.OOMKilled || res.ExitCode != 137 {
		t.Fatalf("want an OOM kill with exit 137, got %+v (stderr %q)", res, res.Stderr)
	}
	if out := mustSucceed(t, s, "echo alive"); out != "alive\n" {
		t.Fatalf("session answered %q", out)
	}
	// A process it ran killed for memory, which its parent answers with
	// an exit of its own, as "go test" does for a test binary. The hog
	// offers itself first, as the kernel may kill a second process when
	// the first is slow to free its memory, and the parent must live.
	if res := run(t, s, "sh -c 'echo 1000 > /proc/self/oom_score_adj && head -c 320m /dev/zero | tail > /dev/null' || exit 1"); !res.OOMKilled || res.ExitCode != 1 {
		t.Fatalf("want an OOM kill with exit 1, got %+v (stderr %q)", res, res.Stderr)
	}
	// An ordinary kill is not reported as an OOM kill.
	if res := run(t, s, "kill -9 $$"); res.OOMKilled || res.ExitCode != 137 {
		t.Fatalf("a plain SIGKILL was reported as %+v", res)
	}
}

func TestFillingTheWorkAreaFailsWithENOSPCAndSessionAnswers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, b.spec()) // a 64m work area

	res := run(t, s, "head -c 100m /dev/zero > /sandbox/fill")
	if res.ExitCode == 0 || !strings.Contains(string(res.Stderr), "No space left on device") {
		t.Fatalf("filling /sandbox: exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
	if out := mustSucceed(t, s, "rm /sandbox/fill && echo alive"); out != "alive\n" {
		t.Fatalf("session answered %q", out)
	}
}

func TestImageVolumesAreSmallTmpfsNotHostDisk(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// An image that declares a VOLUME, as database images do. Docker would
	// back it with writable host disk outside every limit.
	image := "oneshot/test-volume:" + b.owner
	buildImage(t, image, "FROM "+testImage()+"\nVOLUME /var/lib/data\n")
	spec := b.spec()
	spec.Image, spec.Tmp = image, "16m"
	s := b.start(t, spec)

	res := run(t, s, "head -c 32m /dev/zero > /var/lib/data/fill")
	if res.ExitCode == 0 || !strings.Contains(string(res.Stderr), "No space left on device") {
		t.Fatalf("filling the volume: exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
	info, err := b.docker.ContainerInspect(context.Background(), s.ID())
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Mounts) > 0 {
		t.Fatalf("the container has host-backed mounts: %+v", info.Mounts)
	}
}

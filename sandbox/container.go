package sandbox

import (
	"fmt"
	"sort"

	"github.com/docker/docker/api/types/container"

	"github.com/oneshot-dev/oneshot/sandbox/protocol"
)

// The sandbox's fixed layout.
const (
	// WorkDir is the writable, persistent work area, and the default
	// directory of every exec.
	WorkDir = "/sandbox"
	// HomeDir is $HOME; it lives in the work area so that tool caches
	// persist from step to step.
	HomeDir = "/sandbox/.home"
	// ProxyAddr is where the filtered network's proxy listens inside.
	ProxyAddr = "127.0.0.1:3128"

	// sandboxUID is the unprivileged user everything runs as, whatever
	// user the image declares.
	sandboxUID = 1000
)

// shmSize is the size of /dev/shm, a tmpfs like /tmp: POSIX shared memory
// and semaphores (Python's multiprocessing among their users) need it.
const shmSize = 64 << 20

// containerConfig turns a validated spec into Docker's configuration. This
// is where the hardening lives; the tests check each item from inside.
// imageVolumes are the image's VOLUME paths, which Docker would otherwise
// back with writable host disk that no limit covers.
func containerConfig(spec Spec, lim limits, labels map[string]string, imageVolumes []string) (*container.Config, *container.HostConfig) {
	env := []string{"HOME=" + HomeDir}
	if lim.network == NetworkFiltered {
		proxy := "http://" + ProxyAddr
		env = append(env,
			"HTTP_PROXY="+proxy, "HTTPS_PROXY="+proxy, "http_proxy="+proxy, "https_proxy="+proxy,
			"NO_PROXY=localhost,127.0.0.1", "no_proxy=localhost,127.0.0.1")
	}
	env = append(env, sortedEnv(spec.Env)...)

	cfg := &container.Config{
		Image:      spec.Image,
		User:       fmt.Sprintf("%d:%d", sandboxUID, sandboxUID),
		Env:        env,
		WorkingDir: WorkDir,
		Entrypoint: []string{protocol.BinaryPath},
		Cmd:        []string{},
		Labels:     labels,
		Hostname:   "sandbox",
		// sandboxd serves the bot over stdin and stdout. Stdin closes when
		// the bot's attachment does, so a container whose bot died ends by
		// itself instead of running on until the next start reaps it.
		OpenStdin:    true,
		StdinOnce:    true,
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
	}

	// sandboxd is PID 1 and reaps orphans itself; docker-init there would
	// hold the protocol's streams where the sandbox could open them (see
	// cmd/sandboxd). Said outright, for an engine whose default is an init.
	init := false
	pids := lim.pids
	tmpfs := map[string]string{
		WorkDir: fmt.Sprintf("rw,exec,nosuid,nodev,size=%d,uid=%d,gid=%d,mode=0755", lim.disk, sandboxUID, sandboxUID),
		"/tmp":  fmt.Sprintf("rw,exec,nosuid,nodev,size=%d,mode=1777", lim.tmp),
	}
	// Files in /sandbox and /tmp live in memory (tmpfs), and the kernel
	// charges them to the container's memory cgroup. Adding their sizes keeps
	// Memory available to processes however full the disks are.
	memory := lim.memory + lim.disk + lim.tmp + shmSize
	for _, v := range imageVolumes {
		if _, taken := tmpfs[v]; !taken {
			tmpfs[v] = fmt.Sprintf("rw,nosuid,nodev,size=%d,uid=%d,gid=%d,mode=0755", lim.tmp, sandboxUID, sandboxUID)
			memory += lim.tmp
		}
	}
	host := &container.HostConfig{
		NetworkMode:    container.NetworkMode(NetworkNone),
		ReadonlyRootfs: true,
		CapDrop:        []string{"ALL"},
		// Docker's default seccomp profile (an allow-list) applies because
		// no seccomp option is given.
		SecurityOpt: []string{"no-new-privileges:true"},
		Init:        &init,
		IpcMode:     container.IPCModePrivate,
		ShmSize:     shmSize,
		// The attach stream carries the protocol; a log driver would copy
		// all of it, file contents included, to the engine's disk.
		LogConfig: container.LogConfig{Type: "none"},
		Tmpfs:     tmpfs,
		Resources: container.Resources{
			Memory:     memory,
			MemorySwap: memory, // no swap
			NanoCPUs:   lim.nanoCPUs,
			PidsLimit:  &pids,
			// No core dumps: a crash would hand its memory, secrets and
			// all, to the host's core handler, outside the sandbox.
			Ulimits: []*container.Ulimit{{Name: "core", Soft: 0, Hard: 0}},
		},
	}
	switch lim.network {
	case NetworkHost:
		host.NetworkMode = container.NetworkMode(NetworkHost)
	default:
		// No interface but loopback, and a resolver on loopback where
		// nothing listens: a lookup fails at once and sends nothing.
		host.DNS = []string{"127.0.0.1"}
	}
	return cfg, host
}

func sortedEnv(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

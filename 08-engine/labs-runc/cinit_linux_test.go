package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
	"containerlabs/labs/runtime"
)

// TestCInit checks the runtime's fast path: a container's init that sets the container up in
// C, without starting the Go runtime (labs/runtime's cinit_linux.go and nsenter/cinit.c),
// and that it sets up the same container as the Go init does.
func TestCInit(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("the init waits for start as one thread, without the Go runtime", func(t *testing.T) {
		threads := func(env ...string) string {
			r, b, id := newRunc(t), newBundle(t, "sleep", "60"), newID()
			r.env = env
			res := r.detached("create", "--bundle", b.write(t), id)
			require.Equal(t, 0, res.Code, labtest.Hint("create should leave the init waiting for start").With(res))
			st := r.state(id)
			status := procStatus(t, st.Pid, "Threads", "Name")
			assert.Equal(t, "labs-runc:init", status["Name"], labtest.Hint("the init names itself labs-runc:init until it execs the command"))
			r.run("delete", "--force", id)
			return status["Threads"]
		}
		assert.Equal(t, "1", threads(), labtest.Hint("the C init is a single thread: a Go program has several (the scheduler's, the garbage collector's) from its first instruction"))
		assert.NotEqual(t, "1", threads(runtime.EnvGoInit+"=1"),
			labtest.Hint("with %s set, the init is the Go one, whose runtime starts threads", runtime.EnvGoInit))
	})

	t.Run("the C init and the Go init set up the same container", func(t *testing.T) {
		// What the command prints is what a container sees of its set-up: credentials,
		// capabilities, limits, working directory, names, devices, mounts, sysctls, masked
		// and read-only paths.
		script := strings.Join([]string{
			"grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status",
			"id", "umask", "pwd", "hostname", "cat /proc/sys/kernel/domainname", "ulimit -n", "ulimit -Hn",
			"ls -ln /dev | awk '{ print $1, $3, $4, $5, $6, $NF }'",
			"cut -d' ' -f4- /proc/self/mountinfo",
			"cat /proc/sys/kernel/shmmni",
			"cat /etc/bound", "touch /etc/bound 2>&1", "touch /work/new 2>&1", "ls /sys/fs/cgroup",
			"wc -c /proc/kcore 2>&1", "echo 1 > /proc/sysrq-trigger 2>&1", "true",
		}, "; ")
		r, b := newRunc(t), newBundle(t, "sh", "-c", script)
		host := filepath.Join(b.dir, "bound")
		require.NoError(t, os.WriteFile(host, []byte("from the host\n"), 0o644))
		require.NoError(t, os.MkdirAll(filepath.Join(b.dir, "rootfs", "work"), 0o755))
		umask := uint32(0o027)
		p := b.spec.Process
		p.User = specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{10, 20}, Umask: &umask}
		p.Cwd = "/work"
		p.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 2048}}
		b.spec.Domainname = "labs.example"
		b.spec.Linux.Sysctl = map[string]string{"kernel.shmmni": "1024"}
		b.spec.Mounts = append(b.spec.Mounts,
			specs.Mount{Destination: "/etc/bound", Type: "bind", Source: host, Options: []string{"bind", "ro"}},
			specs.Mount{Destination: "/work", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "size=1m", "mode=1777"}})
		b.write(t)
		view := func(env ...string) labtest.Result {
			r.env = env
			res := r.run("run", "--bundle", b.dir, newID())
			require.Equal(t, 0, res.Code, labtest.Hint("the container's command should run").With(res))
			return res
		}
		c, g := view(), view(runtime.EnvGoInit+"=1")
		assert.Equal(t, g.Stdout, c.Stdout, labtest.Hint("the C init must leave the container exactly as the Go init does (left: Go, right: C)"))
		assert.Contains(t, c.Stdout, "from the host", labtest.Hint("a bind mount shows the host's file"))
		assert.Contains(t, c.Stdout, "Read-only file system", labtest.Hint("a read-only bind and a read-only root refuse writes"))
	})

	t.Run("an exec'd process is set up the same by both inits", func(t *testing.T) {
		r, b, id := newRunc(t), newBundle(t, "sleep", "60"), newID()
		require.Equal(t, 0, r.detached("run", "--detach", "--bundle", b.write(t), id).Code)
		process := filepath.Join(b.dir, "process.json")
		umask := uint32(0o077)
		p := *b.spec.Process
		p.Args = []string{"sh", "-c", "grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status; id; umask; pwd; ulimit -n; ls /proc/self/fd"}
		p.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{30}, Umask: &umask}
		p.Cwd = "/tmp"
		p.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 256, Hard: 512}}
		data, err := json.Marshal(p)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(process, data, 0o644))
		view := func(env ...string) string {
			r.env = env
			res := r.run("exec", "--process", process, id)
			require.Equal(t, 0, res.Code, labtest.Hint("exec --process should run the process in the container").With(res))
			return res.Stdout
		}
		c, g := view(), view(runtime.EnvGoInit+"=1")
		assert.Equal(t, g, c, labtest.Hint("the C init must set an exec'd process up exactly as the Go init does (left: Go, right: C)"))
		assert.Contains(t, c, "uid=1000 gid=1000 groups=30", labtest.Hint("the process's user and groups"))
		r.env = nil
		r.run("delete", "--force", id)
	})

	t.Run("a command that cannot run fails create, with the reason", func(t *testing.T) {
		r, b := newRunc(t), newBundle(t, "no-such-command")
		res := r.run("run", "--bundle", b.write(t), newID())
		assert.Equal(t, 1, res.Code, labtest.Hint("an error of create: runc's status 1").With(res))
		assert.Contains(t, res.Stderr, `exec: "no-such-command": executable file not found in $PATH`,
			labtest.Hint("runc's words, which Docker's client turns into 127").With(res))
		b = newBundle(t, "/etc/passwd")
		res = r.run("run", "--bundle", b.write(t), newID())
		assert.Equal(t, 1, res.Code, labtest.Hint("an error of create: runc's status 1").With(res))
		assert.Contains(t, res.Stderr, `exec: "/etc/passwd": permission denied`,
			labtest.Hint("a file that is not executable: runc's words, which Docker's client turns into 126").With(res))
	})

	t.Run("a dynamically linked command without its ELF interpreter is not found", func(t *testing.T) {
		r, b := newRunc(t), newBundle(t, "/bin/dynamic")
		self, err := exec.LookPath("ls")
		require.NoError(t, err)
		data, err := os.ReadFile(self)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(b.dir, "rootfs", "bin", "dynamic"), data, 0o755))
		res := r.run("run", "--bundle", b.write(t), newID())
		assert.Equal(t, 1, res.Code, labtest.Hint("the host's ls needs its ELF interpreter (ld-linux), which the busybox root lacks").With(res))
		assert.Contains(t, res.Stderr, "needs its ELF interpreter", labtest.Hint("the error names what is missing").With(res))
	})
}

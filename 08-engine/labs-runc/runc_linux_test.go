package main_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"containerlabs/labs/labtest"
)

// TestLabsRunc holds the graded checks of the runtime's command line, run as containerd runs
// it, on busybox bundles with Docker's default hardening.
func TestLabsRunc(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("create, start, state, kill and delete follow the OCI lifecycle", func(t *testing.T) {
		r, b, id := newRunc(t), newBundle(t, "sleep", "60"), newID()
		pidFile := filepath.Join(b.dir, "pid")
		res := r.detached("create", "--bundle", b.write(t), "--pid-file", pidFile, id)
		require.Equal(t, 0, res.Code, labtest.Hint("create should leave the init waiting on the exec fifo and exit 0").With(res))
		st := r.state(id)
		assert.Equal(t, specs.StateCreated, st.Status, labtest.Hint("before start, the status is created"))
		pidText, err := os.ReadFile(pidFile)
		require.NoError(t, err, labtest.Hint("--pid-file must receive the init's PID"))
		assert.Equal(t, strconv.Itoa(st.Pid), string(pidText), labtest.Hint("the PID file holds the same PID as state"))
		// create returns when the init is ready; it may still be on its way to the wait.
		assert.True(t, waitFor(func() bool { return procStatus(t, st.Pid, "State")["State"][:1] == "S" }),
			labtest.Hint("the init blocks in the exec fifo, asleep, until start"))
		assert.NotEmpty(t, b.cgroupDirs(), labtest.Hint("create makes the cgroup before the command runs"))

		res = r.run("start", id)
		require.Equal(t, 0, res.Code, labtest.Hint("start writes into the exec fifo, which releases the init").With(res))
		assert.Equal(t, specs.StateRunning, r.state(id).Status)
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", st.Pid))
		assert.Equal(t, "sleep\x0060\x00", string(cmdline), labtest.Hint("the init execs the command: it is PID %d itself, no extra process", st.Pid))
		res = r.run("start", id)
		assert.NotEqual(t, 0, res.Code, labtest.Hint("a running container cannot be started twice"))

		res = r.run("delete", id)
		assert.NotEqual(t, 0, res.Code, labtest.Hint("delete without --force refuses a running container").With(res))
		res = r.run("kill", id, "KILL")
		require.Equal(t, 0, res.Code, res.String())
		require.True(t, waitFor(func() bool { return r.state(id).Status == specs.StateStopped }), labtest.Hint("after SIGKILL the status is stopped"))
		assert.Zero(t, r.state(id).Pid, labtest.Hint("a stopped container reports PID 0"))
		res = r.run("kill", id, "TERM")
		assert.Contains(t, res.Stderr, "container not running", labtest.Hint("containerd's shim looks for 'container not running'").With(res))
		res = r.run("delete", id)
		require.Equal(t, 0, res.Code, res.String())
		res = r.run("state", id)
		assert.Contains(t, res.Stderr, "does not exist", labtest.Hint("containerd's shim looks for 'does not exist'").With(res))
		assert.Empty(t, b.cgroupDirs(), labtest.Hint("delete removes the cgroup, and the parent it made"))
		assert.Empty(t, r.run("list", "-q").Stdout, labtest.Hint("delete removes the state directory"))
	})

	t.Run("run passes the command's exit status and output on", func(t *testing.T) {
		r, b := newRunc(t), newBundle(t, "sh", "-c", "echo out; echo err >&2; exit 7")
		res := r.run("run", "--bundle", b.write(t), newID())
		assert.Equal(t, 7, res.Code, labtest.Hint("run exits with the command's status").With(res))
		assert.Equal(t, "out\n", res.Stdout)
		assert.Equal(t, "err\n", res.Stderr)
		assert.Empty(t, b.cgroupDirs(), labtest.Hint("run deletes the container when it exits"))

		// The init of a PID namespace ignores signals it has no handler for, even SIGKILL
		// from inside: the killed shell must be a child.
		b = newBundle(t, "sh", "-c", "sh -c 'kill -KILL $$'; exit $?")
		res = r.run("run", "--bundle", b.write(t), newID())
		assert.Equal(t, 137, res.Code, labtest.Hint("a command killed by SIGKILL gives 128+9").With(res))
		b = newBundle(t, "no-such-command")
		res = r.run("run", "--bundle", b.write(t), newID())
		assert.Equal(t, 1, res.Code, labtest.Hint("a command that is not in the image fails create, with runc's status for an error: 1").With(res))
		assert.Contains(t, res.Stderr, "no-such-command")
	})

	t.Run("exec joins the container's namespaces, root and cgroup", func(t *testing.T) {
		r, b, id := newRunc(t), newBundle(t, "sleep", "60"), newID()
		require.NoError(t, os.WriteFile(filepath.Join(b.dir, "rootfs/etc/marker"), []byte("inside\n"), 0o644))
		require.Equal(t, 0, r.detached("create", "--bundle", b.write(t), id).Code)
		require.Equal(t, 0, r.run("start", id).Code)
		res := r.run("exec", id, "sh", "-c", "hostname; cat /etc/marker; ps -o pid,args; cat /proc/self/cgroup")
		require.Equal(t, 0, res.Code, labtest.Hint("exec needs nsenter's C constructor to join the mount namespace").With(res))
		lines := strings.Split(res.Stdout, "\n")
		assert.Equal(t, "labs-runc-test", lines[0], labtest.Hint("exec shares the container's UTS namespace"))
		assert.Equal(t, "inside", lines[1], labtest.Hint("exec sees the container's root"))
		assert.Regexp(t, `(?m)^\s+1 sleep 60$`, res.Stdout, labtest.Hint("exec shares the PID namespace: the container's init is PID 1"))
		// "N:memory:/" on v1, "0::/" on v2.
		assert.Regexp(t, `(?m)^(\d+:memory|0:):/$`, res.Stdout, labtest.Hint("exec joins the cgroup and the cgroup namespace: its group is /"))

		res = r.run("exec", id, "sh", "-c", "exit 3")
		assert.Equal(t, 3, res.Code, labtest.Hint("a foreground exec exits with the process's status"))
		pidFile := filepath.Join(b.dir, "exec.pid")
		res = r.detached("exec", "--detach", "--pid-file", pidFile, id, "sleep", "30")
		require.Equal(t, 0, res.Code, res.String())
		text, err := os.ReadFile(pidFile)
		require.NoError(t, err)
		pid, _ := strconv.Atoi(string(text))
		ps := r.run("ps", "--format", "json", id)
		var pids []int
		require.NoError(t, json.Unmarshal([]byte(ps.Stdout), &pids), ps.String())
		assert.Contains(t, pids, pid, labtest.Hint("ps lists the detached exec: it is in the container's cgroup"))
		assert.Len(t, pids, 2)
	})

	t.Run("default hardening shows in /proc/1/status", func(t *testing.T) {
		r, b := newRunc(t), newBundle(t, "cat", "/proc/1/status")
		res := r.run("run", "--bundle", b.write(t), newID())
		require.Equal(t, 0, res.Code, res.String())
		status := map[string]string{}
		for _, line := range strings.Split(res.Stdout, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				status[k] = strings.TrimSpace(v)
			}
		}
		assert.Equal(t, "00000000a80405fb", status["CapBnd"], labtest.Hint("the bounding set is the default capabilities (Docker's without CAP_NET_RAW)"))
		assert.Equal(t, "00000000a80405fb", status["CapEff"])
		assert.Equal(t, "0000000000000000", status["CapInh"], labtest.Hint("the inheritable set stays empty"))
		assert.Equal(t, "1", status["NoNewPrivs"], labtest.Hint("set no_new_privs"))
		assert.Equal(t, "2", status["Seccomp"], labtest.Hint("a seccomp filter (mode 2) is loaded"))
	})

	t.Run("the default seccomp profile refuses what the kernel would allow", func(t *testing.T) {
		// unshare -U needs no capability at all: only the filter stops it.
		r, b := newRunc(t), newBundle(t, "unshare", "-U", "true")
		res := r.run("run", "--bundle", b.write(t), newID())
		assert.NotEqual(t, 0, res.Code, labtest.Hint("unshare is denied without CAP_SYS_ADMIN").With(res))
		assert.Contains(t, res.Stderr, "Operation not permitted", labtest.Hint("seccomp fails the call with EPERM"))
		b.spec.Linux.Seccomp = nil
		res = r.run("run", "--bundle", b.write(t), newID())
		assert.Equal(t, 0, res.Code, labtest.Hint("without the profile, the same call succeeds: it was the filter").With(res))
	})

	t.Run("masked and read-only paths", func(t *testing.T) {
		// Which of them exist depends on the kernel's configuration; these do here.
		for _, p := range []string{"/proc/interrupts", "/proc/acpi", "/proc/sys", "/proc/irq"} {
			if _, err := os.Stat(p); err != nil {
				t.Skipf("this kernel has no %s", p)
			}
		}
		r, b := newRunc(t), newBundle(t, "sh", "-c",
			"wc -c < /proc/interrupts; ls /proc/acpi | wc -l; echo x > /proc/sys/kernel/domainname; echo 1 > /proc/irq/default_smp_affinity; echo done")
		res := r.run("run", "--bundle", b.write(t), newID())
		require.Equal(t, 0, res.Code, res.String())
		assert.Equal(t, "0\n0\ndone\n", res.Stdout, labtest.Hint("/proc/interrupts reads as /dev/null, /proc/acpi is an empty tmpfs").With(res))
		assert.Equal(t, 2, strings.Count(res.Stderr, "Read-only file system"), labtest.Hint("/proc/sys and /proc/irq are read-only").With(res))
	})

	t.Run("pause freezes the container and resume thaws it", func(t *testing.T) {
		r, b, id := newRunc(t), newBundle(t, "sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /out/count; usleep 10000; done"), newID()
		out := labtest.TempDir(t)
		b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/out", Type: "bind", Source: out, Options: []string{"rbind", "rw"}})
		require.Equal(t, 0, r.detached("create", "--bundle", b.write(t), id).Code)
		require.Equal(t, 0, r.run("start", id).Code)
		count := func() string {
			data, _ := os.ReadFile(filepath.Join(out, "count"))
			return strings.TrimSpace(string(data))
		}
		require.True(t, waitFor(func() bool { return count() != "" }), "the counter never started")
		res := r.run("pause", id)
		require.Equal(t, 0, res.Code, res.String())
		assert.Equal(t, "paused", string(r.state(id).Status))
		before := count()
		time.Sleep(300 * time.Millisecond)
		assert.Equal(t, before, count(), labtest.Hint("a paused container does not run"))
		require.Equal(t, 0, r.run("resume", id).Code)
		assert.True(t, waitFor(func() bool { return count() != before }), labtest.Hint("after resume, it runs again"))
		assert.Equal(t, specs.StateRunning, r.state(id).Status)
		require.Equal(t, 0, r.run("delete", "--force", id).Code)
	})

	t.Run("update changes the memory limit of a running container", func(t *testing.T) {
		r, b, id := newRunc(t), newBundle(t, "sleep", "60"), newID()
		require.Equal(t, 0, r.detached("create", "--bundle", b.write(t), id).Code)
		res := r.bin.RunWith(t, labtest.Options{Stdin: strings.NewReader(`{"memory":{"limit":33554432}}`)}, "--root", r.root, "update", "--resources=-", id)
		require.Equal(t, 0, res.Code, res.String())
		limit, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", b.spec.Linux.CgroupsPath, "memory.limit_in_bytes"))
		if os.IsNotExist(err) {
			limit, err = os.ReadFile(filepath.Join("/sys/fs/cgroup", b.spec.Linux.CgroupsPath, "memory.max"))
		}
		require.NoError(t, err)
		assert.Equal(t, "33554432", strings.TrimSpace(string(limit)), labtest.Hint("update writes the cgroup's limit file"))
	})

	t.Run("an unsupported field fails create clearly and leaves nothing", func(t *testing.T) {
		r, b, id := newRunc(t), newBundle(t, "true"), newID()
		b.spec.Process.ApparmorProfile = "docker-default"
		logFile := filepath.Join(b.dir, "log.json")
		res := r.bin.Run(t, "--root", r.root, "--log", logFile, "--log-format", "json", "create", "--bundle", b.write(t), id)
		assert.Equal(t, 1, res.Code, res.String())
		assert.Contains(t, res.Stderr, "process.apparmorProfile", labtest.Hint("name the field that is not supported").With(res))
		log, err := os.ReadFile(logFile)
		require.NoError(t, err)
		var entry struct{ Level, Msg string }
		require.NoError(t, json.Unmarshal(log, &entry), labtest.Hint("--log-format json writes one JSON object a line: containerd reads it").With(string(log)))
		assert.Equal(t, "error", entry.Level)
		assert.Contains(t, entry.Msg, "process.apparmorProfile")
		assert.Empty(t, b.cgroupDirs())
		assert.Empty(t, r.run("list", "-q").Stdout, labtest.Hint("a failed create leaves no state behind"))
	})

	t.Run("hooks run at their points with the state on stdin", func(t *testing.T) {
		r, b, id := newRunc(t), newBundle(t, "true"), newID()
		out := labtest.TempDir(t)
		hook := func(name string) []specs.Hook {
			return []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + filepath.Join(out, name)}}}
		}
		b.spec.Hooks = &specs.Hooks{CreateRuntime: hook("createRuntime"), Poststart: hook("poststart"), Poststop: hook("poststop")}
		res := r.run("run", "--bundle", b.write(t), id)
		require.Equal(t, 0, res.Code, res.String())
		for _, name := range []string{"createRuntime", "poststart", "poststop"} {
			data, err := os.ReadFile(filepath.Join(out, name))
			require.NoError(t, err, labtest.Hint("the %s hook must run", name))
			var st specs.State
			require.NoError(t, json.Unmarshal(data, &st), labtest.Hint("hooks get the state as JSON on stdin"))
			assert.Equal(t, id, st.ID)
		}
	})

	t.Run("the console socket receives the terminal", func(t *testing.T) {
		r, b, id := newRunc(t), newBundle(t, "sh", "-c", "tty; echo ok"), newID()
		b.spec.Process.Terminal = true
		sockPath := filepath.Join(labtest.TempDir(t), "console.sock")
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
		require.NoError(t, err)
		defer l.Close()
		res := r.detached("create", "--bundle", b.write(t), "--console-socket", sockPath, id)
		require.Equal(t, 0, res.Code, res.String())
		conn, err := l.AcceptUnix()
		require.NoError(t, err)
		defer conn.Close()
		buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		require.NoError(t, err)
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		require.NoError(t, err)
		require.Len(t, msgs, 1, labtest.Hint("send the pty master as one SCM_RIGHTS message"))
		fds, err := unix.ParseUnixRights(&msgs[0])
		require.NoError(t, err)
		master := os.NewFile(uintptr(fds[0]), "master")
		defer master.Close()
		require.Equal(t, 0, r.run("start", id).Code)
		var got strings.Builder
		chunk := make([]byte, 256)
		_ = master.SetReadDeadline(time.Now().Add(10 * time.Second))
		for !strings.Contains(got.String(), "ok") {
			n, err := master.Read(chunk)
			if err != nil {
				break
			}
			got.Write(chunk[:n])
		}
		assert.Contains(t, got.String(), "/dev/pts/0", labtest.Hint("the process's stdio is the terminal's slave end").With(got.String()))
		require.True(t, waitFor(func() bool { return r.state(id).Status == specs.StateStopped }))
	})

	t.Run("run relays a terminal when no console socket is given", func(t *testing.T) {
		if _, err := exec.LookPath("script"); err != nil {
			t.Skip("script(1) is missing (util-linux): it gives the check a terminal")
		}
		r, b := newRunc(t), newBundle(t, "sh", "-c", "tty; exit 5")
		b.spec.Process.Terminal = true
		line := strings.Join([]string{r.bin.Path, "--root", r.root, "run", "--bundle", b.write(t), newID(), "; echo status=$?"}, " ")
		res := labtest.Command(t, labtest.Options{}, "script", "-qec", line, "/dev/null")
		assert.Contains(t, res.Stdout, "/dev/pts/0", labtest.Hint("the runtime receives the pty master itself and copies it to its own terminal").With(res))
		assert.Contains(t, res.Stdout, "status=5")
	})

	t.Run("a user namespace maps root inside to an unprivileged uid outside", func(t *testing.T) {
		r, b := newRunc(t), newBundle(t, "sh", "-c", "id -u; cat /proc/self/uid_map")
		require.NoError(t, os.Chmod(b.dir, 0o755), "uid 100000 must reach the root")
		b.spec.Linux.Namespaces = append(b.spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		b.spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		b.spec.Linux.GIDMappings = b.spec.Linux.UIDMappings
		res := r.run("run", "--bundle", b.write(t), newID())
		require.Equal(t, 0, res.Code, labtest.Hint("nsenter unshares the user namespace; the runtime writes the maps").With(res))
		assert.Regexp(t, `^0\n\s+0\s+100000\s+65536\n$`, res.Stdout)

		// A bind source only root on the host may reach: uid 100000 may not open its
		// path, so the runtime hands the init a copy of the mount.
		private := filepath.Join(b.dir, "private")
		require.NoError(t, os.MkdirAll(filepath.Join(private, "dir"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(private, "dir", "secret"), []byte("shared\n"), 0o644))
		require.NoError(t, os.Chmod(private, 0o700))
		b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: filepath.Join(private, "dir"), Options: []string{"bind", "ro"}})
		b.spec.Process.Args = []string{"cat", "/mnt/secret"}
		res = r.run("run", "--bundle", b.write(t), newID())
		assert.Equal(t, 0, res.Code, labtest.Hint("open_tree(2) the source on the host, move_mount(2) it in the init").With(res))
		assert.Equal(t, "shared\n", res.Stdout)
	})

	t.Run("a read-only /dev still gets its nodes and terminal", func(t *testing.T) {
		r, b := newRunc(t), newBundle(t, "sh", "-c", "grep ' /dev tmpfs' /proc/mounts; ls /dev/null /dev/pts/ptmx")
		for i, m := range b.spec.Mounts {
			if m.Destination == "/dev" {
				b.spec.Mounts[i].Options = append(m.Options, "ro")
			}
		}
		res := r.run("run", "--bundle", b.write(t), newID())
		require.Equal(t, 0, res.Code, labtest.Hint("mount /dev writable, make its nodes and /dev/pts, then remount it read-only").With(res))
		assert.Regexp(t, `^tmpfs /dev tmpfs ro,`, res.Stdout)
	})

	t.Run("no-pivot chroots instead of pivot_root", func(t *testing.T) {
		r, b := newRunc(t), newBundle(t, "sh", "-c", "cat /etc/hostname 2>/dev/null; ls /")
		res := r.run("run", "--no-pivot", "--bundle", b.write(t), newID())
		require.Equal(t, 0, res.Code, res.String())
		assert.Contains(t, res.Stdout, "bin\n", res.String())

		// After chroot the host's /proc is still in the mount namespace, out of sight; a
		// user namespace made inside could then mount a fresh, unmasked procfs.
		b.spec.Linux.Seccomp = nil
		b.spec.Process.Args = []string{"unshare", "-mrpf", "sh", "-c", "mount -t proc none /proc && echo mounted"}
		res = r.run("run", "--no-pivot", "--bundle", b.write(t), newID())
		assert.NotContains(t, res.Stdout, "mounted", labtest.Hint("--no-pivot must hide the host's procfs and sysfs mounts before chroot").With(res))
		assert.Contains(t, res.Stderr, "permission denied", res.String())
	})

	t.Run("kill --all signals every process and delete --force cleans up", func(t *testing.T) {
		r, b, id := newRunc(t), newBundle(t, "sh", "-c", "trap 'exit 9' TERM; sleep 60 & wait"), newID()
		require.Equal(t, 0, r.detached("create", "--bundle", b.write(t), id).Code)
		require.Equal(t, 0, r.run("start", id).Code)
		require.True(t, waitFor(func() bool {
			var pids []int
			_ = json.Unmarshal([]byte(r.run("ps", "--format", "json", id).Stdout), &pids)
			return len(pids) == 2
		}), "the container never had its two processes")
		require.Equal(t, 0, r.run("kill", "--all", id, "KILL").Code)
		require.True(t, waitFor(func() bool { return r.state(id).Status == specs.StateStopped }), labtest.Hint("kill --all reaches the init too"))
		require.Equal(t, 0, r.run("delete", "--force", id).Code)
		assert.Equal(t, 0, r.run("delete", "--force", id).Code, labtest.Hint("delete --force of a container that is gone succeeds"))
		assert.Empty(t, b.cgroupDirs())
	})

	t.Run("features describes the runtime", func(t *testing.T) {
		res := newRunc(t).run("features")
		require.Equal(t, 0, res.Code, res.String())
		var f struct {
			OCIVersionMin string
			Hooks         []string
			Linux         struct {
				Namespaces []string
				Seccomp    struct{ Enabled bool }
				Cgroup     map[string]bool
				Apparmor   struct{ Enabled *bool }
				Selinux    struct{ Enabled *bool }
				IntelRdt   struct{ Enabled *bool }
				NetDevices struct{ Enabled *bool }
			}
		}
		require.NoError(t, json.Unmarshal([]byte(res.Stdout), &f))
		assert.Equal(t, "1.0.0", f.OCIVersionMin)
		assert.Contains(t, f.Hooks, "createRuntime")
		assert.Contains(t, f.Linux.Namespaces, "user")
		assert.True(t, f.Linux.Seccomp.Enabled)
		assert.Equal(t, map[string]bool{"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": true}, f.Linux.Cgroup,
			labtest.Hint("both cgroup versions (device rules included), no systemd driver"))
		for name, enabled := range map[string]*bool{"apparmor": f.Linux.Apparmor.Enabled, "selinux": f.Linux.Selinux.Enabled,
			"intelRdt": f.Linux.IntelRdt.Enabled, "netDevices": f.Linux.NetDevices.Enabled} {
			if assert.NotNil(t, enabled, labtest.Hint("%s is refused: say false, not nothing (unknown)", name)) {
				assert.False(t, *enabled, labtest.Hint("%s is refused by create", name))
			}
		}
	})

	t.Run("version, help and debug speak runc's command line", func(t *testing.T) {
		r := newRunc(t)
		res := r.run("--version")
		require.Equal(t, 0, res.Code, res.String())
		lines := strings.Split(res.Stdout, "\n")
		require.GreaterOrEqual(t, len(lines), 3, res.String())
		assert.Regexp(t, `^labs-runc version \d+\.\d+\.\d+$`, lines[0], labtest.Hint("the first line of --version is NAME version X.Y.Z, as runc's"))
		assert.Regexp(t, `^commit: \S+$`, lines[1], labtest.Hint("dockerd reads the commit: line of --version"))
		assert.Regexp(t, `^spec: \d+\.\d+\.\d+`, lines[2], labtest.Hint("the third line names the runtime-spec version the runtime implements"))
		for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
			res = r.run(args...)
			assert.Equal(t, 0, res.Code, labtest.Hint("%v asks for help: exit 0, the page on stdout, not a usage error", args).With(res))
			assert.True(t, strings.HasPrefix(res.Stdout, "NAME:\n   labs-runc - Open Container Initiative runtime\n"), labtest.Hint("%v prints the help page in runc's layout", args).With(res))
		}
		for _, cmd := range []string{"create", "run", "exec", "update", "checkpoint"} {
			res = r.run(cmd, "-h")
			assert.Equal(t, 0, res.Code, res.String())
			assert.Contains(t, res.Stdout, "\n   labs-runc "+cmd+" - ", labtest.Hint("%s -h prints that command's page", cmd).With(res))
		}
		res = r.run("foo", "-h")
		assert.NotEqual(t, 0, res.Code)
		assert.Contains(t, res.Stderr, "No help topic for 'foo'")
		res = r.run("checkpoint", "x")
		assert.Equal(t, 1, res.Code, res.String())
		assert.Contains(t, res.Stderr, "CRIU", labtest.Hint("checkpoint is refused, saying why"))

		b := newBundle(t, "true")
		res = r.run("--debug", "run", "--bundle", b.write(t), newID())
		require.Equal(t, 0, res.Code, res.String())
		assert.Contains(t, res.Stderr, "level=debug", labtest.Hint("--debug logs the runtime's steps to stderr").With(res))
		assert.Contains(t, res.Stderr, "nsexec container setup")
		logFile := filepath.Join(b.dir, "debug.log")
		res = r.run("--debug", "--log", logFile, "--log-format", "json", "run", "--bundle", b.write(t), newID())
		require.Equal(t, 0, res.Code, res.String())
		assert.NotContains(t, res.Stderr, "debug", labtest.Hint("with --log, the log goes to the file only"))
		logged, _ := os.ReadFile(logFile)
		assert.Contains(t, string(logged), `"level":"debug"`, labtest.Hint("--log-format json writes JSON lines").With(string(logged)))
	})

	t.Run("list, state and ps print runc's formats", func(t *testing.T) {
		r, b, id := newRunc(t), newBundle(t, "sleep", "60"), newID()
		require.Equal(t, 0, r.detached("run", "-d", "--bundle", b.write(t), id).Code)
		res := r.run("list", "--format", "json")
		require.Equal(t, 0, res.Code, res.String())
		assert.Regexp(t, `^\[\{"ociVersion":"[^"]+","id":"`+id+`","pid":\d+,"status":"running","bundle":"[^"]+","rootfs":"[^"]+","created":"[^"]+"`, res.Stdout,
			labtest.Hint("list -f json keeps runc's field order, which tools match").With(res))
		res = r.run("list")
		assert.Regexp(t, `(?m)^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER$`, res.Stdout)
		res = r.run("ps", id)
		require.Equal(t, 0, res.Code, res.String())
		assert.Regexp(t, `^UID\s+PID\s+PPID`, res.Stdout, labtest.Hint("ps without options shows ps -ef's header").With(res))
		assert.Contains(t, res.Stdout, "sleep 60")
		res = r.run("events", "--stats", id)
		require.Equal(t, 0, res.Code, res.String())
		assert.Regexp(t, `^\{"type":"stats","id":"`+id+`","data":\{`, res.Stdout)
		res = r.run("update", id, "--pids-limit", "42")
		require.Equal(t, 0, res.Code, labtest.Hint("update takes options after the ID, as runc does").With(res))
		limit, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/pids", b.spec.Linux.CgroupsPath, "pids.max"))
		if len(limit) == 0 {
			limit, _ = os.ReadFile(filepath.Join("/sys/fs/cgroup", b.spec.Linux.CgroupsPath, "pids.max"))
		}
		assert.Equal(t, "42", strings.TrimSpace(string(limit)))
		res = r.run("exec", "--user", "4294967295", id, "id", "-u")
		assert.Equal(t, 255, res.Code, labtest.Hint("uid 4294967295 is (uid_t)-1, which setuid reads as 'no change': refused, with exec's error status 255").With(res))
	})

	t.Run("nothing is left on the host", func(t *testing.T) {
		// One more container first, so that there was something to leave.
		res := newRunc(t).run("run", "--bundle", newBundle(t, "true").write(t), newID())
		require.Equal(t, 0, res.Code, labtest.Hint("run a container to its end").With(res))
		matches, _ := filepath.Glob("/sys/fs/cgroup/*/containerlabs-test-runc")
		assert.Empty(t, matches, labtest.Hint("every cgroup, and the parent, is removed"))
	})
}

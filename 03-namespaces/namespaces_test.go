package main_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"containerlabs/labs/labtest"
)

const lab = "03-namespaces"

// TestLab03 holds the graded checks of lab 03. Each subtest is one check.
func TestLab03(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("the container has its own hostname and the host keeps its own", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		before, err := os.ReadFile("/proc/sys/kernel/hostname")
		require.NoError(t, err)
		res := bin.Run(t, "run", "--hostname", "labbox", dir, "hostname")
		assert.Equal(t, "labbox\n", res.Stdout, labtest.Hint("clone with CLONE_NEWUTS and call sethostname in the child").With(res))
		after, err := os.ReadFile("/proc/sys/kernel/hostname")
		require.NoError(t, err)
		assert.Equal(t, string(before), string(after), labtest.Hint("set the hostname inside the new UTS namespace, never on the host"))
	})

	t.Run("ps shows only the container's processes with init as PID 1", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		res := bin.Run(t, "run", dir, "ps", "-o", "pid,comm")
		require.Equal(t, 0, res.Code, labtest.Hint("the container should run ps").With(res))
		lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")[1:]
		var pids []string
		for _, l := range lines {
			pids = append(pids, strings.Fields(l)[0])
		}
		require.NotEmpty(t, pids, labtest.Hint("ps should list something").With(res))
		assert.Equal(t, "1", pids[0], labtest.Hint("clone with CLONE_NEWPID and mount a new /proc: the first process is PID 1").With(res))
		assert.LessOrEqual(t, len(pids), 3, labtest.Hint("only the init and the command may be listed, not the host's processes").With(res))
	})

	t.Run("mounts made inside do not appear on the host", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		p := bin.Start(t, "run", dir, "sh", "-c", "mkdir -p /mnt/x && mount -t tmpfs inside-only /mnt/x && echo mounted && sleep 30")
		p.Await(t, "mounted", labtest.Hint("root in the container may mount a tmpfs"))
		table, err := os.ReadFile("/proc/self/mountinfo")
		require.NoError(t, err)
		assert.NotContains(t, string(table), "inside-only", labtest.Hint("clone with CLONE_NEWNS and make every mount private (MS_REC|MS_PRIVATE) first"))
		assert.Empty(t, labtest.MountsUnder(t, dir), labtest.Hint("/proc, /dev, /sys and the root bind belong in the container's mount namespace, not the host's"))
	})

	t.Run("with the host's mounts shared, as systemd makes them, the container starts and keeps its mounts", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		// A mount namespace of the check's own in which every mount is shared, so the host's
		// own propagation does not matter (and is not touched).
		script := bin.Path + " run " + dir + " sh -c 'mkdir -p /mnt/x && mount -t tmpfs inside-only /mnt/x && echo mounted'" +
			"; grep -q inside-only /proc/self/mountinfo && echo leaked to the host"
		res := labtest.Command(t, labtest.Options{}, "unshare", "--mount", "--propagation", "shared", "sh", "-c", script)
		assert.Contains(t, res.Stdout, "mounted", labtest.Hint("make every mount private (MS_REC|MS_PRIVATE) before pivot_root: pivot_root refuses a shared mount (EINVAL)").With(res))
		assert.NotContains(t, res.Stdout, "leaked", labtest.Hint("mounts made inside must not propagate out: make every mount private first").With(res))
	})

	t.Run("the network namespace has only lo", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		res := bin.Run(t, "run", dir, "cat", "/proc/net/dev")
		require.Equal(t, 0, res.Code, labtest.Hint("the container should read /proc/net/dev").With(res))
		var ifaces []string
		for _, l := range strings.Split(res.Stdout, "\n")[2:] {
			if name, _, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
				ifaces = append(ifaces, name)
			}
		}
		assert.Equal(t, []string{"lo"}, ifaces, labtest.Hint("clone with CLONE_NEWNET: a new network namespace has only lo").With(res))
	})

	t.Run("the host's System V IPC objects are invisible", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		key := 0x4c414233 // "LAB3"
		id, err := unix.SysvShmGet(key, 4096, unix.IPC_CREAT|0o600)
		require.NoError(t, err)
		t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
		host, err := os.ReadFile("/proc/sysvipc/shm")
		require.NoError(t, err)
		require.Contains(t, string(host), strconv.Itoa(key), "the host must see its own segment")
		res := bin.Run(t, "run", dir, "cat", "/proc/sysvipc/shm")
		require.Equal(t, 0, res.Code, labtest.Hint("the container should read /proc/sysvipc/shm").With(res))
		assert.NotContains(t, res.Stdout, strconv.Itoa(key), labtest.Hint("clone with CLONE_NEWIPC"))
	})

	t.Run("the command's root directory is DIR, with the container's own proc", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		p := bin.Start(t, "run", dir, "sh", "-c", "echo ready; exec sleep 30")
		p.Await(t, "ready", labtest.Hint("the container should start"))
		command := labtest.WaitForChild(t, labtest.WaitForChild(t, p.Cmd.Process.Pid))
		rooted, err := labtest.RootedIn(dir)
		require.NoError(t, err)
		assert.Contains(t, rooted, command, labtest.Hint("the command's \"/\" must be DIR (seen from the host through /proc/PID/root): bind DIR onto itself, then pivot_root into it").With(p.Stderr()))
		// The kernel's table of the command's mounts: one mount at "/", DIR's bind (its root
		// in its file system is DIR's folder), and no host root stacked on it.
		mountinfo, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(command), "mountinfo"))
		require.NoError(t, err)
		roots := mountsAt(string(mountinfo), "/")
		assert.Len(t, roots, 1, labtest.Hint("detach the old root after pivot_root (umount -l .): only the container's root may be mounted at /").With(string(mountinfo)))
		for _, r := range roots {
			assert.True(t, strings.HasSuffix(r, "/"+filepath.Base(dir)), labtest.Hint("the root mount must be DIR's bind mount, not the host's root").With(string(mountinfo)))
		}
		assert.Regexp(t, `(?m)^\S+ \S+ \S+ \S+ /proc `, string(mountinfo), labtest.Hint("mount a new proc inside the root before pivot_root"))
		require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
		p.Wait(10 * time.Second)
	})

	t.Run("with --userns root inside is an unprivileged uid outside", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		res := bin.Run(t, "run", "--userns", dir, "sh", "-c", "id -u && touch /tmp/made-inside")
		require.Equal(t, 0, res.Code, labtest.Hint("clone with CLONE_NEWUSER and write uid_map and gid_map before the child runs").With(res))
		assert.Equal(t, "0\n", res.Stdout, labtest.Hint("inside, the command runs as uid 0").With(res))
		var st syscall.Stat_t
		require.NoError(t, syscall.Stat(filepath.Join(dir, "tmp/made-inside"), &st), labtest.Hint("the file made inside should exist on the host"))
		assert.NotZero(t, st.Uid, labtest.Hint("a file made by root inside must belong to an unprivileged uid outside"))
	})

	t.Run("a zombie orphan is reaped", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		// The subshell exits at once; its background sleep is re-parented to PID 1 and, when
		// it ends, only PID 1 can reap it. A zombie shows "State: Z".
		res := bin.Run(t, "run", dir, "sh", "-c", `(sleep 0.2 &); sleep 1; grep -l "^State:.*Z" /proc/[0-9]*/status; echo checked`)
		assert.Contains(t, res.Stdout, "checked", labtest.Hint("the command should run to the end").With(res))
		assert.NotContains(t, res.Stdout, "/proc/", labtest.Hint("PID 1 must reap orphans: loop on wait4(-1)").With(res))
	})

	t.Run("the exit status passes through", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		res := bin.Run(t, "run", dir, "sh", "-c", "exit 7")
		assert.Equal(t, 7, res.Code, labtest.Hint("the init exits with its command's status, and the parent with the init's").With(res))
		res = bin.Run(t, "run", dir, "sh", "-c", "kill -KILL $$")
		assert.Equal(t, 137, res.Code, labtest.Hint("a command killed by SIGKILL gives 128+9").With(res))
	})

	t.Run("SIGTERM reaches the container's command", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		p := bin.Start(t, "run", dir, "sh", "-c", `trap "echo got TERM; exit 3" TERM; echo ready; while :; do sleep 0.1; done`)
		p.Await(t, "ready", labtest.Hint("the container should start"))
		require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
		res := p.Wait(10 * time.Second)
		assert.Contains(t, res.Stdout, "got TERM", labtest.Hint("relay SIGTERM from the parent to the init, and from the init to its command").With(res))
		assert.Equal(t, 3, res.Code, labtest.Hint("the command's exit status passes through").With(res))
	})

	t.Run("ns shows which namespaces are the container's own", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		p := bin.Start(t, "run", dir, "sh", "-c", "echo ready; exec sleep 30")
		p.Await(t, "ready", labtest.Hint("the container should start"))
		init := labtest.WaitForChild(t, p.Cmd.Process.Pid)
		command := labtest.WaitForChild(t, init)
		res := bin.Run(t, "ns", strconv.Itoa(command))
		require.Equal(t, 0, res.Code, labtest.Hint("`03-namespaces ns PID` should read /proc/PID/ns").With(res))
		for _, typ := range []string{"cgroup", "ipc", "mnt", "net", "pid", "uts"} {
			assert.Regexp(t, "(?m)^"+typ+"\\s.*\\bno\\b", res.Stdout, labtest.Hint("the %s namespace must be the container's own, and ns must say so", typ))
		}
		assert.Regexp(t, "(?m)^user\\s.*\\byes\\b", res.Stdout, labtest.Hint("without --userns, the user namespace is the host's"))
	})

	t.Run("nothing is left on the host after exit", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		res := bin.Run(t, "run", dir, "sh", "-c", "sleep 30 & sleep 60 & echo started")
		assert.Equal(t, 0, res.Code, labtest.Hint("the container should run").With(res))
		assert.Empty(t, labtest.MountsUnder(t, dir), labtest.Hint("no mount may be left under DIR"))
		rooted, err := labtest.RootedIn(dir)
		require.NoError(t, err)
		assert.Empty(t, rooted, labtest.Hint("when the init exits, every process of the container must end"))
	})
}

// mountsAt returns, for each line of a mountinfo table whose mount point is target, the
// root of that mount within its file system (the fourth field).
func mountsAt(mountinfo, target string) []string {
	var roots []string
	for line := range strings.SplitSeq(mountinfo, "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == target {
			roots = append(roots, f[3])
		}
	}
	return roots
}

// TestUsage checks that 03-namespaces prints its usage, with no arguments, in the learner's language: English by default, Korean under LANG=ko_KR.UTF-8.
func TestUsage(t *testing.T) { labtest.RunUsage(t, lab, 2) }

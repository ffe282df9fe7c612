package main_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/labtest"
	"containerlabs/labs/namespace"
	"containerlabs/labs/rootfs"
	"containerlabs/labs/state"
)

// rootlessUser is an ordinary user that a check creates for itself, with a home, a range
// of subordinate IDs and (on cgroup v2) a delegated cgroup, and removes again with
// everything it made: its processes (by PID), its ranges, its cgroups, its home.
type rootlessUser struct {
	Name     string
	UID, GID int
	Home     string
	// SubStart is the first of its 65536 subordinate uids and gids.
	SubStart int
	// Bin is a copy of the engine in its home, so that no directory on the way to the
	// repository (or LAB_BIN) has to let the user pass.
	Bin string
	// cgroup is the user's session group on cgroup v2, where its commands run; delegated is
	// the group above it that the user owns.
	cgroup, delegated string
}

const subIDCount = 65536

// newRootlessUser creates the user, or skips the check saying what the host lacks.
func newRootlessUser(t *testing.T, bin *labtest.Binary) *rootlessUser {
	t.Helper()
	for _, tool := range []string{"useradd", "userdel", "usermod", namespace.NewUIDMap, namespace.NewGIDMap} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing (Debian packages passwd and uidmap): the rootless checks create a user with subordinate IDs", tool)
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(data)) == "0" {
		t.Skip("kernel.unprivileged_userns_clone is 0: this kernel lets no ordinary user create a user namespace")
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	u := &rootlessUser{Name: "cltest" + hex.EncodeToString(suffix)}
	u.Home = filepath.Join(os.TempDir(), "containerlabs-rootless-"+u.Name)
	start, err := freeSubIDs()
	require.NoError(t, err)
	u.SubStart = start

	// A system account: useradd gives ordinary ones a subordinate range of its own choosing,
	// and this check adds (and removes) its own.
	out, err := exec.Command("useradd", "--system", "--create-home", "--home-dir", u.Home, "--shell", "/bin/sh", u.Name).CombinedOutput()
	require.NoError(t, err, "useradd: %s", out)
	t.Cleanup(func() { u.remove(t) })
	ids := fmt.Sprintf("%d-%d", start, start+subIDCount-1)
	out, err = exec.Command("usermod", "--add-subuids", ids, "--add-subgids", ids, u.Name).CombinedOutput()
	require.NoError(t, err, "usermod --add-subuids: %s", out)
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(u.Home, &st))
	u.UID, u.GID = int(st.Uid), int(st.Gid)

	u.Bin = filepath.Join(u.Home, "08-engine")
	data, err := os.ReadFile(bin.Path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(u.Bin, data, 0o755))
	if mode, err := cgroup.Detect(); err == nil && mode == cgroup.V2 {
		u.delegate(t)
	}
	return u
}

// freeSubIDs finds 65536 IDs after every range /etc/subuid and /etc/subgid hand out, and
// above 2^31, where no account and no lab's --userns map lives.
func freeSubIDs() (int, error) {
	start := 1 << 31
	for _, file := range []string{namespace.SubUIDFile, namespace.SubGIDFile} {
		data, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			f := strings.Split(strings.TrimSpace(line), ":")
			if len(f) != 3 {
				continue
			}
			s, err1 := strconv.Atoi(f[1])
			n, err2 := strconv.Atoi(f[2])
			if err1 == nil && err2 == nil && s+n > start {
				start = s + n
			}
		}
	}
	if start+subIDCount > 1<<32-1 {
		return 0, errors.New("no free range of subordinate IDs below 2^32")
	}
	return start, nil
}

// delegate gives the user a cgroup v2 subtree, the way an administrator does without
// systemd (labs/cgroup/delegate_linux.go): a group it owns, with memory and pids for its
// children, and a session leaf below it where its commands run.
func (u *rootlessUser) delegate(t *testing.T) {
	t.Helper()
	u.delegated = "/" + u.Name
	u.cgroup = u.delegated + "/session"
	dir := filepath.Join(cgroup.DefaultRoot, u.delegated)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "session"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(cgroup.DefaultRoot, "cgroup.subtree_control"), []byte("+memory +pids"), 0))
	for _, f := range []string{"", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads", "session", "session/cgroup.procs", "session/cgroup.threads"} {
		require.NoError(t, os.Chown(filepath.Join(dir, f), u.UID, u.GID))
	}
}

// run runs the engine as the user, with a clean environment that names its home and a
// runtime directory in it, and waits at most timeout (DefaultTimeout if zero).
func (u *rootlessUser) run(t *testing.T, timeout time.Duration, args ...string) labtest.Result {
	t.Helper()
	return u.command(t, timeout, u.Bin, args...)
}

// command runs any program as the user, as run does.
func (u *rootlessUser) command(t *testing.T, timeout time.Duration, path string, args ...string) labtest.Result {
	t.Helper()
	if timeout == 0 {
		timeout = labtest.DefaultTimeout
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = u.Home
	cmd.Env = []string{
		"HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"XDG_RUNTIME_DIR=" + filepath.Join(u.Home, "run"),
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{}},
	}
	if u.cgroup != "" {
		group, err := os.Open(filepath.Join(cgroup.DefaultRoot, u.cgroup))
		require.NoError(t, err)
		defer group.Close()
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(group.Fd())
	}
	if err := os.MkdirAll(filepath.Join(u.Home, "run"), 0o700); err == nil {
		_ = os.Chown(filepath.Join(u.Home, "run"), u.UID, u.GID)
	}
	if err := cmd.Start(); err != nil {
		return labtest.Result{Code: -1, Err: err}
	}
	pid := cmd.Process.Pid
	timer := time.AfterFunc(timeout, func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	err := cmd.Wait()
	res := labtest.Result{Stdout: stdout.String(), Stderr: stderr.String(), TimedOut: !timer.Stop()}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		res.Err = err
	}
	res.Code = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Code = 128 + int(ws.Signal())
	}
	return res
}

// stateRoot is where the user's engine keeps its state: ~/.local/share/containerlabs.
func (u *rootlessUser) stateRoot() string {
	return filepath.Join(u.Home, ".local", "share", "containerlabs")
}

// owns reports whether host uid id is the user's or one of its subordinate IDs.
func (u *rootlessUser) owns(id int) bool {
	return id == u.UID || id >= u.SubStart && id < u.SubStart+subIDCount
}

// processes lists the processes that run as the user or one of its subordinate IDs: the
// pause, monitors, slirp4netns, fuse-overlayfs, containers.
func (u *rootlessUser) processes() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		// A zombie has ended already; its parent (init, for the pause) reaps it.
		zombie, mine := false, false
		for line := range strings.SplitSeq(string(data), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) >= 2 && f[0] == "State:":
				zombie = f[1] == "Z"
			case len(f) >= 2 && f[0] == "Uid:":
				uid, err := strconv.Atoi(f[1])
				mine = err == nil && u.owns(uid)
			}
		}
		if mine && !zombie {
			pids = append(pids, pid)
		}
	}
	return pids
}

// remove ends the user's processes, by PID, and removes its cgroups, its subordinate
// ranges, the account and its home.
func (u *rootlessUser) remove(t *testing.T) {
	for deadline := time.Now().Add(10 * time.Second); ; {
		pids := u.processes()
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("processes of %s survive SIGKILL: %v", u.Name, pids)
			break
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if u.delegated != "" {
		// Children first: the engine's groups, then the session and the delegated group.
		dir := filepath.Join(cgroup.DefaultRoot, u.delegated)
		var dirs []string
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("remove cgroup %s: %v", dirs[i], err)
			}
		}
	}
	if u.SubStart > 0 {
		ids := fmt.Sprintf("%d-%d", u.SubStart, u.SubStart+subIDCount-1)
		if out, err := exec.Command("usermod", "--del-subuids", ids, "--del-subgids", ids, u.Name).CombinedOutput(); err != nil {
			t.Errorf("usermod --del-subuids: %v: %s", err, out)
		}
	}
	if out, err := exec.Command("userdel", u.Name).CombinedOutput(); err != nil {
		t.Errorf("userdel %s: %v: %s", u.Name, err, out)
	}
	for _, file := range []string{namespace.SubUIDFile, namespace.SubGIDFile} {
		if data, err := os.ReadFile(file); err == nil && strings.Contains(string(data), u.Name+":") {
			t.Errorf("%s still lists %s", file, u.Name)
		}
	}
	labtest.RemoveTree(t, u.Home)
}

// busyboxArchive makes the labs' busybox image as root, in a state root of its own, and
// saves it as a docker-archive that the user may read: what `load` takes.
func busyboxArchive(t *testing.T, bin *labtest.Binary, dir string) string {
	t.Helper()
	t.Setenv(state.EnvRoot, labtest.TempDir(t))
	busybox := labtest.BusyboxRoot(t)
	res := bin.Run(t, "import", "-c", `CMD ["sh"]`, busybox, base)
	require.Equal(t, 0, res.Code, res)
	archive := filepath.Join(dir, "busybox.tar")
	res = bin.Run(t, "save", "-o", archive, base)
	require.Equal(t, 0, res.Code, res)
	require.NoError(t, os.Chmod(archive, 0o644))
	return archive
}

// TestLab08Rootless holds the graded checks of the engine run by an ordinary user: each
// runs as a user the check creates, with subordinate IDs it adds and removes.
func TestLab08Rootless(t *testing.T) {
	labtest.RequireRoot(t)
	bin := labtest.Lab(t, lab)
	u := newRootlessUser(t, bin)
	archive := busyboxArchive(t, bin, u.Home)
	loaded := false
	load := func(t *testing.T) {
		if loaded {
			return
		}
		res := u.run(t, 0, "load", "-i", archive)
		require.Equal(t, 0, res.Code, labtest.Hint("an ordinary user's `08-engine load -i ARCHIVE` loads into its own state root").With(res))
		loaded = true
	}

	t.Run("an ordinary user loads an image into a state root in its home, in a user namespace over its subordinate IDs", func(t *testing.T) {
		load(t)
		var st syscall.Stat_t
		require.NoError(t, syscall.Stat(u.stateRoot(), &st), labtest.Hint("a rootless engine keeps its state in ~/.local/share/containerlabs (or $XDG_DATA_HOME/containerlabs)"))
		assert.Equal(t, u.UID, int(st.Uid), "the state root belongs to the user")
		res := u.run(t, 0, "images")
		assert.Contains(t, res.Stdout, "labs/busybox", labtest.Hint("images lists what load loaded").With(res))

		// The layer's files were root's in the archive: on disk they are the user's.
		sh, err := filepath.Glob(filepath.Join(u.stateRoot(), "images", "layers", "*", "bin", "busybox"))
		require.NoError(t, err)
		require.NotEmpty(t, sh, labtest.Hint("the layer is unpacked under the state root's images/layers"))
		require.NoError(t, syscall.Lstat(sh[0], &st))
		assert.Equal(t, u.UID, int(st.Uid), labtest.Hint("unpack as root of the user namespace: the kernel writes uid 0 as the user's uid"))

		pidFile := filepath.Join(u.Home, "run", "containerlabs", "pause.pid")
		data, err := os.ReadFile(pidFile)
		require.NoError(t, err, labtest.Hint("the engine's namespaces are held by a pause process, whose PID is in $XDG_RUNTIME_DIR/containerlabs/pause.pid"))
		pid := strings.Fields(string(data))[0]
		maps, err := os.ReadFile("/proc/" + pid + "/uid_map")
		require.NoError(t, err)
		got, err := namespace.ParseIDMap(string(maps))
		require.NoError(t, err)
		assert.Equal(t, []namespace.IDMap{{Inside: 0, Outside: u.UID, Size: 1}, {Inside: 1, Outside: u.SubStart, Size: subIDCount}}, got,
			labtest.Hint("map the user's uid as root and its /etc/subuid range from 1 on, with newuidmap"))
	})

	t.Run("run passes output and exit status through, as root of the user namespace", func(t *testing.T) {
		load(t)
		res := u.run(t, 0, "run", "--rm", "--network", "none", base, "sh", "-c", "echo hello from a rootless engine; id -u; cat /proc/self/uid_map; exit 7")
		assert.Equal(t, 7, res.Code, labtest.Hint("the container's exit status is run's").With(res))
		assert.True(t, strings.HasPrefix(res.Stdout, "hello from a rootless engine\n0\n"), labtest.Hint("the command runs as root inside").With(res))
		assert.Regexp(t, fmt.Sprintf(`\s0\s+%d\s+1\n`, u.UID), res.Stdout, labtest.Hint("root inside is the user outside").With(res))
	})

	t.Run("run -d, logs, exec, stop and rm work rootless", func(t *testing.T) {
		load(t)
		res := u.run(t, 0, "run", "-d", "--name", "bg", "--network", "none", base, "sh", "-c", "echo started; trap 'exit 0' TERM; while true; do sleep 0.2; done")
		require.Equal(t, 0, res.Code, labtest.Hint("run -d prints the container's ID").With(res))
		var logs labtest.Result
		for range 50 {
			if logs = u.run(t, 0, "logs", "bg"); strings.Contains(logs.Stdout, "started") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		assert.Equal(t, "started\n", logs.Stdout, labtest.Hint("logs prints what the container wrote").With(logs))
		res = u.run(t, 0, "exec", "bg", "sh", "-c", "echo from exec; cat /proc/1/cmdline | tr '\\0' ' '")
		assert.Equal(t, 0, res.Code, res)
		assert.Contains(t, res.Stdout, "from exec\nsh -c echo started", labtest.Hint("exec joins the container's namespaces: its PID 1 is the container's command").With(res))
		res = u.run(t, 0, "show", "bg")
		assert.Equal(t, 125, res.Code, res)
		assert.Contains(t, res.Stderr, "show needs root", labtest.Hint("show compares with /proc/1/ns, which an ordinary user may not read: it refuses, saying so").With(res))
		res = u.run(t, 0, "stop", "-t", "5", "bg")
		assert.Equal(t, 0, res.Code, res)
		res = u.run(t, 0, "ps", "-a", "--format", "{{.Names}} {{.Status}}")
		assert.Contains(t, res.Stdout, "bg Exited (0)", labtest.Hint("stop sends SIGTERM, which the trap answers with exit 0").With(res))
		res = u.run(t, 0, "rm", "bg")
		assert.Equal(t, 0, res.Code, res)
		res = u.run(t, 0, "ps", "-aq")
		assert.Empty(t, strings.TrimSpace(res.Stdout), labtest.Hint("rm removes the container").With(res))
	})

	t.Run("a file made by root in the container is the user's on the host, and uid 1000's a subordinate ID", func(t *testing.T) {
		load(t)
		out := filepath.Join(u.Home, "out")
		require.NoError(t, os.Mkdir(out, 0o755))
		require.NoError(t, os.Chown(out, u.UID, u.GID))
		res := u.run(t, 0, "run", "--rm", "--network", "none", "-v", out+":/out", base, "sh", "-c",
			"touch /out/by-root && touch /out/by-1000 && chown 1000:1000 /out/by-1000")
		require.Equal(t, 0, res.Code, labtest.Hint("root in the container may chown to any ID the namespace maps").With(res))
		for name, want := range map[string][2]int{"by-root": {u.UID, u.GID}, "by-1000": {u.SubStart + 999, u.SubStart + 999}} {
			var st syscall.Stat_t
			require.NoError(t, syscall.Stat(filepath.Join(out, name), &st))
			assert.Equal(t, want[0], int(st.Uid), labtest.Hint("%s: uid 0 inside is the user's uid, uid N>0 is subordinate ID START+N-1", name))
			assert.Equal(t, want[1], int(st.Gid), labtest.Hint("%s: groups map the same way, over /etc/subgid", name))
		}
	})

	t.Run("root in a rootless container cannot read or change a root-only host file", func(t *testing.T) {
		load(t)
		// The escape made safe: the container is given the host directory it would reach by
		// breaking out. In a rootful container root reads and rewrites the marker.
		dir, err := os.MkdirTemp("", "containerlabs-rootless-marker-")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(dir) })
		require.NoError(t, os.Chmod(dir, 0o755))
		marker := filepath.Join(dir, "marker")
		require.NoError(t, os.WriteFile(marker, []byte("host root's secret\n"), 0o600))
		res := u.run(t, 0, "run", "--rm", "--network", "none", "-v", dir+":/host", base, "sh", "-c",
			"cat /host/marker; echo overwritten > /host/marker; touch /host/dropped; ls -ln /host/marker")
		assert.NotContains(t, res.Stdout, "secret", labtest.Hint("root inside is the user outside: a file only host root may read stays closed").With(res))
		data, err := os.ReadFile(marker)
		require.NoError(t, err)
		assert.Equal(t, "host root's secret\n", string(data), "the marker is unchanged")
		_, err = os.Stat(filepath.Join(dir, "dropped"))
		assert.ErrorIs(t, err, fs.ErrNotExist, labtest.Hint("the user may not write into root's directory, so neither may the container's root").With(res))
		assert.Regexp(t, `65534\s+65534`, res.Stdout, labtest.Hint("host root is no ID of the user namespace: it shows as the overflow ID, nobody").With(res))
	})

	t.Run("a published port answers on 127.0.0.1, through slirp4netns", func(t *testing.T) {
		load(t)
		if _, err := exec.LookPath("slirp4netns"); err != nil {
			t.Skip("slirp4netns is missing (Debian package slirp4netns)")
		}
		allowTun(t)
		port := freePort(t)
		res := u.run(t, 0, "run", "-d", "--name", "web", "-p", fmt.Sprintf("%d:80", port), base,
			"sh", "-c", "mkdir /www && echo served rootless > /www/index.html && httpd -f -p 80 -h /www")
		require.Equal(t, 0, res.Code, labtest.Hint("a rootless container's default network is slirp4netns").With(res))
		t.Cleanup(func() { u.run(t, 0, "rm", "-f", "web") })
		var body string
		for range 50 {
			if resp, err := (&http.Client{Timeout: time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/", port)); err == nil {
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body = string(data)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		assert.Equal(t, "served rootless\n", body, labtest.Hint("publish with slirp4netns's add_hostfwd: it listens on the host port as the user"))
		res = u.run(t, 0, "port", "web")
		assert.Contains(t, res.Stdout, fmt.Sprint(port), res)
		res = u.run(t, 0, "run", "--rm", "-p", "80:80", base, "true")
		assert.Equal(t, 125, res.Code, res)
		assert.Contains(t, res.Stderr, "ip_unprivileged_port_start", labtest.Hint("a port below 1024 is refused with the reason").With(res))
	})

	t.Run("build of a small Dockerfile runs its steps rootless", func(t *testing.T) {
		load(t)
		ctx := filepath.Join(u.Home, "ctx")
		require.NoError(t, os.Mkdir(ctx, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM "+base+"\n"+
			"RUN echo built > /built && chown 1000:1000 /built\n"+
			"COPY note.txt /note.txt\n"+
			`CMD ["sh", "-c", "cat /built /note.txt; ls -n /built"]`+"\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(ctx, "note.txt"), []byte("copied\n"), 0o644))
		res := u.run(t, 2*labtest.DefaultTimeout, "build", "--network", "none", "-t", "rootless-built", ctx)
		require.Equal(t, 0, res.Code, labtest.Hint("build runs RUN steps in containers and commits their upper directories").With(res))
		res = u.run(t, 0, "run", "--rm", "--network", "none", "rootless-built")
		assert.Equal(t, 0, res.Code, res)
		assert.Contains(t, res.Stdout, "built\ncopied\n", res)
		assert.Regexp(t, `1000\s+1000`, res.Stdout, labtest.Hint("an owner set in a RUN step survives commit and unpack").With(res))
	})

	t.Run("-m says why it cannot limit where no cgroup is delegated", func(t *testing.T) {
		load(t)
		if u.cgroup != "" {
			t.Skip("this host is cgroup v2 and the check delegated a subtree: see the next check")
		}
		res := u.run(t, 0, "run", "--rm", "--network", "none", "-m", "64m", base, "true")
		assert.Equal(t, 125, res.Code, labtest.Hint("a limit that cannot apply is refused, never silently dropped").With(res))
		assert.Contains(t, res.Stderr, "--memory", res)
		assert.Contains(t, res.Stderr, "cgroup v2", labtest.Hint("say why: rootless limits need cgroup v2 with a delegated subtree").With(res))
	})

	t.Run("on cgroup v2, a delegated subtree limits a rootless container's memory", func(t *testing.T) {
		load(t)
		if u.cgroup == "" {
			mode, _ := cgroup.Detect()
			t.Skipf("this host's cgroups are %s, where no subtree can be delegated to an ordinary user: run on cgroup v2 (scripts/cgroup2-vm.sh)", mode)
		}
		res := u.run(t, 0, "run", "-d", "--name", "limited", "--network", "none", "-m", "64m", base, "sleep", "30")
		require.Equal(t, 0, res.Code, labtest.Hint("with a delegated group, create the container's group under it").With(res))
		t.Cleanup(func() { u.run(t, 0, "rm", "-f", "limited") })
		id := strings.TrimSpace(res.Stdout)
		data, err := os.ReadFile(filepath.Join(cgroup.DefaultRoot, u.delegated, "containerlabs-engine", id, "memory.max"))
		require.NoError(t, err, labtest.Hint("the container's group is DELEGATED/containerlabs-engine/ID"))
		assert.Equal(t, "67108864", strings.TrimSpace(string(data)), "-m 64m")
	})

	t.Run("labs-runc --rootless runs runc's rootless config as the user", func(t *testing.T) {
		runc := labtest.Lab(t, "labs-runc")
		data, err := os.ReadFile(runc.Path)
		require.NoError(t, err)
		path := filepath.Join(u.Home, "labs-runc")
		require.NoError(t, os.WriteFile(path, data, 0o755))
		bundle := filepath.Join(u.Home, "bundle")
		require.NoError(t, os.MkdirAll(filepath.Join(bundle, "rootfs"), 0o755))
		require.NoError(t, rootfs.Busybox(filepath.Join(bundle, "rootfs")))
		// The user's own files, as a bundle it unpacked itself would be.
		require.NoError(t, filepath.WalkDir(bundle, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, u.UID, u.GID)
		}))
		res := u.command(t, 0, path, "spec", "--rootless", "--bundle", bundle, "sh", "-c", "id -u; cat /proc/self/uid_map")
		require.Equal(t, 0, res.Code, labtest.Hint("`labs-runc spec --rootless` writes runc's rootless config").With(res))
		res = u.command(t, 0, path, "run", "--bundle", bundle, "rootless-runc")
		assert.Equal(t, 0, res.Code, labtest.Hint("an ordinary user's labs-runc keeps its state in $XDG_RUNTIME_DIR/labs-runc and runs without a cgroup").With(res))
		assert.Regexp(t, fmt.Sprintf(`^0\n\s+0\s+%d\s+1\n$`, u.UID), res.Stdout, labtest.Hint("root inside is the user itself").With(res))
	})

	t.Run("nothing is left in the user's state root after system prune", func(t *testing.T) {
		load(t)
		if ids := strings.Fields(u.run(t, 0, "ps", "-aq").Stdout); len(ids) > 0 {
			u.run(t, 0, append([]string{"rm", "-f", "-v"}, ids...)...)
		}
		if refs := strings.Fields(u.run(t, 0, "images", "--format", "{{.Repository}}:{{.Tag}}").Stdout); len(refs) > 0 {
			res := u.run(t, 0, append([]string{"rmi"}, refs...)...)
			require.Equal(t, 0, res.Code, res)
		}
		res := u.run(t, 0, "system", "prune", "--volumes")
		require.Equal(t, 0, res.Code, res)
		var left []string
		_ = filepath.WalkDir(u.stateRoot(), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			var st syscall.Stat_t
			if syscall.Lstat(p, &st) == nil && int(st.Uid) != u.UID {
				left = append(left, fmt.Sprintf("%s (uid %d)", p, st.Uid))
			}
			for _, store := range []string{"engine/containers/", "engine/volumes/", "images/layers/", "images/blobs/sha256/"} {
				if rel, _ := filepath.Rel(u.stateRoot(), p); strings.HasPrefix(rel, store) {
					left = append(left, p)
				}
			}
			return nil
		})
		assert.Empty(t, left, labtest.Hint("system prune removes every container, layer, blob and volume; files of subordinate IDs left behind could not even be deleted by the user"))
		var running []int
		for range 50 {
			if running = u.processes(); len(running) == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		assert.Empty(t, running, labtest.Hint("with nothing running, prune ends the pause, and with it the user namespace"))
		res = u.command(t, 0, "/bin/rm", "-rf", u.stateRoot())
		assert.Equal(t, 0, res.Code, labtest.Hint("the user can delete its state root itself").With(res))
	})
}

// allowTun lets ordinary users open /dev/net/tun for the check, as Debian's udev rules do
// (mode 0666), on a host that left it root's; the mode is restored afterwards.
func allowTun(t *testing.T) {
	const tun = "/dev/net/tun"
	info, err := os.Stat(tun)
	if err != nil {
		t.Skipf("%s is missing: slirp4netns needs the tun driver", tun)
	}
	if mode := info.Mode().Perm(); mode&0o006 != 0o006 {
		t.Logf("%s is %04o here; the check makes it 0666 (as udev does on Debian) until it ends", tun, mode)
		require.NoError(t, os.Chmod(tun, 0o666))
		t.Cleanup(func() { _ = os.Chmod(tun, mode) })
	}
}

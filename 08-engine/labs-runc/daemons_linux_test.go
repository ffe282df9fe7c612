package main_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"containerlabs/labs/image"
	"containerlabs/labs/labtest"
)

// imageRef names the busybox image the real-client checks build and import. It is not
// pulled from anywhere: the test makes it from the host's busybox-static.
const imageRef = "labs.local/busybox:latest"

// daemon is a daemon of the test's own (containerd, dockerd): its own process group, its
// output in a log file of the test's directory, stopped when the test ends.
type daemon struct {
	t   *testing.T
	log string
	cmd *exec.Cmd
	// stopped is closed once the daemon has been waited for.
	stopped chan struct{}
}

// startDaemon starts name with args, its output going to DIR/NAME.log. The caller waits
// for it to be ready. Registered after TempDir's cleanup, its stop runs first: the daemon
// must be gone before its directory is unmounted and removed.
func startDaemon(t *testing.T, dir, name string, args ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, log: filepath.Join(dir, name+".log"), stopped: make(chan struct{})}
	logFile, err := os.Create(d.log)
	require.NoError(t, err)
	defer logFile.Close()
	d.cmd = exec.Command(name, args...)
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, d.cmd.Start(), labtest.Hint("start %s", name))
	go func() { _ = d.cmd.Wait(); close(d.stopped) }()
	t.Cleanup(d.stop)
	return d
}

// stop ends the daemon with SIGTERM, as its service manager would, and its process group
// with SIGKILL if it is still there 20 seconds later. Stopping twice is harmless.
func (d *daemon) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.stopped:
	case <-time.After(20 * time.Second):
		d.t.Errorf("%s did not stop within 20s of SIGTERM; killing it", d.cmd.Path)
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.stopped
	}
}

// awaitReady polls ready for up to 20 seconds, and fails the test with the daemon's log if
// it never says yes.
func (d *daemon) awaitReady(ready func() bool) {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ready() {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(d.log)
			d.t.Fatalf("%s did not come up within 20s:\n%s", d.cmd.Path, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shimsOf lists the PIDs of containerd shims started for the containerd at sock.
func shimsOf(sock string) []int { return processesWith("containerd-shim", sock) }

// processesWith lists the PIDs of the processes whose command line contains every one of
// parts.
func processesWith(parts ...string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		all := len(cmdline) > 0
		for _, part := range parts {
			all = all && strings.Contains(string(cmdline), part)
		}
		if all {
			pids = append(pids, pid)
		}
	}
	return pids
}

// removeIfCreated notes which of dirs do not exist now, and removes those again when the
// test ends, deepest first: daemons make them whatever their flags say (containerd 1.6 its
// shims' /run/containerd/s, dockerd /run/docker/plugins). Only empty directories are
// removed; one that is not empty is reported.
func removeIfCreated(t *testing.T, dirs ...string) {
	var absent []string
	for _, dir := range dirs {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			absent = append(absent, dir)
		}
	}
	t.Cleanup(func() {
		for i := len(absent) - 1; i >= 0; i-- {
			if err := os.Remove(absent[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("left behind: %v", err)
			}
		}
	})
}

// busyboxArchive builds a one-layer busybox image with labs/image and saves it as a
// docker-archive (what `docker save` writes) in dir, for `ctr image import` or `docker load`.
func busyboxArchive(t *testing.T, dir, comment string) string {
	t.Helper()
	root := labtest.BusyboxRoot(t)
	store, err := image.Open(filepath.Join(dir, "images"))
	require.NoError(t, err)
	_, err = store.ImportDir(root, imageRef, image.Meta{Comment: comment})
	require.NoError(t, err)
	archive := filepath.Join(dir, "busybox.tar")
	f, err := os.Create(archive)
	require.NoError(t, err)
	require.NoError(t, store.Save(f, []string{imageRef}, image.DockerArchive))
	require.NoError(t, f.Close())
	return archive
}

// containerd is a containerd daemon of the test's own: its root, state, sockets and log in
// a temp dir, the CRI plugin off, and a containerd namespace nobody else uses.
type containerd struct {
	*daemon
	t             *testing.T
	dir, sock, ns string
}

func startContainerd(t *testing.T) *containerd {
	for _, tool := range []string{"containerd", "ctr"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: apt-get install containerd (scripts/setup.sh does)", tool)
		}
	}
	// containerd 1.6 puts its shims' sockets under /run/containerd/s whatever its config
	// says.
	removeIfCreated(t, "/run/containerd", "/run/containerd/s")
	d := &containerd{t: t, dir: labtest.TempDir(t)}
	d.sock = filepath.Join(d.dir, "containerd.sock")
	d.ns = "labs-" + strings.TrimPrefix(newID(), "labs-runc-test-")
	config := "version = 2\n" +
		"root = " + strconv.Quote(filepath.Join(d.dir, "root")) + "\n" +
		"state = " + strconv.Quote(filepath.Join(d.dir, "state")) + "\n" +
		"disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n" +
		"[grpc]\n  address = " + strconv.Quote(d.sock) + "\n" +
		"[ttrpc]\n  address = " + strconv.Quote(d.sock+".ttrpc") + "\n"
	configFile := filepath.Join(d.dir, "config.toml")
	require.NoError(t, os.WriteFile(configFile, []byte(config), 0o644))
	d.daemon = startDaemon(t, d.dir, "containerd", "--config", configFile)
	// After the daemon stops (cleanups run last-registered first), no shim of it may be
	// left: a shim outlives its daemon by design, and would keep the test's mounts busy.
	t.Cleanup(func() {
		for _, pid := range shimsOf(d.sock) {
			t.Errorf("shim %d was left running; killing it", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	t.Cleanup(d.stop)
	d.awaitReady(func() bool { return d.ctr("version").Code == 0 })
	return d
}

// ctr runs ctr against the test's daemon and namespace.
func (d *containerd) ctr(args ...string) labtest.Result {
	d.t.Helper()
	return labtest.Command(d.t, labtest.Options{Timeout: 60 * time.Second}, "ctr",
		append([]string{"--address", d.sock, "--namespace", d.ns}, args...)...)
}

package main_test

import (
	"fmt"
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

	"containerlabs/labs/image"
	"containerlabs/labs/labtest"
	"containerlabs/labs/rootfs"
)

// imageRef names the busybox image the test builds and imports. It is not pulled from
// anywhere: the test makes it from the host's busybox-static.
const imageRef = "labs.local/busybox:latest"

// containerd is a containerd daemon of the test's own: its root, state, sockets and log in
// a temp dir, the CRI plugin off, and a containerd namespace nobody else uses.
type containerd struct {
	t                  *testing.T
	dir, sock, ns, log string
	cmd                *exec.Cmd
}

func startContainerd(t *testing.T) *containerd {
	for _, tool := range []string{"containerd", "ctr"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: apt-get install containerd (scripts/setup.sh does)", tool)
		}
	}
	d := &containerd{t: t, dir: labtest.TempDir(t)}
	d.sock = filepath.Join(d.dir, "containerd.sock")
	d.ns = "labs-" + strings.TrimPrefix(newID(), "labs-runc-test-")
	d.log = filepath.Join(d.dir, "containerd.log")
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
`, filepath.Join(d.dir, "root"), filepath.Join(d.dir, "state"), d.sock, d.sock+".ttrpc")
	configFile := filepath.Join(d.dir, "config.toml")
	require.NoError(t, os.WriteFile(configFile, []byte(config), 0o644))
	logFile, err := os.Create(d.log)
	require.NoError(t, err)
	d.cmd = exec.Command("containerd", "--config", configFile)
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, d.cmd.Start())
	logFile.Close()
	// Registered after TempDir's cleanup, so it runs first: the daemon and its shims must be
	// gone before the directory is unmounted and removed.
	t.Cleanup(d.stop)
	if !waitFor(func() bool { return d.ctr("version").Code == 0 }) {
		log, _ := os.ReadFile(d.log)
		t.Fatalf("containerd did not come up:\n%s", log)
	}
	return d
}

// ctr runs ctr against the test's daemon and namespace.
func (d *containerd) ctr(args ...string) labtest.Result {
	d.t.Helper()
	return labtest.Command(d.t, labtest.Options{Timeout: 60 * time.Second}, "ctr",
		append([]string{"--address", d.sock, "--namespace", d.ns}, args...)...)
}

// stop stops the daemon, then ends any shim of it still running: a shim outlives its daemon
// by design, and would keep the test's mounts busy. Shims are found by the socket address
// on their command line, so only this test's are touched.
func (d *containerd) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	for _, pid := range shimsOf(d.sock) {
		d.t.Errorf("shim %d was left running; killing it", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// shimsOf lists the PIDs of containerd shims started for the daemon at sock.
func shimsOf(sock string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(cmdline), "containerd-shim") && strings.Contains(string(cmdline), sock) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// importBusybox builds a one-layer busybox image with labs/image, saves it as a docker-archive
// and imports it into the daemon.
func (d *containerd) importBusybox() {
	d.t.Helper()
	root := labtest.BusyboxRoot(d.t)
	store, err := image.Open(filepath.Join(d.dir, "images"))
	require.NoError(d.t, err)
	_, err = store.ImportDir(root, imageRef, image.Meta{Comment: "busybox for the containerd check"})
	require.NoError(d.t, err)
	archive := filepath.Join(d.dir, "busybox.tar")
	f, err := os.Create(archive)
	require.NoError(d.t, err)
	require.NoError(d.t, store.Save(f, []string{imageRef}, image.DockerArchive))
	require.NoError(d.t, f.Close())
	res := d.ctr("image", "import", archive)
	require.Equal(d.t, 0, res.Code, res.String())
}

// TestContainerd drives labs-runc through containerd's runc shim, as Kubernetes nodes do,
// with ctr's --runc-binary.
func TestContainerd(t *testing.T) {
	labtest.RequireRoot(t)
	bin := binary(t)
	if _, err := rootfs.FindBusybox(); err != nil {
		t.Skip(err)
	}
	// containerd 1.6 puts its shims' sockets under /run/containerd/s whatever its config
	// says; if the test makes that directory, it removes it again.
	_, statErr := os.Stat("/run/containerd")
	if os.IsNotExist(statErr) {
		t.Cleanup(func() {
			for _, dir := range []string{"/run/containerd/s", "/run/containerd"} {
				if err := os.Remove(dir); err != nil && !os.IsNotExist(err) {
					t.Errorf("left behind: %v", err)
				}
			}
		})
	}
	d := startContainerd(t)
	d.importBusybox()
	// The runtime's state and ctr's stdio FIFOs go under the test's directory too.
	runcRoot := filepath.Join(d.dir, "runc")
	io := []string{"--runc-binary", bin.Path, "--runc-root", runcRoot, "--fifo-dir", filepath.Join(d.dir, "fifo")}

	t.Run("ctr run prints the command's output", func(t *testing.T) {
		id := newID()
		res := d.ctr(append(append([]string{"run", "--rm"}, io...), imageRef, id, "sh", "-c", "echo hello from containerd; cat /proc/self/cgroup")...)
		require.Equal(t, 0, res.Code, labtest.Hint("containerd's shim runs create, start, state, delete").With(res))
		assert.Contains(t, res.Stdout, "hello from containerd\n")
		assert.Regexp(t, `(?m)^\d+:(memory|):/`+d.ns+"/"+id+"$", res.Stdout,
			labtest.Hint("the container is in the cgroup containerd names: /NAMESPACE/ID").With(res))
	})

	t.Run("a detached task takes exec, ps, kill and delete", func(t *testing.T) {
		id := newID()
		res := d.ctr(append(append([]string{"run", "-d"}, io...), imageRef, id, "sleep", "600")...)
		require.Equal(t, 0, res.Code, res.String())
		res = d.ctr("task", "exec", "--fifo-dir", filepath.Join(d.dir, "fifo"), "--exec-id", "e1", id, "sh", "-c", "echo in exec; ps -o pid,args")
		require.Equal(t, 0, res.Code, labtest.Hint("the shim runs exec --detach and waits for the process as its subreaper").With(res))
		assert.Contains(t, res.Stdout, "in exec\n")
		assert.Regexp(t, `(?m)^\s+1 sleep 600$`, res.Stdout, labtest.Hint("exec sees the container's processes"))

		res = d.ctr("task", "ps", id)
		require.Equal(t, 0, res.Code, res.String())
		lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
		assert.Len(t, lines, 2, labtest.Hint("ps --format json lists the init alone once the exec has exited").With(res))

		res = d.ctr("task", "kill", "--signal", "SIGKILL", id)
		require.Equal(t, 0, res.Code, res.String())
		assert.True(t, waitFor(func() bool { return strings.Contains(d.ctr("task", "ls").Stdout, "STOPPED") }),
			labtest.Hint("the shim reaps the init and reports it stopped"))
		res = d.ctr("task", "delete", id)
		require.Equal(t, 0, res.Code, res.String())
		res = d.ctr("container", "delete", id)
		require.Equal(t, 0, res.Code, res.String())
	})

	t.Run("a task with a terminal gets it through the console socket", func(t *testing.T) {
		// ctr -t wants a terminal of its own; script(1) gives it one.
		ctrLine := strings.Join(append(append([]string{"ctr", "--address", d.sock, "--namespace", d.ns, "run", "-t", "--rm"}, io...),
			imageRef, newID(), "sh", "-c", "'tty; echo done'"), " ")
		res := labtest.Command(t, labtest.Options{Timeout: 60 * time.Second}, "script", "-qec", ctrLine, "/dev/null")
		require.Equal(t, 0, res.Code, labtest.Hint("create sends the pty master over --console-socket; the shim relays it").With(res))
		assert.Contains(t, res.Stdout, "/dev/pts/0", labtest.Hint("the process's stdio is the terminal"))
	})

	t.Run("nothing is left behind", func(t *testing.T) {
		assert.NotContains(t, d.ctr("task", "ls").Stdout, "labs-runc-test", labtest.Hint("every task is gone"))
		entries, err := os.ReadDir(filepath.Join(runcRoot, d.ns))
		require.NoError(t, err, labtest.Hint("the runtime keeps its state in --root (here %s/%s) while the tasks run", runcRoot, d.ns))
		assert.Empty(t, entries, labtest.Hint("the runtime's state directories are removed"))
		matches, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", d.ns))
		assert.Empty(t, matches, labtest.Hint("the cgroups, and their parent named after the namespace, are removed"))
		assert.True(t, waitFor(func() bool { return len(shimsOf(d.sock)) == 0 }), labtest.Hint("every shim exits once its task is deleted"))
	})
}

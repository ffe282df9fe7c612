package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
	"containerlabs/labs/rootfs"
)

// TestContainerd drives labs-runc through containerd's runc shim, as Kubernetes nodes do,
// with ctr's --runc-binary.
func TestContainerd(t *testing.T) {
	labtest.RequireRoot(t)
	bin := binary(t)
	if _, err := rootfs.FindBusybox(); err != nil {
		t.Skip(err)
	}
	d := startContainerd(t)
	res := d.ctr("image", "import", busyboxArchive(t, d.dir, "busybox for the containerd check"))
	require.Equal(t, 0, res.Code, res.String())
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

package namespace_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
	"containerlabs/labs/mount"
	"containerlabs/labs/namespace"
	"containerlabs/labs/procfs"
)

// job is what a test asks the re-executed child to do.
type job struct {
	Do       string
	Hostname string
	Root     string
	Script   string
}

// TestMain lets the test binary play the child: Start re-executes it, and IsChild is true.
func TestMain(m *testing.M) {
	if namespace.IsChild() {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

func child() int {
	var j job
	if err := namespace.Receive(&j); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	report := func(err error) int {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 125
		}
		return 0
	}
	switch j.Do {
	case "identity":
		if err := namespace.SetHostname(j.Hostname); err != nil {
			return report(err)
		}
		name, _ := os.Hostname()
		fmt.Printf("pid=%d uid=%d hostname=%s\n", os.Getpid(), os.Geteuid(), name)
		return 0
	case "pivot":
		// As lab 03 does first: on a host whose / is shared (every systemd host),
		// pivot_root refuses (EINVAL) while the mounts around the new root are shared.
		if err := mount.MakePrivate("/"); err != nil {
			return report(err)
		}
		if err := namespace.EnterRoot(j.Root); err != nil {
			return report(err)
		}
		if err := namespace.PivotRoot(); err != nil {
			return report(err)
		}
		entries, _ := os.ReadDir("/")
		for _, e := range entries {
			fmt.Println(e.Name())
		}
		return 0
	case "init":
		code, err := namespace.RunInit(exec.Command("/bin/sh", "-c", j.Script))
		if err != nil {
			return report(err)
		}
		return code
	}
	return 2
}

func startJob(t *testing.T, opts namespace.Options, j job) (string, int) {
	t.Helper()
	var out bytes.Buffer
	opts.Stdout, opts.Stderr = &out, &out
	c, err := namespace.Start(opts)
	require.NoError(t, err)
	require.NoError(t, c.Release(j))
	code, err := c.Wait()
	require.NoError(t, err)
	return out.String(), code
}

func TestChildIsPID1WithItsOwnHostname(t *testing.T) {
	labtest.RequireRoot(t)
	before, err := os.Hostname()
	require.NoError(t, err)
	out, code := startJob(t, namespace.Options{}, job{Do: "identity", Hostname: "inside"})
	require.Equal(t, 0, code, out)
	assert.Equal(t, "pid=1 uid=0 hostname=inside\n", out)
	after, _ := os.Hostname()
	assert.Equal(t, before, after, "the host's hostname must not change")
}

func TestChildInUserNamespaceIsRootInsideOnly(t *testing.T) {
	labtest.RequireRoot(t)
	m := namespace.DefaultIDMap
	out, code := startJob(t, namespace.Options{UserNS: &m}, job{Do: "identity", Hostname: "userns"})
	require.Equal(t, 0, code, out)
	assert.Equal(t, "pid=1 uid=0 hostname=userns\n", out, "inside, the child is root")
}

func TestPivotRootLeavesOnlyTheNewRoot(t *testing.T) {
	labtest.RequireRoot(t)
	root := labtest.TempDir(t)
	for _, name := range []string{"only-this", "and-this"} {
		require.NoError(t, os.Mkdir(filepath.Join(root, name), 0o755))
	}
	out, code := startJob(t, namespace.Options{}, job{Do: "pivot", Root: root})
	require.Equal(t, 0, code, out)
	assert.Equal(t, "and-this\nonly-this\n", out)
	assert.Empty(t, labtest.MountsUnder(t, root), "the bind mount lived in the child's namespace only")
}

func TestRunInitReapsOrphansAndPassesStatus(t *testing.T) {
	labtest.RequireRoot(t)
	// The subshell exits at once, leaving its background sleep to be re-parented to PID 1.
	// When the sleep ends, only PID 1 can reap it; a zombie would show state Z.
	script := `(sleep 0.2 &); sleep 0.6; grep -h '^State:.*Z' /proc/[0-9]*/status; exit 7`
	out, code := startJob(t, namespace.Options{}, job{Do: "init", Script: script})
	assert.Equal(t, 7, code, "the init exits with its command's status")
	assert.NotContains(t, out, "zombie", "the orphan must have been reaped")

	_, code = startJob(t, namespace.Options{}, job{Do: "init", Script: "kill -TERM $$"})
	assert.Equal(t, 143, code, "a command killed by SIGTERM gives 128+15")
}

func TestChildNamespacesDifferFromTheHost(t *testing.T) {
	labtest.RequireRoot(t)
	var out bytes.Buffer
	c, err := namespace.Start(namespace.Options{Stdout: &out, Stderr: &out})
	require.NoError(t, err)
	defer c.Kill()
	table, err := procfs.DescribeNamespaces(c.PID)
	require.NoError(t, err)
	for _, typ := range []string{"ipc", "mnt", "net", "pid", "uts"} {
		assert.Regexp(t, "(?m)^"+typ+" .* no: own namespace$", table)
	}
	assert.Regexp(t, "(?m)^user .* yes$", table)
}

func TestReachableBy(t *testing.T) {
	dir, err := os.MkdirTemp("", "reachable-") // mode 0700
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	inner := filepath.Join(dir, "root")
	require.NoError(t, os.Mkdir(inner, 0o755))
	err = namespace.ReachableBy(inner, 100000, 100000)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "chmod o+x "+dir), err.Error())
	require.NoError(t, os.Chmod(dir, 0o755))
	assert.NoError(t, namespace.ReachableBy(inner, 100000, 100000))
}

package procfs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
	"containerlabs/labs/procfs"
)

func TestMountAllAndUnmount(t *testing.T) {
	labtest.RequireRoot(t)
	root := labtest.BusyboxRoot(t)

	mounted, err := procfs.MountAll(root)
	require.NoError(t, err)
	targets := labtest.MountsUnder(t, root)
	for _, want := range []string{"proc", "dev", "dev/pts", "dev/shm", "sys"} {
		assert.Contains(t, targets, filepath.Join(root, want))
	}

	cmd := exec.Command("/bin/sh", "-c", "echo hi > /dev/null && head -c 4 /dev/zero | wc -c && ps -o pid | wc -l && ls /sys/kernel >/dev/null && touch /sys/x")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "/sys must be read-only")
	lines := strings.Fields(string(out))
	require.GreaterOrEqual(t, len(lines), 2, string(out))
	assert.Equal(t, "4", lines[0], "/dev/zero must be a working device")
	assert.Contains(t, string(out), "Read-only file system")

	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(filepath.Join(root, "dev/null"), &st))
	assert.Equal(t, uint32(0o666), st.Mode&0o777, "/dev/null must be usable by everyone")

	require.NoError(t, mounted.Unmount())
	assert.Empty(t, labtest.MountsUnder(t, root))
	require.NoError(t, mounted.Unmount(), "unmounting twice is harmless")
}

func TestMountAllCleansUpStaleMounts(t *testing.T) {
	labtest.RequireRoot(t)
	root := labtest.BusyboxRoot(t)
	// A run that was killed leaves its mounts behind; the next one must not stack on them.
	_, err := procfs.MountAll(root)
	require.NoError(t, err)
	mounted, err := procfs.MountAll(root)
	require.NoError(t, err)
	assert.Len(t, labtest.MountsUnder(t, root), 5, "proc, dev, dev/pts, dev/shm, sys: each once")
	require.NoError(t, mounted.Unmount())
	assert.Empty(t, labtest.MountsUnder(t, root))
}

func TestInspectSelf(t *testing.T) {
	p, err := procfs.Inspect(os.Getpid())
	require.NoError(t, err)
	assert.Equal(t, os.Getppid(), p.PPID)
	assert.Equal(t, os.Getuid(), p.UIDs[0])
	exe, err := os.Executable()
	require.NoError(t, err)
	assert.Equal(t, exe, p.Exe)
	assert.Equal(t, "/", p.Root)
	assert.Contains(t, p.Maps.Files, exe, "the executable is mapped")
	assert.Greater(t, p.Maps.Regions, 3)
	require.NotEmpty(t, p.Namespaces)
	assert.Equal(t, "cgroup", p.Namespaces[0].Type)
	assert.NotZero(t, p.Namespaces[0].Inode)
	assert.Contains(t, p.Namespaces[0].Link, "cgroup:[")
	assert.NotEmpty(t, p.Cmdline)
}

func TestInspectMissingProcess(t *testing.T) {
	_, err := procfs.Inspect(1 << 30)
	assert.ErrorContains(t, err, "inspect process")
}

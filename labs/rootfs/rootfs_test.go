package rootfs_test

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
	"containerlabs/labs/process"
	"containerlabs/labs/rootfs"
)

func TestClosureOfBashListsInterpreterAndLibraries(t *testing.T) {
	deps, err := rootfs.Closure("/bin/bash")
	require.NoError(t, err)
	require.NotEmpty(t, deps, "bash is dynamically linked on Debian")
	assert.True(t, deps[0].Interpreter, "the ELF interpreter comes first")
	assert.Contains(t, deps[0].Path, "ld-linux")
	var names []string
	for _, d := range deps[1:] {
		names = append(names, d.Name)
		assert.FileExists(t, d.Path)
	}
	assert.Contains(t, names, "libc.so.6")
	assert.Contains(t, names, "libtinfo.so.6")
}

func TestClosureOfStaticBinaryIsEmpty(t *testing.T) {
	busybox, err := rootfs.FindBusybox()
	if err != nil {
		t.Skip(err)
	}
	deps, err := rootfs.Closure(busybox)
	require.NoError(t, err)
	assert.Empty(t, deps)
}

// chrootRun runs args inside root with chroot(2), as 01-chroot does.
func chrootRun(t *testing.T, root string, args ...string) (string, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=" + process.DefaultPath}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestCopiedProgramsRunInAFreshRoot(t *testing.T) {
	labtest.RequireRoot(t)
	root := labtest.TempDir(t)
	copied, err := rootfs.CopyPrograms(root, "bash", "ls")
	require.NoError(t, err)
	assert.Contains(t, strings.Join(copied, "\n"), "libc.so.6")

	// The interpreter path from PT_INTERP must resolve inside the root, through the same
	// chain of symlinks the host has.
	interp, err := rootfs.Interpreter("/bin/bash")
	require.NoError(t, err)
	resolved, err := rootfs.Resolve(root, interp)
	require.NoError(t, err)
	assert.FileExists(t, resolved)

	out, err := chrootRun(t, root, "/bin/bash", "-c", "echo hello from $0; ls /")
	require.NoError(t, err, out)
	assert.Contains(t, out, "hello from /bin/bash")
	assert.Contains(t, out, "usr")
}

func TestBusyboxRootRunsShell(t *testing.T) {
	labtest.RequireRoot(t)
	root := labtest.BusyboxRoot(t)
	target, err := os.Readlink(filepath.Join(root, "bin/sh"))
	require.NoError(t, err)
	assert.Equal(t, "/bin/busybox", target)
	out, err := chrootRun(t, root, "/bin/sh", "-c", "echo ok; id -un")
	require.NoError(t, err, out)
	assert.Equal(t, "ok\nroot\n", out)
	info, err := os.Stat(filepath.Join(root, "tmp"))
	require.NoError(t, err)
	assert.Equal(t, os.ModeSticky, info.Mode()&os.ModeSticky, "/tmp must be sticky")
}

func TestResolveStaysInsideRoot(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755))
	require.NoError(t, os.Symlink("usr/bin", filepath.Join(root, "bin")))
	require.NoError(t, os.Symlink("/etc/shadow", filepath.Join(root, "abs")))
	require.NoError(t, os.Symlink("../../../../../etc", filepath.Join(root, "usr/up")))
	require.NoError(t, os.Symlink("loop", filepath.Join(root, "loop")))

	for _, tc := range []struct{ in, want string }{
		{"/bin/sh", "usr/bin/sh"},
		{"abs", "etc/shadow"},
		{"/usr/up/passwd", "etc/passwd"},
		{"../../..", ""},
		{"bin/../x", "usr/x"}, // ".." applies to the resolved bin, as the kernel does
	} {
		got, err := rootfs.Resolve(root, tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, filepath.Join(root, tc.want), got, tc.in)
	}
	_, err := rootfs.Resolve(root, "loop/x")
	assert.ErrorContains(t, err, "too many levels")
}

func TestLookPathExplainsWhatIsMissing(t *testing.T) {
	root := t.TempDir()
	_, err := rootfs.LookPath(root, "bash", "")
	assert.ErrorIs(t, err, rootfs.ErrNotFound)

	// bash alone: the file is there, but its ELF interpreter is not.
	_, err = rootfs.CopyFile("/bin/bash", filepath.Join(root, "bin/bash"))
	require.NoError(t, err)
	_, err = rootfs.LookPath(root, "/bin/bash", "")
	assert.ErrorIs(t, err, rootfs.ErrNotFound)
	assert.ErrorContains(t, err, "ld-linux")

	require.NoError(t, os.WriteFile(filepath.Join(root, "bin/script"), []byte("#!/bin/nosuchshell\n"), 0o755))
	_, err = rootfs.LookPath(root, "script", "/bin")
	assert.ErrorContains(t, err, "script interpreter /bin/nosuchshell")

	require.NoError(t, os.WriteFile(filepath.Join(root, "bin/data"), []byte("x"), 0o644))
	_, err = rootfs.LookPath(root, "/bin/data", "")
	assert.ErrorContains(t, err, "not executable")

	_, err = rootfs.CopyPrograms(root, "bash")
	require.NoError(t, err)
	got, err := rootfs.LookPath(root, "bash", "/usr/bin:/bin")
	require.NoError(t, err)
	assert.Equal(t, "/usr/bin/bash", got)
}

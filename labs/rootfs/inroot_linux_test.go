package rootfs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// hostileRoot is a container root whose symlinks all try to lead out of it, beside a
// "host" directory holding a secret.
func hostileRoot(t *testing.T) (root *os.File, rootDir, host string) {
	base := t.TempDir()
	rootDir, host = filepath.Join(base, "root"), filepath.Join(base, "host")
	require.NoError(t, os.MkdirAll(filepath.Join(rootDir, "etc"), 0o755))
	require.NoError(t, os.MkdirAll(host, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(host, "secret"), []byte("host"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(rootDir, "secret"), []byte("container"), 0o644))
	for name, target := range map[string]string{
		"abs":      "/",                            // an absolute link: the root, inside
		"up":       "../../../../../..",            // climbing: stops at the root
		"hostpath": host,                           // the host path itself: inside, it is missing
		"magic":    "/proc/self/root" + host,       // a magic link out
		"etc/pwd":  "../../../../../../etc/passwd", // a file through climbing
	} {
		require.NoError(t, os.Symlink(target, filepath.Join(rootDir, name)))
	}
	root, err := OpenRoot(rootDir)
	require.NoError(t, err)
	t.Cleanup(func() { root.Close() })
	return root, rootDir, host
}

func TestOpenInRootNeverLeavesTheRoot(t *testing.T) {
	root, _, _ := hostileRoot(t)
	for _, p := range []string{"abs/secret", "up/secret", "/up/up/secret", "../secret", "abs/up/abs/secret"} {
		data, err := ReadFileInRoot(root, p, 100)
		require.NoError(t, err, p)
		assert.Equal(t, "container", string(data), "%s must resolve inside the root", p)
	}
	for _, p := range []string{"hostpath/secret", "magic/secret", "etc/pwd"} {
		_, err := ReadFileInRoot(root, p, 100)
		assert.Error(t, err, "%s must not reach the host", p)
	}
}

func TestReadFileInRootRefusesWhatIsNotAFile(t *testing.T) {
	root, rootDir, _ := hostileRoot(t)
	require.NoError(t, unix.Mkfifo(filepath.Join(rootDir, "fifo"), 0o644))
	_, err := ReadFileInRoot(root, "fifo", 100)
	assert.ErrorContains(t, err, "not a regular file", "a FIFO would block the reader for ever")
	require.NoError(t, os.WriteFile(filepath.Join(rootDir, "big"), make([]byte, 101), 0o644))
	_, err = ReadFileInRoot(root, "big", 100)
	assert.ErrorContains(t, err, "larger than 100 bytes")
}

func TestMkdirAllInRootFollowsLinksInsideOnly(t *testing.T) {
	root, rootDir, host := hostileRoot(t)
	_, err := MkdirAllInRoot(root, "hostpath/made", 0o755)
	assert.Error(t, err, "a link to a host path dangles inside the root")
	for _, p := range []string{"abs/made", "up/a/b"} {
		dir, err := MkdirAllInRoot(root, p, 0o755)
		require.NoError(t, err, p)
		inside, err := PathInRoot(root, dir)
		require.NoError(t, err)
		dir.Close()
		assert.DirExists(t, filepath.Join(rootDir, inside), "%s was made inside the root, at %s", p, inside)
	}
	entries, _ := os.ReadDir(host)
	assert.Len(t, entries, 1, "nothing was made on the host")
	f, err := CreateInRoot(root, "/abs/etc/hosts", false)
	require.NoError(t, err)
	f.Close()
	assert.FileExists(t, filepath.Join(rootDir, "etc/hosts"))
	require.NoError(t, os.MkdirAll(filepath.Join(rootDir, "run"), 0o755))
	require.NoError(t, os.Symlink("../run/resolv.conf", filepath.Join(rootDir, "etc/resolv.conf")))
	f, err = CreateInRoot(root, "/etc/resolv.conf", false)
	require.NoError(t, err, "a dangling link inside the root gets its target made")
	f.Close()
	assert.FileExists(t, filepath.Join(rootDir, "run/resolv.conf"))
	require.NoError(t, os.Symlink(filepath.Join(host, "made"), filepath.Join(rootDir, "etc/out")))
	f, err = CreateInRoot(root, "/etc/out", false)
	if err == nil {
		f.Close()
	}
	assert.NoFileExists(t, filepath.Join(host, "made"), "a link to a host path makes nothing on the host")
}

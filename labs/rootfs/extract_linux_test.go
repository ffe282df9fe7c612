package rootfs_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/rootfs"
)

// entry is a compact way to write a tar entry in a test table.
type entry struct {
	name, link, body string
	typ              byte
	mode             int64
}

func file(name, body string) entry {
	return entry{name: name, body: body, typ: tar.TypeReg, mode: 0o644}
}
func dir(name string) entry { return entry{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, to string) entry {
	return entry{name: name, link: to, typ: tar.TypeSymlink, mode: 0o777}
}
func hardlink(name, to string) entry { return entry{name: name, link: to, typ: tar.TypeLink} }

func makeTar(t *testing.T, entries ...entry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode,
			Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0), Uid: os.Geteuid(), Gid: os.Getegid()}
		require.NoError(t, tw.WriteHeader(hdr))
		_, err := tw.Write([]byte(e.body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return &buf
}

// sandbox makes a directory holding an extraction root "root" and, beside it, a directory
// "outside" with a secret file, so that a test can prove nothing outside root changed.
func sandbox(t *testing.T) (root, outside string) {
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	require.NoError(t, os.Mkdir(root, 0o755))
	require.NoError(t, os.Mkdir(outside, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("original"), 0o644))
	return root, outside
}

func listTree(t *testing.T, dir string) []string {
	var names []string
	require.NoError(t, filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return err
	}))
	sort.Strings(names)
	return names
}

func TestExtractRefusesHostileEntries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []entry
	}{
		{"dot-dot climbs out", []entry{file("../outside/secret", "pwned")}},
		{"dot-dot in the middle", []entry{dir("a"), file("a/../../outside/secret", "pwned")}},
		{"write through a symlinked parent", []entry{symlink("link", "../outside"), file("link/secret", "pwned")}},
		{"write through an absolute symlinked parent", []entry{symlink("link", "/"), file("link/tmp/pwned", "pwned")}},
		{"directory through a symlinked parent", []entry{symlink("link", "../outside"), dir("link/newdir")}},
		{"hardlink climbing out", []entry{hardlink("hl", "../outside/secret")}},
		{"hardlink through a symlinked parent", []entry{symlink("link", "../outside"), hardlink("hl", "link/secret")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, outside := sandbox(t)
			before := listTree(t, outside)
			err := rootfs.ExtractTar(makeTar(t, tc.entries...), root)
			assert.ErrorIs(t, err, rootfs.ErrUnsafeEntry)
			secret, readErr := os.ReadFile(filepath.Join(outside, "secret"))
			require.NoError(t, readErr)
			assert.Equal(t, "original", string(secret), "the file outside the root must not change")
			assert.Equal(t, before, listTree(t, outside), "nothing may appear outside the root")
			if _, err := os.Stat("/tmp/pwned"); err == nil {
				t.Fatal("an entry escaped to /tmp/pwned")
			}
		})
	}
}

func TestExtractContainsAbsoluteNamesAndReplacesPlantedSymlinks(t *testing.T) {
	root, outside := sandbox(t)
	err := rootfs.ExtractTar(makeTar(t,
		file("/etc/motd", "absolute names land inside the root"),
		// A symlink to a file outside, then a regular file of the same name: the file must
		// replace the link, not write through it.
		symlink("evil", filepath.Join(outside, "secret")),
		file("evil", "replaced"),
		// A symlink to a directory outside, then a directory of the same name.
		symlink("d", outside),
		dir("d"),
		file("d/inside", "x"),
		// A hardlink to an absolute name resolves inside the root too.
		hardlink("motd-link", "/etc/motd"),
	), root)
	require.NoError(t, err)

	got, err := os.ReadFile(filepath.Join(root, "etc/motd"))
	require.NoError(t, err)
	assert.Equal(t, "absolute names land inside the root", string(got))
	got, err = os.ReadFile(filepath.Join(outside, "secret"))
	require.NoError(t, err)
	assert.Equal(t, "original", string(got))
	info, err := os.Lstat(filepath.Join(root, "evil"))
	require.NoError(t, err)
	assert.True(t, info.Mode().IsRegular())
	info, err = os.Lstat(filepath.Join(root, "d"))
	require.NoError(t, err)
	assert.True(t, info.IsDir())
	assert.NoFileExists(t, filepath.Join(outside, "inside"))

	var a, b syscall.Stat_t
	require.NoError(t, syscall.Stat(filepath.Join(root, "etc/motd"), &a))
	require.NoError(t, syscall.Stat(filepath.Join(root, "motd-link"), &b))
	assert.Equal(t, a.Ino, b.Ino, "motd-link must be a hardlink to etc/motd")
}

func TestExtractKeepsMetadata(t *testing.T) {
	root, _ := sandbox(t)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	mtime := time.Unix(1600000000, 0)
	hdrs := []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o750, ModTime: mtime},
		{Name: "bin/su", Typeflag: tar.TypeReg, Mode: 0o4755, Size: 2, ModTime: mtime},
		{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "/bin/busybox", ModTime: mtime},
		{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o600, ModTime: mtime},
	}
	if os.Geteuid() == 0 {
		hdrs = append(hdrs,
			&tar.Header{Name: "dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: mtime},
			&tar.Header{Name: "owned", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 1234, Gid: 5678, ModTime: mtime,
				PAXRecords: map[string]string{"SCHILY.xattr.user.note": "kept", "SCHILY.xattr.trusted.overlay.opaque": "y"}},
		)
	}
	for _, h := range hdrs {
		require.NoError(t, tw.WriteHeader(h))
		if h.Size > 0 {
			_, err := tw.Write([]byte("ok"))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())

	require.NoError(t, rootfs.ExtractTar(&buf, root), "gzip input is detected by its magic bytes")

	info, err := os.Stat(filepath.Join(root, "bin"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o750), info.Mode().Perm())
	assert.True(t, info.ModTime().Equal(mtime), "directory mtime is set after its contents")
	info, err = os.Stat(filepath.Join(root, "bin/su"))
	require.NoError(t, err)
	assert.Equal(t, os.ModeSetuid, info.Mode()&os.ModeSetuid, "the setuid bit is kept")
	link, err := os.Readlink(filepath.Join(root, "bin/sh"))
	require.NoError(t, err)
	assert.Equal(t, "/bin/busybox", link)
	info, err = os.Lstat(filepath.Join(root, "fifo"))
	require.NoError(t, err)
	assert.Equal(t, os.ModeNamedPipe, info.Mode()&os.ModeNamedPipe)

	if os.Geteuid() == 0 {
		var st syscall.Stat_t
		require.NoError(t, syscall.Stat(filepath.Join(root, "dev/null"), &st))
		assert.Equal(t, uint32(syscall.S_IFCHR), st.Mode&syscall.S_IFMT)
		assert.Equal(t, uint64(1<<8|3), st.Rdev)
		require.NoError(t, syscall.Stat(filepath.Join(root, "owned"), &st))
		assert.Equal(t, []uint32{1234, 5678}, []uint32{st.Uid, st.Gid})
		buf := make([]byte, 16)
		n, err := syscall.Getxattr(filepath.Join(root, "owned"), "user.note", buf)
		if err == nil {
			assert.Equal(t, "kept", string(buf[:n]))
		}
		_, err = syscall.Getxattr(filepath.Join(root, "owned"), "trusted.overlay.opaque", buf)
		assert.Error(t, err, "trusted.* attributes from an archive must be dropped")
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"./etc/passwd": "etc/passwd", "/etc//passwd": "etc/passwd", "./": ".", "a/./b/": "a/b",
	} {
		got, err := rootfs.CleanName(in)
		require.NoError(t, err)
		assert.Equal(t, want, got, in)
	}
	_, err := rootfs.CleanName("a/../b")
	assert.ErrorIs(t, err, rootfs.ErrUnsafeEntry)
}

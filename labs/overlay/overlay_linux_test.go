package overlay_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"containerlabs/labs/labtest"
	"containerlabs/labs/mount"
	"containerlabs/labs/overlay"
)

// writeTree creates files (and, for names ending in "/", directories) under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			require.NoError(t, os.MkdirAll(p, 0o755))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

// snapshot records every path under dir with its type, mode and content, to prove that a
// layer did not change.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		desc := info.Mode().String()
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + string(data)
		}
		snap[rel] = desc
		return nil
	}))
	return snap
}

// container is one overlay over shared layers, as a lab program makes it.
type container struct {
	upper, work, merged string
}

func mountContainer(t *testing.T, base string, layers []string) container {
	t.Helper()
	c := container{filepath.Join(base, "upper"), filepath.Join(base, "work"), filepath.Join(base, "merged")}
	require.NoError(t, overlay.Mount(layers, c.upper, c.work, c.merged))
	t.Cleanup(func() { _ = mount.UnmountAll(c.merged) })
	return c
}

// imageLayers makes two layers in dir: a base and a layer that overrides /etc/hosts,
// deletes /gone (a whiteout) and adds /opt/tool.
func imageLayers(t *testing.T, dir string) []string {
	t.Helper()
	l1, l2 := filepath.Join(dir, "layer1"), filepath.Join(dir, "layer2")
	writeTree(t, l1, map[string]string{
		"etc/hosts":            "127.0.0.1 layer1\n",
		"etc/passwd":           "root:x:0:0::/root:/bin/sh\n",
		"bin/sh":               "#!shell\n",
		"data/a":               "a",
		"data/b":               "b",
		"old/x":                "x",
		"gone":                 "deleted by layer 2",
		"usr/share/doc/readme": "read me",
	})
	writeTree(t, l2, map[string]string{
		"etc/hosts": "127.0.0.1 layer2\n",
		"opt/tool":  "tool",
	})
	require.NoError(t, overlay.MakeWhiteout(filepath.Join(l2, "gone")))
	return []string{l1, l2}
}

func TestMergedViewStacksLayers(t *testing.T) {
	labtest.RequireRoot(t)
	dir := labtest.TempDir(t)
	c := mountContainer(t, dir, imageLayers(t, dir))

	hosts, err := os.ReadFile(filepath.Join(c.merged, "etc/hosts"))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1 layer2\n", string(hosts), "the upper layer's file must win")
	assert.FileExists(t, filepath.Join(c.merged, "etc/passwd"), "directories of all layers are merged")
	assert.FileExists(t, filepath.Join(c.merged, "opt/tool"))
	assert.NoFileExists(t, filepath.Join(c.merged, "gone"), "a whiteout in layer 2 must hide layer 1's file")
}

func TestWritesLandInTheUpperDirAndNeverInALayer(t *testing.T) {
	labtest.RequireRoot(t)
	dir := labtest.TempDir(t)
	layers := imageLayers(t, dir)
	var snaps []map[string]string
	for _, l := range layers {
		snaps = append(snaps, snapshot(t, l))
	}
	c := mountContainer(t, dir, layers)

	require.NoError(t, os.WriteFile(filepath.Join(c.merged, "new.txt"), []byte("new"), 0o644))
	f, err := os.OpenFile(filepath.Join(c.merged, "etc/passwd"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("app:x:1000:1000::/:/bin/sh\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.Chmod(filepath.Join(c.merged, "bin/sh"), 0o700))

	got, err := os.ReadFile(filepath.Join(c.upper, "new.txt"))
	require.NoError(t, err)
	assert.Equal(t, "new", string(got), "a new file must be created in the upper dir")
	got, err = os.ReadFile(filepath.Join(c.upper, "etc/passwd"))
	require.NoError(t, err)
	assert.Equal(t, "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n", string(got),
		"a written lower file must be copied up whole, then changed")
	info, err := os.Lstat(filepath.Join(c.upper, "bin/sh"))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o700), info.Mode().Perm(), "a chmod copies the file up too")

	for i, l := range layers {
		assert.Equal(t, snaps[i], snapshot(t, l), "layer %s must not change", l)
	}

	require.NoError(t, overlay.Unmount(c.merged))
	assert.Empty(t, labtest.MountsUnder(t, c.merged), "no overlay may be left after Unmount")
	assert.FileExists(t, filepath.Join(c.upper, "new.txt"), "the upper dir keeps the changes after unmount")
}

func TestDeletingALowerFileMakesAWhiteout(t *testing.T) {
	labtest.RequireRoot(t)
	dir := labtest.TempDir(t)
	layers := imageLayers(t, dir)
	c := mountContainer(t, dir, layers)

	require.NoError(t, os.Remove(filepath.Join(c.merged, "etc/passwd")))

	assert.NoFileExists(t, filepath.Join(c.merged, "etc/passwd"), "a deleted file must vanish from the merged view")
	info, err := os.Lstat(filepath.Join(c.upper, "etc/passwd"))
	require.NoError(t, err, "the deletion must be recorded in the upper dir")
	assert.True(t, overlay.IsWhiteout(info), "the record must be a character device 0/0, got %v", info.Mode())
	assert.FileExists(t, filepath.Join(layers[0], "etc/passwd"), "the layer keeps its file")
}

func TestRecreatedDirectoryIsOpaque(t *testing.T) {
	labtest.RequireRoot(t)
	dir := labtest.TempDir(t)
	c := mountContainer(t, dir, imageLayers(t, dir))

	require.NoError(t, os.RemoveAll(filepath.Join(c.merged, "data")))
	require.NoError(t, os.Mkdir(filepath.Join(c.merged, "data"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(c.merged, "data/c"), []byte("c"), 0o644))

	opaque, err := overlay.IsOpaque(filepath.Join(c.upper, "data"))
	require.NoError(t, err)
	assert.True(t, opaque, "a directory made where a lower one was deleted must be marked opaque")
	entries, err := os.ReadDir(filepath.Join(c.merged, "data"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "the lower directory's entries must not show through")
	assert.Equal(t, "c", entries[0].Name())
}

func TestTwoContainersOnTheSameLayersAreIsolated(t *testing.T) {
	labtest.RequireRoot(t)
	dir := labtest.TempDir(t)
	layers := imageLayers(t, dir)
	a := mountContainer(t, filepath.Join(dir, "a"), layers)
	b := mountContainer(t, filepath.Join(dir, "b"), layers)

	require.NoError(t, os.WriteFile(filepath.Join(a.merged, "only-in-a"), []byte("a"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(a.merged, "etc/hosts")))
	require.NoError(t, os.WriteFile(filepath.Join(b.merged, "opt/tool"), []byte("b's tool"), 0o644))

	assert.NoFileExists(t, filepath.Join(b.merged, "only-in-a"))
	hosts, err := os.ReadFile(filepath.Join(b.merged, "etc/hosts"))
	require.NoError(t, err, "b must still see the file a deleted")
	assert.Equal(t, "127.0.0.1 layer2\n", string(hosts))
	tool, err := os.ReadFile(filepath.Join(a.merged, "opt/tool"))
	require.NoError(t, err)
	assert.Equal(t, "tool", string(tool), "a must not see b's write")

	diffA, err := overlay.Diff(layers, a.upper)
	require.NoError(t, err)
	diffB, err := overlay.Diff(layers, b.upper)
	require.NoError(t, err)
	assert.Equal(t, []string{"C /etc", "D /etc/hosts", "A /only-in-a"}, lines(diffA))
	assert.Equal(t, []string{"C /opt", "C /opt/tool"}, lines(diffB))
}

func lines(changes []overlay.Change) []string {
	var out []string
	for _, c := range changes {
		out = append(out, c.String())
	}
	return out
}

func TestDiffListsExactlyTheChanges(t *testing.T) {
	labtest.RequireRoot(t)
	dir := labtest.TempDir(t)
	layers := imageLayers(t, dir)
	c := mountContainer(t, dir, layers)
	m := func(p string) string { return filepath.Join(c.merged, p) }

	require.NoError(t, os.WriteFile(m("new.txt"), []byte("new"), 0o644))
	f, err := os.OpenFile(m("etc/hosts"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("10.0.0.1 db\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.Remove(m("etc/passwd")))
	require.NoError(t, os.MkdirAll(m("newdir"), 0o755))
	require.NoError(t, os.WriteFile(m("newdir/f"), nil, 0o644))
	require.NoError(t, os.RemoveAll(m("data")))
	require.NoError(t, os.Mkdir(m("data"), 0o755))
	require.NoError(t, os.WriteFile(m("data/a"), []byte("a new a"), 0o644))
	require.NoError(t, os.RemoveAll(m("old")))
	require.NoError(t, os.WriteFile(m("gone"), []byte("back"), 0o644))
	require.NoError(t, os.Chmod(m("usr/share/doc/readme"), 0o600))
	require.NoError(t, os.Rename(m("opt/tool"), m("opt/tool2")))
	require.NoError(t, os.Remove(m("bin/sh")))
	require.NoError(t, os.Symlink("busybox", m("bin/sh")))
	require.NoError(t, overlay.Unmount(c.merged))

	changes, err := overlay.Diff(layers, c.upper)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"C /bin",
		"C /bin/sh",    // a file replaced by a symlink
		"C /data",      // deleted and made again: opaque
		"A /data/a",    // new inside the opaque directory, although layer 1 had a /data/a
		"C /etc",       // parent of changed entries
		"C /etc/hosts", // appended to
		"D /etc/passwd",
		"A /gone", // layer 2 had deleted it, so to the container it is new
		"A /new.txt",
		"A /newdir",
		"A /newdir/f",
		"D /old", // a whole directory deleted: one whiteout
		"C /opt",
		"D /opt/tool", // renamed: deleted under the old name ...
		"A /opt/tool2",
		"C /usr",
		"C /usr/share",
		"C /usr/share/doc",
		"C /usr/share/doc/readme", // chmod only
	}, lines(changes))
}

func TestHandMadeMarkersWorkLikeTheKernels(t *testing.T) {
	labtest.RequireRoot(t)
	dir := labtest.TempDir(t)
	lower, top := filepath.Join(dir, "lower"), filepath.Join(dir, "top")
	writeTree(t, lower, map[string]string{"etc/passwd": "root", "etc/group": "root", "data/old": "old"})
	// The top layer made by hand, as labs/image unpacks one: a whiteout made through an
	// open directory, and a directory marked opaque.
	writeTree(t, top, map[string]string{"etc/": "", "data/new": "new"})
	etc, err := os.Open(filepath.Join(top, "etc"))
	require.NoError(t, err)
	require.NoError(t, overlay.MakeWhiteoutAt(etc, "passwd"))
	require.NoError(t, etc.Close())
	require.NoError(t, overlay.MarkOpaque(filepath.Join(top, "data")))

	info, err := os.Lstat(filepath.Join(top, "etc/passwd"))
	require.NoError(t, err)
	assert.True(t, overlay.IsWhiteout(info))
	assert.Equal(t, fs.FileMode(0), info.Mode().Perm(), "a whiteout has no permissions: it is never opened")
	c := mountContainer(t, dir, []string{lower, top})
	assert.NoFileExists(t, filepath.Join(c.merged, "etc/passwd"))
	assert.FileExists(t, filepath.Join(c.merged, "etc/group"))
	entries, err := os.ReadDir(filepath.Join(c.merged, "data"))
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "new", entries[0].Name())

	// Diff reads a layer made by hand the same way: relative to the layer below it.
	changes, err := overlay.Diff([]string{lower}, top)
	require.NoError(t, err)
	assert.Equal(t, []string{"C /data", "A /data/new", "C /etc", "D /etc/passwd"}, lines(changes))
}

func TestMountExplainsItsErrors(t *testing.T) {
	labtest.RequireRoot(t)
	dir := labtest.TempDir(t)
	layers := imageLayers(t, dir)

	err := overlay.Mount(append(layers, filepath.Join(dir, "missing")), filepath.Join(dir, "u"), filepath.Join(dir, "w"), filepath.Join(dir, "m"))
	assert.ErrorContains(t, err, "missing", "a missing layer must be named")

	otherFS := filepath.Join(dir, "tmpfs")
	require.NoError(t, os.Mkdir(otherFS, 0o755))
	require.NoError(t, unix.Mount("tmpfs", otherFS, "tmpfs", 0, "size=1m"))
	err = overlay.Mount(layers, filepath.Join(dir, "u"), filepath.Join(otherFS, "work"), filepath.Join(dir, "m"))
	assert.ErrorContains(t, err, "another file system", "a work dir on another file system must be explained")
	assert.Empty(t, labtest.MountsUnder(t, filepath.Join(dir, "m")))
}

func BenchmarkDiff(b *testing.B) {
	labtest.RequireRoot(b)
	dir := labtest.TempDir(b)
	lower, upper := filepath.Join(dir, "lower"), filepath.Join(dir, "upper")
	files := map[string]string{}
	for d := range 50 {
		for f := range 100 {
			files[fmt.Sprintf("d%02d/f%03d", d, f)] = "lower"
		}
	}
	writeTree(b, lower, files)
	// The container changed half of the lower files, deleted a tenth, and added as many new ones.
	changed := map[string]string{}
	for d := range 50 {
		for f := range 50 {
			changed[fmt.Sprintf("d%02d/f%03d", d, f)] = "changed"
			changed[fmt.Sprintf("d%02d/new%03d", d, f)] = "new"
		}
	}
	writeTree(b, upper, changed)
	for d := range 50 {
		for f := 90; f < 100; f++ {
			require.NoError(b, overlay.MakeWhiteout(filepath.Join(upper, fmt.Sprintf("d%02d/f%03d", d, f))))
		}
	}
	for b.Loop() {
		changes, err := overlay.Diff([]string{lower}, upper)
		if err != nil || len(changes) != 50+50*110 {
			b.Fatalf("diff: %d changes, %v", len(changes), err)
		}
	}
}

// TestMountVolatileSkipsTheSync mounts a scratch overlay: the kernel shows the volatile
// option, marks the work directory, and the overlay works as any other.
func TestMountVolatileSkipsTheSync(t *testing.T) {
	labtest.RequireRoot(t)
	dir := labtest.TempDir(t)
	layers := imageLayers(t, dir)
	c := container{filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")}
	require.NoError(t, overlay.MountVolatile(layers, c.upper, c.work, c.merged))
	t.Cleanup(func() { _ = mount.UnmountAll(c.merged) })

	infos, err := mount.Under(c.merged)
	require.NoError(t, err)
	require.Len(t, infos, 1)
	opts := strings.Split(infos[0].SuperOptions, ",")
	// Kernels before 6.6 show "volatile", later ones "fsync=volatile".
	assert.True(t, slices.Contains(opts, "volatile") || slices.Contains(opts, "fsync=volatile"),
		"the kernel must show the volatile option: %s", infos[0].SuperOptions)
	assert.DirExists(t, filepath.Join(c.work, "work/incompat/volatile"), "the kernel marks a volatile overlay's work directory")
	require.NoError(t, os.WriteFile(filepath.Join(c.merged, "new.txt"), []byte("new"), 0o644))
	assert.FileExists(t, filepath.Join(c.upper, "new.txt"), "writes land in the upper directory as in any overlay")
	require.NoError(t, overlay.Unmount(c.merged))
	assert.Empty(t, labtest.MountsUnder(t, c.merged))
}

package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"containerlabs/labs/image"
	"containerlabs/labs/labtest"
	"containerlabs/labs/overlay"
	"containerlabs/labs/rootfs"
)

func TestImportThenRun(t *testing.T) {
	labtest.RequireRoot(t)
	dir := labtest.TempDir(t)
	s := openStore(t, filepath.Join(dir, "images"))
	digest := busyboxImage(t, s, "busybox", map[string]string{"etc/motd": "imported\n"})

	list, err := s.List()
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "busybox:latest", list[0].Ref, "a name without a tag means :latest")
	assert.Equal(t, digest, list[0].Digest)

	d, err := s.Inspect("busybox")
	require.NoError(t, err)
	require.Len(t, d.Layers, 1, "an import is one layer")
	proc, err := image.RunConfig(d.Config, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"/bin/sh"}, proc.Args)

	c := mountImage(t, s, "busybox", filepath.Join(dir, "c1"))
	assert.Equal(t, "imported\n", runIn(t, c.merged, "cat", "/etc/motd"))

	// The same tree imported again is the same layer, stored once.
	var tree bytes.Buffer
	require.NoError(t, image.ExportDir(&tree, d.Layers[0].Dir))
	_, err = s.ImportTar(&tree, "busybox-again", image.Meta{})
	require.NoError(t, err)
	again, err := s.Inspect("busybox-again")
	require.NoError(t, err)
	assert.Equal(t, d.Layers[0].DiffID, again.Layers[0].DiffID, "the same files must make the same diff ID")
	entries, err := os.ReadDir(filepath.Join(s.Root(), "layers"))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "a layer is unpacked once, whichever images share it")
}

func TestWhiteoutsInAnUpperLayerHideLowerFiles(t *testing.T) {
	labtest.RequireRoot(t)
	dir := labtest.TempDir(t)
	s := openStore(t, filepath.Join(dir, "images"))
	img := imageOf(t,
		layerOf(t, directory("etc/"), file("etc/keep", "kept"), file("etc/gone", "deleted above"),
			directory("d/"), file("d/a", "a"), file("d/b", "b")),
		layerOf(t, directory("etc/"), file("etc/.wh.gone", ""), directory("d/"), file("d/.wh..wh..opq", ""), file("d/c", "c")))
	_, err := s.Add(context.Background(), "two-layers", img, image.Options{})
	require.NoError(t, err)

	layers, err := s.Layers("two-layers")
	require.NoError(t, err)
	require.Len(t, layers, 2)
	info, err := os.Lstat(filepath.Join(layers[1], "etc/gone"))
	require.NoError(t, err, ".wh.gone must become an overlay whiteout")
	assert.True(t, overlay.IsWhiteout(info))
	opaque, err := overlay.IsOpaque(filepath.Join(layers[1], "d"))
	require.NoError(t, err)
	assert.True(t, opaque, ".wh..wh..opq must mark its directory opaque")
	assert.NoFileExists(t, filepath.Join(layers[1], "d/.wh..wh..opq"))

	c := mountImage(t, s, "two-layers", filepath.Join(dir, "c"))
	assert.NoFileExists(t, filepath.Join(c.merged, "etc/gone"), "the deletion in the upper layer must hide the file")
	assert.FileExists(t, filepath.Join(c.merged, "etc/keep"))
	assert.Equal(t, []string{"c"}, listTree(t, filepath.Join(c.merged, "d")), "an opaque directory hides the lower one's entries")

	// The image flattened by export is what the container sees.
	var exported, merged bytes.Buffer
	require.NoError(t, s.ExportImage(&exported, "two-layers"))
	require.NoError(t, image.ExportDir(&merged, c.merged))
	assert.Equal(t, tarEntries(t, &merged), tarEntries(t, &exported))
}

// lyingLayer is a layer whose manifest or config entry does not match its bytes.
type lyingLayer struct {
	v1.Layer
	digest, diffID *v1.Hash
	truncate       bool
}

func (l lyingLayer) Digest() (v1.Hash, error) {
	if l.digest != nil {
		return *l.digest, nil
	}
	return l.Layer.Digest()
}

func (l lyingLayer) DiffID() (v1.Hash, error) {
	if l.diffID != nil {
		return *l.diffID, nil
	}
	return l.Layer.DiffID()
}

func (l lyingLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil || !l.truncate {
		return rc, err
	}
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(data[:len(data)/2])), nil
}

func TestUnpackKeepsOwnersModesAndDevices(t *testing.T) {
	labtest.RequireRoot(t)
	s := openStore(t, filepath.Join(labtest.TempDir(t), "images"))
	su := file("bin/su", "#!")
	su.mode = 0o4755
	null := entry{name: "dev/null", typ: tar.TypeChar, mode: 0o666}
	img := imageOf(t, layerOf(t, directory("bin/"), su, directory("dev/"), null, symlink("bin/sh", "/bin/busybox")))
	_, err := s.Add(context.Background(), "meta", img, image.Options{})
	require.NoError(t, err)
	layers, err := s.Layers("meta")
	require.NoError(t, err)

	info, err := os.Lstat(filepath.Join(layers[0], "bin/su"))
	require.NoError(t, err)
	assert.Equal(t, os.ModeSetuid|0o755, info.Mode()&(os.ModeSetuid|os.ModePerm), "the setuid bit must be kept")
	assert.Equal(t, uint32(1000), info.Sys().(*syscall.Stat_t).Uid, "the owner must be kept")
	info, err = os.Lstat(filepath.Join(layers[0], "dev/null"))
	require.NoError(t, err)
	assert.Equal(t, os.ModeDevice|os.ModeCharDevice, info.Mode().Type())
	assert.Equal(t, uint64(unix.Mkdev(1, 3)), info.Sys().(*syscall.Stat_t).Rdev, "device numbers must be kept")
	link, err := os.Readlink(filepath.Join(layers[0], "bin/sh"))
	require.NoError(t, err)
	assert.Equal(t, "/bin/busybox", link, "a symlink is written as it is, never followed")
}

func TestHostileLayersAreRefusedAndLeaveNothing(t *testing.T) {
	labtest.RequireRoot(t)
	wrong := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	for _, tc := range []struct {
		name  string
		layer func(outside string) v1.Layer
		want  error
	}{
		{"path traversal", func(string) v1.Layer {
			return layerOf(t, file("ok", "x"), file("../../../outside/secret", "pwned"))
		}, rootfs.ErrUnsafeEntry},
		{"write through an absolute symlink", func(string) v1.Layer {
			return layerOf(t, file("ok", "x"), symlink("link", "/"), file("link/tmp/pwned", "pwned"))
		}, rootfs.ErrUnsafeEntry},
		{"write through an escaping relative symlink", func(string) v1.Layer {
			return layerOf(t, file("ok", "x"), symlink("link", "../../../outside"), file("link/secret", "pwned"))
		}, rootfs.ErrUnsafeEntry},
		{"hardlink escaping the layer", func(string) v1.Layer {
			return layerOf(t, file("ok", "x"), hardlink("hl", "../../../outside/secret"))
		}, rootfs.ErrUnsafeEntry},
		{"whiteout through a symlink", func(outside string) v1.Layer {
			return layerOf(t, file("ok", "x"), symlink("link", outside), file("link/.wh.secret", ""))
		}, rootfs.ErrUnsafeEntry},
		{"opaque marker through a symlink", func(outside string) v1.Layer {
			return layerOf(t, file("ok", "x"), symlink("link", outside), file("link/.wh..wh..opq", ""))
		}, rootfs.ErrUnsafeEntry},
		{"whiteout of ..", func(string) v1.Layer {
			return layerOf(t, file("ok", "x"), file("d/.wh...", ""))
		}, rootfs.ErrUnsafeEntry},
		{"blob digest mismatch", func(string) v1.Layer {
			return lyingLayer{Layer: layerOf(t, file("ok", "x")), digest: &wrong}
		}, image.ErrDigestMismatch},
		{"diff ID mismatch", func(string) v1.Layer {
			return lyingLayer{Layer: layerOf(t, file("ok", "x")), diffID: &wrong}
		}, image.ErrDigestMismatch},
		{"truncated blob", func(string) v1.Layer {
			return lyingLayer{Layer: layerOf(t, file("ok", strings.Repeat("x", 10000))), truncate: true}
		}, image.ErrDigestMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := labtest.TempDir(t)
			outside := filepath.Join(base, "outside")
			require.NoError(t, os.MkdirAll(outside, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("original"), 0o644))
			s := openStore(t, filepath.Join(base, "store"))
			good := layerOf(t, file("base", "a good layer"))
			_, err := s.Add(context.Background(), "hostile", imageOf(t, good, tc.layer(outside)), image.Options{})

			require.ErrorIs(t, err, tc.want)
			secret, err := os.ReadFile(filepath.Join(outside, "secret"))
			require.NoError(t, err)
			assert.Equal(t, "original", string(secret), "a file outside the store changed")
			assert.Equal(t, []string{"secret"}, listTree(t, outside), "something was written outside the store")
			assert.NoFileExists(t, "/tmp/pwned")
			assert.Empty(t, listTree(t, filepath.Join(s.Root(), "tmp")), "a half-unpacked layer was left in tmp/")
			list, err := s.List()
			require.NoError(t, err)
			assert.Empty(t, list, "a refused image must not be named")
			// The good layer may have been stored before the bad one failed; a GC takes
			// it, and then nothing of the image is left.
			_, err = s.GC()
			require.NoError(t, err)
			assert.Empty(t, listTree(t, filepath.Join(s.Root(), "layers")))
			assert.Empty(t, listTree(t, filepath.Join(s.Root(), "blobs", "sha256")))
		})
	}
}

func TestLoadRefusesHostileArchives(t *testing.T) {
	labtest.RequireRoot(t)
	base := labtest.TempDir(t)
	s := openStore(t, filepath.Join(base, "store"))
	layer := tarOf(t, file("ok", "x"))
	layerDigest, _, err := v1.SHA256(bytes.NewReader(layer))
	require.NoError(t, err)
	index := fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"digest":"%s","size":10,"annotations":{"org.opencontainers.image.ref.name":"evil:1"}}]}`, layerDigest)
	for _, tc := range []struct {
		name, archive, why string
	}{
		{"an entry climbing out of the archive", string(tarOf(t, file("oci-layout", "{}"), file("index.json", "{}"), file("../escaped", "x"))),
			"climbs out"},
		{"a blob that is a symlink to a host file", string(tarOf(t, file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`),
			file("index.json", index), symlink("blobs/sha256/"+layerDigest.Hex, "/etc/passwd"))),
			"not a regular file"},
		{"neither format", string(tarOf(t, file("hello", "x"))), "not an image archive"},
		{"a layer climbing out of the store", ociArchive(t, "evil:2", imageOf(t, layerOf(t, file("../../../../escaped", "x")))),
			"climbs out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Load(strings.NewReader(tc.archive))
			assert.ErrorContains(t, err, tc.why)
			assert.NoFileExists(t, filepath.Join(base, "escaped"))
			assert.Empty(t, listTree(t, filepath.Join(s.Root(), "tmp")))
			list, err := s.List()
			require.NoError(t, err)
			assert.Empty(t, list)
		})
	}
}

// ociArchive writes img as an OCI layout tarball with go-containerregistry's layout writer.
func ociArchive(t *testing.T, ref string, img v1.Image) string {
	t.Helper()
	dir := filepath.Join(labtest.TempDir(t), "layout")
	p, err := layout.Write(dir, empty.Index)
	require.NoError(t, err)
	require.NoError(t, p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})))
	var archive bytes.Buffer
	require.NoError(t, image.ExportDir(&archive, dir))
	return archive.String()
}

func TestCommitMakesALayerOfExactlyTheChanges(t *testing.T) {
	labtest.RequireRoot(t)
	dir := labtest.TempDir(t)
	s := openStore(t, filepath.Join(dir, "images"))
	busyboxImage(t, s, "base", map[string]string{"changed.txt": "before\n", "deleted.txt": "doomed\n", "data/old": "old\n"})
	c := mountImage(t, s, "base", filepath.Join(dir, "c"))
	runIn(t, c.merged, "sh", "-c", "echo new > /new.txt && echo after > /changed.txt && rm /deleted.txt && rm -rf /data && mkdir /data && echo fresh > /data/fresh")
	require.NoError(t, overlay.Unmount(c.merged))

	digest, err := s.Commit("base", c.upper, "committed:1", image.Meta{Author: "lab", Comment: "three changes"})
	require.NoError(t, err)
	d, err := s.Inspect("committed:1")
	require.NoError(t, err)
	assert.Equal(t, digest, d.Digest)
	require.Len(t, d.Layers, 2, "a commit adds one layer on top of its base")
	last := d.Config.History[len(d.Config.History)-1]
	assert.Equal(t, "three changes", last.Comment)
	assert.Equal(t, "lab", last.Author)

	blob, err := os.Open(filepath.Join(s.Root(), "blobs", "sha256", d.Layers[1].Digest.Hex))
	require.NoError(t, err)
	defer blob.Close()
	assert.Equal(t, []string{
		".wh.deleted.txt=", // the whiteout became an OCI whiteout
		"changed.txt=after\n",
		"data/",
		"data/.wh..wh..opq=", // the opaque directory too
		"data/fresh=fresh\n",
		"new.txt=new\n",
	}, tarEntries(t, blob), "the new layer must hold exactly the container's changes")

	run := mountImage(t, s, "committed:1", filepath.Join(dir, "run"))
	assert.Equal(t, "after\nnew\n", runIn(t, run.merged, "cat", "/changed.txt", "/new.txt"))
	assert.NoFileExists(t, filepath.Join(run.merged, "deleted.txt"))
	assert.Equal(t, []string{"fresh"}, listTree(t, filepath.Join(run.merged, "data")))
}

func TestSaveAndLoadRoundTrip(t *testing.T) {
	labtest.RequireRoot(t)
	dir := labtest.TempDir(t)
	src := openStore(t, filepath.Join(dir, "src"))
	busyboxImage(t, src, "lab/base", nil)
	c := mountImage(t, src, "lab/base", filepath.Join(dir, "c"))
	require.NoError(t, os.WriteFile(filepath.Join(c.merged, "added"), []byte("x"), 0o644))
	_, err := src.Commit("lab/base", c.upper, "lab/app:1", image.Meta{})
	require.NoError(t, err)
	want, err := src.Inspect("lab/app:1")
	require.NoError(t, err)

	for _, format := range []image.Format{image.DockerArchive, image.OCIArchive} {
		t.Run(format.String(), func(t *testing.T) {
			var archive bytes.Buffer
			require.NoError(t, src.Save(&archive, []string{"lab/app:1", "lab/base"}, format))
			checkArchiveFormat(t, archive.Bytes(), format, want)

			dst := openStore(t, filepath.Join(labtest.TempDir(t), "dst"))
			loaded, err := dst.Load(bytes.NewReader(archive.Bytes()))
			require.NoError(t, err)
			assert.ElementsMatch(t, []string{"lab/app:1", "lab/base:latest"}, loaded)
			got, err := dst.Inspect("lab/app:1")
			require.NoError(t, err)
			assert.Equal(t, want.Digest, got.Digest, "the manifest digest must survive the round trip")
			assert.Equal(t, want.ID, got.ID, "the image ID (config digest) must survive the round trip")
			for i := range want.Layers {
				assert.Equal(t, want.Layers[i].Digest, got.Layers[i].Digest)
				assert.Equal(t, want.Layers[i].DiffID, got.Layers[i].DiffID)
				assert.DirExists(t, got.Layers[i].Dir, "load unpacks the layers")
			}
		})
	}
}

// checkArchiveFormat reads the archive with go-containerregistry's own readers, as other
// tools would, and checks that it holds the image want describes.
func checkArchiveFormat(t *testing.T, archive []byte, format image.Format, want *image.Details) {
	t.Helper()
	var img v1.Image
	switch format {
	case image.DockerArchive:
		tag, err := name.NewTag(want.Ref)
		require.NoError(t, err)
		img, err = tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(archive)), nil }, &tag)
		require.NoError(t, err)
	case image.OCIArchive:
		unpacked := filepath.Join(labtest.TempDir(t), "layout")
		require.NoError(t, os.Mkdir(unpacked, 0o755))
		require.NoError(t, rootfs.ExtractTar(bytes.NewReader(archive), unpacked))
		ii, err := layout.ImageIndexFromPath(unpacked)
		require.NoError(t, err)
		img, err = ii.Image(want.Digest)
		require.NoError(t, err)
	}
	id, err := img.ConfigName()
	require.NoError(t, err)
	assert.Equal(t, want.ID, id)
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, len(want.Layers))
	for i, l := range layers {
		blob, err := l.Compressed()
		require.NoError(t, err)
		digest, _, err := v1.SHA256(blob)
		require.NoError(t, err)
		assert.Equal(t, want.Layers[i].Digest, digest, "layer %d of the %s", i, format)
	}
}

func TestRetagReplacesAndRemoveCollectsGarbage(t *testing.T) {
	labtest.RequireRoot(t)
	dir := labtest.TempDir(t)
	s := openStore(t, filepath.Join(dir, "images"))
	baseLayer := layerOf(t, file("base", "shared"))
	_, err := s.Add(context.Background(), "base", imageOf(t, baseLayer), image.Options{})
	require.NoError(t, err)
	appDigest, err := s.Add(context.Background(), "app", imageOf(t, baseLayer, layerOf(t, file("app", "own"))), image.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Tag("app", "app:v1"))
	require.NoError(t, s.Tag("base", "app:v1"), "a tag moves to the new image")
	list, err := s.List()
	require.NoError(t, err)
	var refs []string
	for _, l := range list {
		refs = append(refs, l.Ref)
	}
	assert.Equal(t, []string{"app:latest", "app:v1", "base:latest"}, refs, "one entry per name")

	removed, err := s.Remove("base")
	require.NoError(t, err)
	assert.Empty(t, removed.Blobs, "app:v1 still names the base image")

	removed, err = s.Remove("app")
	require.NoError(t, err)
	assert.Len(t, removed.Blobs, 3, "app's manifest, config and own layer go")
	assert.Len(t, removed.Layers, 1, "app's own unpacked layer goes")
	assert.Contains(t, removed.Blobs, appDigest)
	layers, err := s.Layers("app:v1")
	require.NoError(t, err, "the shared base stays usable")
	assert.DirExists(t, layers[0])

	_, err = s.Remove("app:v1")
	require.NoError(t, err)
	assert.Empty(t, listTree(t, filepath.Join(s.Root(), "blobs", "sha256")), "no blob may outlive every image")
	assert.Empty(t, listTree(t, filepath.Join(s.Root(), "layers")))
	_, err = s.Remove("app:v1")
	assert.ErrorIs(t, err, image.ErrNotFound)
}

func TestConcurrentUnpacksOfOneLayerDoNotCollide(t *testing.T) {
	labtest.RequireRoot(t)
	dir := labtest.TempDir(t)
	s := openStore(t, filepath.Join(dir, "images"))
	var entries []entry
	for i := range 500 {
		entries = append(entries, file(fmt.Sprintf("f%03d", i), "x"))
	}
	_, err := s.Add(context.Background(), "img", imageOf(t, layerOf(t, entries...)), image.Options{})
	require.NoError(t, err)
	d, err := s.Inspect("img")
	require.NoError(t, err)
	// Lose the unpacked layer (as if it was never unpacked), then ask for it from many sides.
	require.NoError(t, os.RemoveAll(d.Layers[0].Dir))

	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = s.Layers("img") })
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
	assert.Len(t, listTree(t, d.Layers[0].Dir), 500)
	assert.Empty(t, listTree(t, filepath.Join(s.Root(), "tmp")), "the losing unpacks must clean up")
}

// BenchmarkUnpack adds an image of one layer of 20,000 small files to a fresh store: the
// blob is read once, hashed, decompressed, hashed again and unpacked. It runs on the test
// directory's file system and on a tmpfs, which separates the file system's cost of
// creating files from the store's own.
func TestGCNeverTakesWhatAnAddIsWriting(t *testing.T) {
	labtest.RequireRoot(t)
	s := openStore(t, filepath.Join(labtest.TempDir(t), "images"))
	var images []v1.Image
	for i := range 10 {
		var entries []entry
		for f := range 50 {
			entries = append(entries, file(fmt.Sprintf("f%d-%d", i, f), fmt.Sprint(i)))
		}
		images = append(images, imageOf(t, layerOf(t, entries...), layerOf(t, file("top", fmt.Sprint(i)))))
	}
	done := make(chan struct{})
	var collections int
	go func() {
		defer close(done)
		for i, img := range images {
			_, err := s.Add(context.Background(), fmt.Sprintf("img:%d", i), img, image.Options{})
			assert.NoError(t, err)
		}
	}()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			_, err := s.GC()
			require.NoError(t, err)
			collections++
		}
	}
	t.Logf("%d collections ran during the adds", collections)
	for i := range images {
		layers, err := s.Layers(fmt.Sprintf("img:%d", i))
		require.NoError(t, err)
		assert.Len(t, listTree(t, layers[0]), 50, "a collection removed part of an image being added")
		d, err := s.Inspect(fmt.Sprintf("img:%d", i))
		require.NoError(t, err)
		for _, l := range d.Layers {
			assert.FileExists(t, filepath.Join(s.Root(), "blobs", "sha256", l.Digest.Hex))
		}
	}
}

func BenchmarkUnpack(b *testing.B) {
	labtest.RequireRoot(b)
	var entries []entry
	for d := range 200 {
		entries = append(entries, directory(fmt.Sprintf("d%03d/", d)))
		for f := range 100 {
			entries = append(entries, file(fmt.Sprintf("d%03d/f%03d", d, f), strings.Repeat("x", 100+f)))
		}
	}
	img := imageOf(b, layerOf(b, entries...))
	// Compute the digests once, outside the measurement.
	_, err := img.Manifest()
	require.NoError(b, err)
	disk := labtest.TempDir(b)
	memory := filepath.Join(disk, "tmpfs")
	require.NoError(b, os.Mkdir(memory, 0o755))
	require.NoError(b, unix.Mount("tmpfs", memory, "tmpfs", 0, "size=512m"))
	for _, fs := range []struct{ name, dir string }{{"disk", disk}, {"tmpfs", memory}} {
		b.Run(fs.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				s := openStore(b, filepath.Join(fs.dir, fmt.Sprint(i)))
				if _, err := s.Add(context.Background(), "bench", img, image.Options{}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				require.NoError(b, os.RemoveAll(s.Root()))
				i++
				b.StartTimer()
			}
			b.ReportMetric(float64(len(entries))*float64(b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}

func TestAMovedNameLeavesADanglingImageUntilPruned(t *testing.T) {
	labtest.RequireRoot(t)
	dir := labtest.TempDir(t)
	s := openStore(t, filepath.Join(dir, "images"))
	first := imageOf(t, layerOf(t, file("v", "1")))
	second := imageOf(t, layerOf(t, file("v", "2")))
	_, err := s.Add(context.Background(), "app", first, image.Options{})
	require.NoError(t, err)
	firstID, err := first.ConfigName()
	require.NoError(t, err)
	_, err = s.Add(context.Background(), "app", second, image.Options{})
	require.NoError(t, err)
	list, err := s.List()
	require.NoError(t, err)
	require.Len(t, list, 2, "the image app named before stays, without a name")
	assert.Equal(t, "", list[0].Ref)
	assert.Equal(t, firstID, list[0].ID)
	assert.Equal(t, "app:latest", list[1].Ref)
	_, err = s.GC()
	require.NoError(t, err)
	firstLayers, err := first.Layers()
	require.NoError(t, err)
	diffID, err := firstLayers[0].DiffID()
	require.NoError(t, err)
	assert.DirExists(t, s.LayerDir(diffID), "garbage collection keeps a dangling image: a container may run on it")

	require.NoError(t, s.Tag("app", "other"))
	_, err = s.Add(context.Background(), "app", first, image.Options{})
	require.NoError(t, err)
	list, err = s.List()
	require.NoError(t, err)
	assert.Len(t, list, 2, "naming a dangling image again leaves no unnamed copy; 'other' keeps the second")

	_, err = s.Add(context.Background(), "app", second, image.Options{})
	require.NoError(t, err)
	ids, _, err := s.PruneDangling(func(id v1.Hash) bool { return id == firstID })
	require.NoError(t, err)
	assert.Empty(t, ids, "a dangling image in use stays")
	ids, removed, err := s.PruneDangling(func(v1.Hash) bool { return false })
	require.NoError(t, err)
	assert.Equal(t, []v1.Hash{firstID}, ids)
	assert.Len(t, removed.Layers, 1, "its own layer goes with it")
	assert.NoDirExists(t, s.LayerDir(diffID))
	list, err = s.List()
	require.NoError(t, err)
	assert.Len(t, list, 2, "app and other, both the second image")
}

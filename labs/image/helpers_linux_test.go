package image_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/image"
	"containerlabs/labs/labtest"
	"containerlabs/labs/mount"
	"containerlabs/labs/overlay"
)

// entry is one tar entry of a test layer.
type entry struct {
	name, link, body string
	typ              byte
	mode             int64
}

// Owner and device numbers of every test entry: a non-root owner shows that ownership is
// kept, and every device node is 1,3 (/dev/null).
const (
	testUID, testGID   = 1000, 1000
	devMajor, devMinor = 1, 3
)

func file(name, body string) entry {
	return entry{name: name, body: body, typ: tar.TypeReg, mode: 0o644}
}
func directory(name string) entry { return entry{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, to string) entry {
	return entry{name: name, link: to, typ: tar.TypeSymlink, mode: 0o777}
}
func hardlink(name, to string) entry { return entry{name: name, link: to, typ: tar.TypeLink} }

func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode,
			Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0), Uid: testUID, Gid: testGID}
		if e.typ == tar.TypeChar {
			hdr.Devmajor, hdr.Devminor = devMajor, devMinor
		}
		require.NoError(t, tw.WriteHeader(hdr))
		_, err := tw.Write([]byte(e.body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// layerOf makes a gzip-compressed layer of the entries. It is compressed here, once, so
// that reading the layer costs no more than reading a downloaded blob.
func layerOf(t testing.TB, entries ...entry) v1.Layer {
	t.Helper()
	var blob bytes.Buffer
	gz := gzip.NewWriter(&blob)
	_, err := gz.Write(tarOf(t, entries...))
	require.NoError(t, err)
	require.NoError(t, gz.Close())
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob.Bytes())), nil })
	require.NoError(t, err)
	return l
}

// imageOf makes an in-memory image of the layers, lowest first, that runs /bin/sh.
func imageOf(t testing.TB, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	require.NoError(t, err)
	img, err = mutate.Config(img, v1.Config{Cmd: []string{"/bin/sh"}})
	require.NoError(t, err)
	return img
}

func openStore(t testing.TB, dir string) *image.Store {
	t.Helper()
	s, err := image.Open(dir)
	require.NoError(t, err)
	return s
}

// busyboxImage imports a busybox root, plus the extra files, as the image ref.
func busyboxImage(t *testing.T, s *image.Store, ref string, extra map[string]string) v1.Hash {
	t.Helper()
	root := labtest.BusyboxRoot(t)
	for name, content := range extra {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, name), []byte(content), 0o644))
	}
	digest, err := s.ImportDir(root, ref, image.Meta{Config: &v1.Config{Cmd: []string{"/bin/sh"}}})
	require.NoError(t, err)
	return digest
}

// container is an overlay of an image's layers, as lab 05 mounts one.
type container struct {
	layers              []string
	upper, work, merged string
}

func mountImage(t *testing.T, s *image.Store, ref, dir string) container {
	t.Helper()
	layers, err := s.Layers(ref)
	require.NoError(t, err)
	c := container{layers, filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")}
	require.NoError(t, overlay.Mount(layers, c.upper, c.work, c.merged))
	t.Cleanup(func() { _ = mount.UnmountAll(c.merged) })
	return c
}

// runIn runs busybox's applet with args chrooted into root and returns its output.
func runIn(t *testing.T, root string, args ...string) string {
	t.Helper()
	cmd := exec.Command("/bin/busybox", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "run %v in %s: %s", args, root, out)
	return string(out)
}

// tarEntries lists the entries of a (possibly gzip-compressed) tar with their contents:
// "dir/" for directories, "name" for links, "name=content" for files.
func tarEntries(t testing.TB, r io.Reader) []string {
	t.Helper()
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	var stream io.Reader = bytes.NewReader(data)
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		gz, err := gzip.NewReader(bytes.NewReader(data))
		require.NoError(t, err)
		stream = gz
	}
	var names []string
	tr := tar.NewReader(stream)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		name := path.Clean(hdr.Name)
		if hdr.Typeflag == tar.TypeDir {
			name += "/"
		}
		if hdr.Typeflag == tar.TypeReg {
			body, err := io.ReadAll(tr)
			require.NoError(t, err)
			name += "=" + string(body)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// listTree lists every path under dir, relative to it.
func listTree(t testing.TB, dir string) []string {
	t.Helper()
	var names []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return err
	}))
	sort.Strings(names)
	return names
}

package main_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
	"containerlabs/labs/state"
)

const lab = "07-images"

// The checks use a network of their own, so a learner's labs0 is never touched.
var netArgs = []string{"--bridge", "cltest07", "--subnet", "10.199.7.0/24"}

const base = "containerlabs/busybox:latest"

// setup gives a check a state root of its own (the "state" folder of a scratch directory)
// with the busybox base image imported, and returns the scratch directory.
func setup(t *testing.T, bin *labtest.Binary) string {
	sandbox := labtest.TempDir(t)
	root := filepath.Join(sandbox, "state")
	require.NoError(t, os.Mkdir(root, 0o755))
	t.Setenv(state.EnvRoot, root)
	t.Cleanup(func() { bin.Run(t, append([]string{"cleanup"}, netArgs...)...) })
	res := bin.Run(t, "import", "--cmd", "sh", labtest.BusyboxRoot(t), base)
	require.Equal(t, 0, res.Code, labtest.Hint("`07-images import DIR REF` makes a one-layer image from a folder").With(res))
	return sandbox
}

func run(t *testing.T, bin *labtest.Binary, name, ref string, command ...string) labtest.Result {
	args := append(append([]string{"run", "--name", name}, netArgs...), ref)
	return bin.Run(t, append(args, command...)...)
}

// details is the part of `07-images inspect` the checks read.
type details struct {
	Digest string
	Layers []struct {
		Digest, DiffID, Dir string
	}
}

func inspect(t *testing.T, bin *labtest.Binary, ref string) details {
	res := bin.Run(t, "inspect", ref)
	require.Equal(t, 0, res.Code, labtest.Hint("`07-images inspect REF` prints the image's details as JSON").With(res))
	var d details
	require.NoError(t, json.Unmarshal([]byte(res.Stdout), &d), labtest.Hint("inspect prints JSON with Digest and Layers").With(res))
	return d
}

// tree lists the paths under dir, relative and sorted.
func tree(t *testing.T, dir string) []string {
	var paths []string
	require.NoError(t, filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			paths = append(paths, rel)
		}
		return err
	}))
	sort.Strings(paths)
	return paths
}

// outsideState lists what the scratch directory holds besides the state root.
func outsideState(t *testing.T, sandbox string) []string {
	var outside []string
	for _, p := range tree(t, sandbox) {
		if p != "state" && !strings.HasPrefix(p, "state/") {
			outside = append(outside, p)
		}
	}
	return outside
}

// layerTar makes a layer tarball from entries; a directory ends in "/", a symlink is
// "name -> target", a hardlink "name => target".
func layerTar(t *testing.T, entries ...string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e, Mode: 0o644, Typeflag: tar.TypeReg}
		switch {
		case strings.Contains(e, " -> "):
			name, target, _ := strings.Cut(e, " -> ")
			hdr = &tar.Header{Name: name, Linkname: target, Mode: 0o777, Typeflag: tar.TypeSymlink}
		case strings.Contains(e, " => "):
			name, target, _ := strings.Cut(e, " => ")
			hdr = &tar.Header{Name: name, Linkname: target, Typeflag: tar.TypeLink}
		case strings.HasSuffix(e, "/"):
			hdr = &tar.Header{Name: e, Mode: 0o755, Typeflag: tar.TypeDir}
		default:
			hdr.Size = 2
		}
		require.NoError(t, tw.WriteHeader(hdr))
		if hdr.Size > 0 {
			_, err := tw.Write([]byte("x\n"))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// archive writes a docker-archive of an image made of the given layer tarballs.
func archive(t *testing.T, dir, ref string, layers ...[]byte) string {
	img := empty.Image
	for _, l := range layers {
		// LayerFromReader would spool the bytes into a temp file it never removes.
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(l)), nil })
		require.NoError(t, err)
		img, err = mutate.AppendLayers(img, layer)
		require.NoError(t, err)
	}
	tag, err := name.NewTag(ref)
	require.NoError(t, err)
	path := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(ref)+".tar")
	require.NoError(t, tarball.WriteToFile(path, tag, img))
	return path
}

// TestLab07 holds the graded checks of lab 07. Each subtest is one check.
func TestLab07(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("an imported image runs", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		setup(t, bin)
		res := run(t, bin, "first", base, "sh", "-c", "echo hello from the image; ls /bin/busybox")
		assert.Equal(t, 0, res.Code, labtest.Hint("run REF mounts the image's layers as lowerdirs").With(res))
		assert.Equal(t, "hello from the image\n/bin/busybox\n", res.Stdout)
		res = run(t, bin, "default", base)
		assert.Equal(t, 0, res.Code, labtest.Hint("without a command, run the image's Cmd (here sh, which exits at the end of its empty stdin)").With(res))
	})

	t.Run("the image's config is applied: Env, WorkingDir and User", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		setup(t, bin)
		dir := labtest.TempDir(t)
		// An image with a user and a directory of its own, committed from the base, then
		// given a config of its own through a save and load.
		res := run(t, bin, "config", base, "sh", "-c", "echo app:x:1234:1234::/home/app:/bin/sh >> /etc/passwd && mkdir -p /srv/app")
		require.Equal(t, 0, res.Code, res)
		require.Equal(t, 0, bin.Run(t, "commit", "config", "app:v1").Code)
		saved := filepath.Join(dir, "app.tar")
		require.Equal(t, 0, bin.Run(t, "save", "app:v1", "-o", saved).Code)
		configured := withConfig(t, saved, "app:v2", v1.Config{Env: []string{"GREETING=hi", "PATH=/bin:/usr/bin"}, WorkingDir: "/srv/app", User: "app", Cmd: []string{"sh", "-c", "echo $GREETING; pwd; id -u"}})
		res = bin.Run(t, "load", "-i", configured)
		require.Equal(t, 0, res.Code, labtest.Hint("`07-images load -i FILE` reads a docker-archive").With(res))
		res = run(t, bin, "configured", "app:v2")
		assert.Equal(t, "hi\n/srv/app\n1234\n", res.Stdout, labtest.Hint("apply the image's Env, WorkingDir and User (looked up in the image's /etc/passwd)").With(res))
	})

	t.Run("commit makes the container's change a new layer, and only that", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		setup(t, bin)
		res := run(t, bin, "changer", base, "sh", "-c", "echo committed > /greeting")
		require.Equal(t, 0, res.Code, res)
		res = bin.Run(t, "commit", "changer", "greeting:v1")
		require.Equal(t, 0, res.Code, labtest.Hint("`07-images commit CONTAINER REF` turns the upper dir into a layer").With(res))
		res = run(t, bin, "reader", "greeting:v1", "cat", "/greeting")
		assert.Equal(t, "committed\n", res.Stdout, labtest.Hint("a container of the new image sees the change").With(res))
		d := inspect(t, bin, "greeting:v1")
		require.Len(t, d.Layers, 2, labtest.Hint("commit adds one layer on top of the image's"))
		assert.Equal(t, []string{"greeting"}, tree(t, d.Layers[1].Dir), labtest.Hint("the new layer holds only the change (no /etc/hosts: mount those in, do not write them into the layer)"))
	})

	t.Run("commit saves a deletion as a whiteout entry of the new layer", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		setup(t, bin)
		res := run(t, bin, "deleter", base, "rm", "/bin/vi")
		require.Equal(t, 0, res.Code, res)
		res = bin.Run(t, "commit", "deleter", "novi:v1")
		require.Equal(t, 0, res.Code, labtest.Hint("`07-images commit CONTAINER REF` turns the upper dir into a layer").With(res))
		res = run(t, bin, "checker", "novi:v1", "ls", "/bin/vi")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("the deleted file stays deleted in the new image").With(res))
		file := filepath.Join(labtest.TempDir(t), "novi.tar")
		res = bin.Run(t, "save", "novi:v1", "-o", file)
		require.Equal(t, 0, res.Code, res)
		assert.Contains(t, lastLayerNames(t, file), "bin/.wh.vi",
			labtest.Hint("a deletion travels as an empty file .wh.NAME in the layer's tar (the image format's whiteout), not as overlay's 0/0 device"))
	})

	t.Run("save then load round-trips with the same digests", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		setup(t, bin)
		before := inspect(t, bin, base)
		for _, format := range []string{"docker-archive", "oci-archive"} {
			file := filepath.Join(labtest.TempDir(t), "image.tar")
			res := bin.Run(t, "save", base, "-o", file, "--format", format)
			require.Equal(t, 0, res.Code, labtest.Hint("`07-images save REF -o FILE --format %s`", format).With(res))
			require.Equal(t, 0, bin.Run(t, "rm", base).Code)
			res = bin.Run(t, "load", "-i", file)
			require.Equal(t, 0, res.Code, labtest.Hint("`07-images load -i FILE` reads what save wrote (%s)", format).With(res))
			after := inspect(t, bin, base)
			assert.Equal(t, before.Digest, after.Digest, labtest.Hint("the manifest digest must survive %s", format))
			assert.Equal(t, before.Layers[0].DiffID, after.Layers[0].DiffID)
		}
	})

	t.Run("push and pull through a registry keep the digest and skip shared layers", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		setup(t, bin)
		var uploads atomic.Int32
		reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
		server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// An upload ends with a PUT; a blob the registry has is never started.
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") {
				uploads.Add(1)
			}
			reg.ServeHTTP(w, r)
		}))
		defer server.Close()
		host := strings.TrimPrefix(server.URL, "http://")
		remoteBase := host + "/labs/busybox:v1"

		require.Equal(t, 0, run(t, bin, "changed", base, "sh", "-c", "echo x > /x").Code)
		require.Equal(t, 0, bin.Run(t, "commit", "changed", host+"/labs/busybox:changed").Code)
		res := bin.Run(t, "tag", base, remoteBase)
		require.Equal(t, 0, res.Code, labtest.Hint("`07-images tag REF NEWREF` names an image for the registry").With(res))
		local := inspect(t, bin, remoteBase)
		res = bin.Run(t, "push", remoteBase)
		require.Equal(t, 0, res.Code, labtest.Hint("`07-images push REF` speaks the registry API (plain HTTP on 127.0.0.1)").With(res))
		first := uploads.Load()
		res = bin.Run(t, "push", host+"/labs/busybox:changed")
		require.Equal(t, 0, res.Code, res)
		assert.Equal(t, int32(2), uploads.Load()-first, labtest.Hint("the second image shares its base layer: upload only the new layer and the config"))

		require.Equal(t, 0, bin.Run(t, "rm", "changed").Code)
		require.Equal(t, 0, bin.Run(t, "rm", host+"/labs/busybox:changed").Code)
		require.Equal(t, 0, bin.Run(t, "rm", remoteBase).Code)
		res = bin.Run(t, "pull", remoteBase)
		require.Equal(t, 0, res.Code, labtest.Hint("`07-images pull REF` fetches it back").With(res))
		assert.Equal(t, local.Digest, inspect(t, bin, remoteBase).Digest, labtest.Hint("an image's digest is the same everywhere"))
		res = run(t, bin, "pulled", remoteBase, "ls", "/bin/sh")
		assert.Equal(t, 0, res.Code, labtest.Hint("the pulled image runs").With(res))
	})

	t.Run("export matches the container's view", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		setup(t, bin)
		res := run(t, bin, "exported", base, "sh", "-c", "echo new > /added && rm /bin/vi")
		require.Equal(t, 0, res.Code, res)
		view := run(t, bin, "viewer", base, "sh", "-c", "echo new > /added && rm /bin/vi && find / -xdev | sort")
		file := filepath.Join(labtest.TempDir(t), "export.tar")
		res = bin.Run(t, "export", "exported", "-o", file)
		require.Equal(t, 0, res.Code, labtest.Hint("`07-images export CONTAINER -o FILE` writes its merged files").With(res))
		names := tarNames(t, file)
		assert.Contains(t, names, "/added", labtest.Hint("the container's new file is in the export"))
		assert.NotContains(t, names, "/bin/vi", labtest.Hint("a deleted file is not"))
		var want []string
		for _, p := range strings.Fields(view.Stdout) {
			if p != "/" && !strings.HasPrefix(p, "/etc/host") && p != "/etc/resolv.conf" {
				want = append(want, p)
			}
		}
		var got []string
		for _, p := range names {
			if !strings.HasPrefix(p, "/etc/host") && p != "/etc/resolv.conf" {
				got = append(got, p)
			}
		}
		assert.Equal(t, want, got, labtest.Hint("the export lists the same paths the container sees"))
	})

	t.Run("a deletion in an upper layer hides the file", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		setup(t, bin)
		dir := labtest.TempDir(t)
		busybox := labtest.BusyboxRoot(t)
		baseTar := filepath.Join(dir, "base.tar")
		require.NoError(t, tarDir(busybox, baseTar, "victim", "keep"))
		file := archive(t, dir, "twolayers:v1", mustRead(t, baseTar), layerTar(t, ".wh.victim"))
		res := bin.Run(t, "load", "-i", file)
		require.Equal(t, 0, res.Code, labtest.Hint("load a docker-archive of two layers").With(res))
		res = run(t, bin, "hider", "twolayers:v1", "sh", "-c", "ls /keep && ls /victim")
		assert.Contains(t, res.Stdout, "/keep", res)
		assert.NotEqual(t, 0, res.Code, labtest.Hint("an OCI whiteout (.wh.NAME) must become an overlay whiteout").With(res))
	})

	t.Run("hostile layers are refused and write nothing outside the store", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		sandbox := setup(t, bin)
		dir := labtest.TempDir(t)
		before := outsideState(t, sandbox)
		for name, layer := range map[string][]byte{
			"path traversal":        layerTar(t, "../../escaped"),
			"absolute symlink":      layerTar(t, "link -> /", "link/tmp/escaped"),
			"escaping symlink":      layerTar(t, "link -> ../../../..", "link/escaped"),
			"escaping hardlink":     layerTar(t, "hard => ../../../etc/passwd"),
			"whiteout through link": layerTar(t, "link -> /tmp", "link/.wh.victim"),
		} {
			file := archive(t, dir, "evil/"+strings.ReplaceAll(name, " ", "-")+":v1", layer)
			res := bin.Run(t, "load", "-i", file)
			assert.NotEqual(t, 0, res.Code, labtest.Hint("a layer with %s must be refused", name).With(res))
		}
		swapped := swapLayer(t, archive(t, dir, "evil/digest:v1", layerTar(t, "fine")), layerTar(t, "swapped"))
		res := bin.Run(t, "load", "-i", swapped)
		assert.NotEqual(t, 0, res.Code, labtest.Hint("a layer whose content does not match its diff ID must be refused").With(res))
		assert.Contains(t, res.Stderr, "diff ID", labtest.Hint("refuse it for the digest, not for some other reason").With(res))
		assert.Equal(t, before, outsideState(t, sandbox), labtest.Hint("nothing may be written outside the state root"))
		_, err := os.Stat("/tmp/escaped")
		assert.True(t, os.IsNotExist(err), labtest.Hint("nothing may escape to /tmp"))
		res = bin.Run(t, "ls")
		assert.NotContains(t, res.Stdout, "evil/", labtest.Hint("no refused image may be listed"))
	})
}

// withConfig rewrites the config of the image in a docker-archive and saves it as ref.
func withConfig(t *testing.T, file, ref string, config v1.Config) string {
	img, err := tarball.ImageFromPath(file, nil)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	config.Cmd = append([]string(nil), config.Cmd...)
	cf.Config.Env, cf.Config.WorkingDir, cf.Config.User, cf.Config.Cmd = config.Env, config.WorkingDir, config.User, config.Cmd
	img, err = mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	tag, err := name.NewTag(ref)
	require.NoError(t, err)
	out := filepath.Join(filepath.Dir(file), "configured.tar")
	require.NoError(t, tarball.WriteToFile(out, tag, img))
	return out
}

// swapLayer replaces the first layer blob of a docker-archive with replacement, a valid
// tar, gzip-compressed validly, leaving the config's diff IDs as they were: only a check
// of the content against its digest can tell. (A flipped byte would not do: gzip's own
// CRC refuses it first, so the check would pass without any digest being checked.)
func swapLayer(t *testing.T, file string, replacement []byte) string {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write(replacement)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	data := mustRead(t, file)
	tr := tar.NewReader(bytes.NewReader(data))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	swapped := false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(tr)
		require.NoError(t, err)
		if strings.HasSuffix(hdr.Name, ".tar.gz") && !swapped {
			body, swapped = gz.Bytes(), true
			hdr.Size = int64(len(body))
		}
		require.NoError(t, tw.WriteHeader(hdr))
		_, err = tw.Write(body)
		require.NoError(t, err)
	}
	require.True(t, swapped, "the archive has a .tar.gz layer")
	require.NoError(t, tw.Close())
	path := file + ".swapped.tar"
	require.NoError(t, os.WriteFile(path, out.Bytes(), 0o644))
	return path
}

// tarDir writes dir as a layer tarball, plus empty files with the given extra names.
func tarDir(dir, file string, extra ...string) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		link := ""
		if info.Mode()&os.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = rel
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(data)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range extra {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(file, buf.Bytes(), 0o644)
}

func tarNames(t *testing.T, file string) []string {
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		names = append(names, "/"+strings.TrimSuffix(strings.TrimPrefix(hdr.Name, "./"), "/"))
	}
	sort.Strings(names)
	return names
}

// lastLayerNames lists the entries of the top layer of a docker-archive.
func lastLayerNames(t *testing.T, file string) []string {
	members := map[string][]byte{}
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		members[strings.TrimPrefix(hdr.Name, "./")] = data
	}
	var manifest []struct{ Layers []string }
	require.NoError(t, json.Unmarshal(members["manifest.json"], &manifest), "a docker-archive has a manifest.json")
	require.NotEmpty(t, manifest)
	layers := manifest[0].Layers
	require.NotEmpty(t, layers)
	var r io.Reader = bytes.NewReader(members[layers[len(layers)-1]])
	if gz, err := gzip.NewReader(bytes.NewReader(members[layers[len(layers)-1]])); err == nil {
		r = gz
	}
	var names []string
	lr := tar.NewReader(r)
	for {
		hdr, err := lr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		names = append(names, strings.TrimSuffix(strings.TrimPrefix(hdr.Name, "./"), "/"))
	}
	return names
}

func mustRead(t *testing.T, file string) []byte {
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	return data
}

// TestUsage checks that 07-images prints its usage, with no arguments, in the learner's language: English by default, Korean under LANG=ko_KR.UTF-8.
func TestUsage(t *testing.T) { labtest.RunUsage(t, lab, 2) }

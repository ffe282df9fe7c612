package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"containerlabs/labs/rootfs"
)

// Format is an image archive format.
type Format int

const (
	// DockerArchive is what `docker save` has always written and `docker load` reads: a
	// manifest.json listing each image's config file, layer files and names (RepoTags).
	// It keeps configs and layer blobs, so image IDs and layer digests survive a round
	// trip, but not the registry manifest, which the loader rebuilds in Docker's media
	// types (the manifest digest survives only for images that had those, as the images
	// Import and Commit make do).
	DockerArchive Format = iota + 1
	// OCIArchive is an OCI image layout in a tar: oci-layout, index.json (names as
	// org.opencontainers.image.ref.name annotations) and blobs/sha256/..., manifests
	// included, so every digest survives.
	OCIArchive
)

// String names the format as the labs' command lines do.
func (f Format) String() string {
	switch f {
	case DockerArchive:
		return "docker-archive"
	case OCIArchive:
		return "oci-archive"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ParseFormat reads a format as String writes it ("docker-archive", "oci-archive").
func ParseFormat(s string) (Format, error) {
	for _, f := range []Format{DockerArchive, OCIArchive} {
		if s == f.String() {
			return f, nil
		}
	}
	return 0, fmt.Errorf("unknown archive format %q: use %s or %s", s, DockerArchive, OCIArchive)
}

// containerdNameAnnotation is where Docker's own OCI archives (docker save, since 25) put
// the full image name; their ref.name holds only the tag.
const containerdNameAnnotation = "io.containerd.image.name"

// Save writes the images refs name to w as one archive in format.
//
// Equivalent to: `docker save -o FILE.tar REF...` (DockerArchive), or
// `skopeo copy containers-storage:REF oci-archive:FILE.tar` (OCIArchive).
func (s *Store) Save(w io.Writer, refs []string, format Format) error {
	unlock, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()
	type named struct {
		ref  string
		desc v1.Descriptor
	}
	var entries []named
	images := map[v1.Hash]v1.Image{} // one v1.Image per digest: the tarball writer dedups by identity
	for _, ref := range refs {
		img, desc, err := s.image(ref)
		if err != nil {
			return err
		}
		normal, _ := Normalize(ref)
		entries = append(entries, named{normal, desc})
		if _, ok := images[desc.Digest]; !ok {
			images[desc.Digest] = img
		}
	}
	switch format {
	case DockerArchive:
		refToImage := map[name.Reference]v1.Image{}
		for _, e := range entries {
			r, err := name.ParseReference(e.ref)
			if err != nil {
				return err
			}
			refToImage[r] = images[e.desc.Digest]
		}
		if err := tarball.MultiRefWrite(refToImage, w); err != nil {
			return fmt.Errorf("save %s: %w", format, err)
		}
		return nil
	case OCIArchive:
		tw := tar.NewWriter(w)
		if err := writeTarFile(tw, "oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
			return err
		}
		idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
		written := map[v1.Hash]bool{}
		for _, e := range entries {
			desc := e.desc
			desc.Annotations = map[string]string{refNameAnnotation: e.ref}
			idx.Manifests = append(idx.Manifests, desc)
			m, _, err := s.read(desc.Digest)
			if err != nil {
				return err
			}
			blobs := append([]v1.Hash{desc.Digest, m.Config.Digest}, layerDigests(m)...)
			for _, h := range blobs {
				if written[h] {
					continue
				}
				written[h] = true
				if err := s.writeTarBlob(tw, h); err != nil {
					return err
				}
			}
		}
		data, err := json.Marshal(idx)
		if err == nil {
			err = writeTarFile(tw, "index.json", data)
		}
		if err == nil {
			err = tw.Close()
		}
		if err != nil {
			return fmt.Errorf("save %s: %w", format, err)
		}
		return nil
	}
	return fmt.Errorf("unknown archive format %v", format)
}

func layerDigests(m *v1.Manifest) []v1.Hash {
	var digests []v1.Hash
	for _, l := range m.Layers {
		digests = append(digests, l.Digest)
	}
	return digests
}

func writeTarFile(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// writeTarBlob streams the stored blob h into tw as blobs/sha256/HEX.
func (s *Store) writeTarBlob(tw *tar.Writer, h v1.Hash) error {
	f, err := os.Open(s.blobPath(h))
	if err != nil {
		return fmt.Errorf("save blob: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: path.Join("blobs", h.Algorithm, h.Hex), Typeflag: tar.TypeReg, Mode: 0o644, Size: info.Size()}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// Load reads an image archive, a docker-archive or an OCI layout tarball (recognised by
// its files), adds its images to the store, verifying every digest, and returns the
// names it filed them under. The archive may be compressed as a whole (`docker save |
// gzip`), and each layer in it may be plain, gzip or zstd: both are recognised by their
// first bytes, never by a file name, as `docker load` does.
//
// Equivalent to: `docker load -i FILE.tar`.
func (s *Store) Load(r io.Reader) ([]string, error) {
	unlock, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// The docker-archive reader looks files up in the tar by name, so the stream is kept
	// in a file first.
	spool, err := os.CreateTemp(s.path("tmp"), "load-")
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	stream, err := decompress(bufio.NewReaderSize(r, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer stream.Close()
	if _, err := io.Copy(spool, stream); err != nil {
		return nil, fmt.Errorf("load: read archive: %w", err)
	}
	files, err := archiveFiles(spool)
	if err != nil {
		return nil, err
	}
	switch {
	case files["oci-layout"] && files["index.json"]:
		return s.loadOCI(spool)
	case files["manifest.json"]:
		return s.loadDocker(spool.Name())
	}
	return nil, errors.New("load: not an image archive: it has neither manifest.json (docker-archive) nor oci-layout and index.json (OCI layout)")
}

// archiveFiles lists the names in the tar file f.
func archiveFiles(f *os.File) (map[string]bool, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	files := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("load: read archive: %w", err)
		}
		files[path.Clean(hdr.Name)] = true
	}
}

// loadOCI unpacks the layout (safely: it is untrusted input) and adds each image it names.
func (s *Store) loadOCI(spool *os.File) ([]string, error) {
	dir, err := os.MkdirTemp(s.path("tmp"), "load-")
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer os.RemoveAll(dir)
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if err := rootfs.ExtractTar(spool, dir); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	// The layout reader opens files by name; a symlink there could make it read a host file.
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !d.Type().IsRegular() {
			err = fmt.Errorf("archive entry %s is not a regular file; an OCI layout holds only files and directories", p[len(dir):])
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("load: read OCI layout: %w", err)
	}
	idx, err := ii.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("load: read OCI layout: %w", err)
	}
	var loaded []string
	for _, desc := range idx.Manifests {
		ref := desc.Annotations[containerdNameAnnotation]
		if ref == "" {
			ref = desc.Annotations[refNameAnnotation]
		}
		if ref == "" {
			return loaded, fmt.Errorf("load: image %s in the archive has no name (annotation %s)", desc.Digest, refNameAnnotation)
		}
		img, err := platformImage(ii, desc, nil)
		if err != nil {
			return loaded, fmt.Errorf("load %s: %w", ref, err)
		}
		if _, err := s.Add(context.Background(), ref, img, Options{}); err != nil {
			return loaded, fmt.Errorf("load: %w", err)
		}
		ref, _ = Normalize(ref)
		loaded = append(loaded, ref)
	}
	return loaded, nil
}

// platformImage returns the image desc names in ii; if desc is a multi-platform index, the
// image for platform (by default, linux on this machine's architecture).
func platformImage(ii v1.ImageIndex, desc v1.Descriptor, platform *v1.Platform) (v1.Image, error) {
	if !desc.MediaType.IsIndex() {
		return ii.Image(desc.Digest)
	}
	want := defaultPlatform(platform)
	child, err := ii.ImageIndex(desc.Digest)
	if err != nil {
		return nil, err
	}
	im, err := child.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.MediaType.IsImage() && (d.Platform == nil || d.Platform.Satisfies(want)) {
			return child.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("index %s has no image for %s", desc.Digest, want)
}

func defaultPlatform(p *v1.Platform) v1.Platform {
	if p != nil {
		return *p
	}
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// loadDocker adds each image of a docker-archive under each of its RepoTags.
func (s *Store) loadDocker(file string) ([]string, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(file) }
	manifest, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("load: read manifest.json: %w", err)
	}
	var loaded []string
	for _, entry := range manifest {
		if len(entry.RepoTags) == 0 {
			return loaded, fmt.Errorf("load: image %s in the archive has no name (RepoTags)", entry.Config)
		}
		img, err := archiveImage(file, entry)
		if err != nil {
			return loaded, fmt.Errorf("load %s: %w", entry.RepoTags[0], err)
		}
		if _, err := s.Add(context.Background(), entry.RepoTags[0], img, Options{}); err != nil {
			return loaded, fmt.Errorf("load: %w", err)
		}
		for _, ref := range entry.RepoTags {
			if err := s.Tag(entry.RepoTags[0], ref); err != nil {
				return loaded, fmt.Errorf("load: %w", err)
			}
			ref, _ = Normalize(ref)
			loaded = append(loaded, ref)
		}
	}
	return loaded, nil
}

// archiveImage is one image of a docker-archive, as a v1.Image whose layers are the
// archive's files, each judged by its own first bytes. A docker-archive says nothing of how
// its layers are compressed: `docker save` writes them plain, other tools gzip them,
// sometimes both in one archive. Judging all of them by the first (as go-containerregistry's
// tarball reader does) reads a gzip layer after a plain one as a tar, and fails with
// "invalid tar header". A compressed layer file is the layer's blob as it is (so its digest
// survives a save and load); a plain one is gzip-compressed into its blob. Each layer's
// content is checked against the config's diff ID as it is unpacked (Store.Add).
func archiveImage(file string, entry tarball.Descriptor) (v1.Image, error) {
	config, err := readArchiveFile(file, entry.Config)
	if err != nil {
		return nil, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(config))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", entry.Config, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(entry.Layers) {
		return nil, fmt.Errorf("manifest.json lists %d layers but the config %d diff IDs", len(entry.Layers), len(cfg.RootFS.DiffIDs))
	}
	core := &archiveCore{config: config}
	configDigest, configSize, err := v1.SHA256(bytes.NewReader(config))
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2,
		Config: v1.Descriptor{MediaType: types.DockerConfigJSON, Size: configSize, Digest: configDigest}}
	for _, name := range entry.Layers {
		l, err := newArchiveLayer(file, name)
		if err != nil {
			return nil, err
		}
		core.layers = append(core.layers, l)
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: l.mediaType, Size: l.size, Digest: l.digest})
	}
	if core.manifest, err = json.Marshal(m); err != nil {
		return nil, err
	}
	return partial.CompressedToImage(core)
}

// archiveCore is what partial.CompressedToImage needs of an image: its config, its
// manifest and its layer blobs by digest.
type archiveCore struct {
	config, manifest []byte
	layers           []*archiveLayer
}

func (a *archiveCore) RawConfigFile() ([]byte, error)      { return a.config, nil }
func (a *archiveCore) RawManifest() ([]byte, error)        { return a.manifest, nil }
func (a *archiveCore) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }

func (a *archiveCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range a.layers {
		if l.digest == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no layer %s in the archive", h)
}

// archiveLayer is one layer file of a docker-archive: its blob is the file itself if it is
// compressed (gzip or zstd), or the file gzip-compressed if it is a plain tar.
type archiveLayer struct {
	file, name string
	plain      bool
	mediaType  types.MediaType
	digest     v1.Hash
	size       int64
}

// newArchiveLayer reads the layer file once, to learn its compression from its first bytes
// and the digest and size of its blob.
func newArchiveLayer(file, name string) (*archiveLayer, error) {
	l := &archiveLayer{file: file, name: name, mediaType: types.DockerLayer}
	f, body, err := openArchiveFile(file, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(body, 1<<20)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		l.mediaType = types.OCILayerZStd
	default:
		l.plain = true
	}
	blob, err := l.blob(br)
	if err != nil {
		return nil, err
	}
	defer blob.Close()
	if l.digest, l.size, err = v1.SHA256(blob); err != nil {
		return nil, fmt.Errorf("layer %s: %w", name, err)
	}
	return l, nil
}

// blob turns the layer file's content into its blob: as it is, or gzip-compressed, the same
// way every time (the digest is computed from one pass and the bytes sent in another).
func (l *archiveLayer) blob(content io.Reader) (io.ReadCloser, error) {
	if !l.plain {
		return io.NopCloser(content), nil
	}
	pr, pw := io.Pipe()
	go func() {
		zw, _ := gzip.NewWriterLevel(pw, gzip.BestSpeed)
		_, err := io.Copy(zw, content)
		if err == nil {
			err = zw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

func (l *archiveLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *archiveLayer) Size() (int64, error)                { return l.size, nil }
func (l *archiveLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }

// Compressed reads the layer's blob from the archive.
func (l *archiveLayer) Compressed() (io.ReadCloser, error) {
	f, body, err := openArchiveFile(l.file, l.name)
	if err != nil {
		return nil, err
	}
	blob, err := l.blob(body)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{blob, closers{blob, f}}, nil
}

type closers []io.Closer

func (c closers) Close() error {
	for _, x := range c {
		x.Close()
	}
	return nil
}

// readArchiveFile reads a small file (a config) of the archive.
func readArchiveFile(file, name string) ([]byte, error) {
	f, body, err := openArchiveFile(file, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(body, 64<<20))
}

// openArchiveFile finds the entry name in the archive file and returns the open archive and
// a reader of that entry. A symlink or hard link entry (docker save since 25 links each
// layer.tar to its blob) is followed inside the archive, a few times at most.
func openArchiveFile(file, name string) (*os.File, io.Reader, error) {
	for range 8 {
		f, err := os.Open(file)
		if err != nil {
			return nil, nil, err
		}
		tr := tar.NewReader(f)
		var link string
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				f.Close()
				return nil, nil, fmt.Errorf("the archive has no %s", name)
			}
			if err != nil {
				f.Close()
				return nil, nil, fmt.Errorf("read archive: %w", err)
			}
			if path.Clean(hdr.Name) != path.Clean(name) {
				continue
			}
			switch hdr.Typeflag {
			case tar.TypeReg:
				return f, tr, nil
			case tar.TypeSymlink:
				link = path.Join(path.Dir(path.Clean(name)), hdr.Linkname)
			case tar.TypeLink:
				link = hdr.Linkname
			default:
				f.Close()
				return nil, nil, fmt.Errorf("archive entry %s is not a regular file", name)
			}
			break
		}
		f.Close()
		name = link
	}
	return nil, nil, fmt.Errorf("archive entry %s: too many links", name)
}

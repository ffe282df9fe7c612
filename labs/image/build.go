package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"containerlabs/labs/rootfs"
)

// Meta describes the new layer of an import or a commit, for the image's history.
type Meta struct {
	// Author goes into the config and the history entry (`docker commit --author`).
	Author string
	// Comment goes into the history entry (`docker commit -m`, `docker import -m`).
	Comment string
	// CreatedBy says what made the layer; Import and Commit fill in a default.
	CreatedBy string
	// Config, if set, replaces the run configuration (Entrypoint, Cmd, Env, ...) the new
	// image inherits (`docker commit --change`).
	Config *v1.Config
}

// ImportTar makes a one-layer image named ref from a root file system tarball (plain or
// gzip-compressed) and returns its manifest digest. The image has no command: give one to
// run it, or set Meta.Config.
//
// Equivalent to: `docker import FILE.tar REF`.
func (s *Store) ImportTar(r io.Reader, ref string, meta Meta) (v1.Hash, error) {
	stream, err := rootfs.Decompress(r)
	if err != nil {
		return v1.Hash{}, err
	}
	if meta.CreatedBy == "" {
		meta.CreatedBy = "import"
	}
	return s.build("", stream, ref, meta)
}

// ImportDir makes a one-layer image named ref from the directory tree at dir.
//
// Equivalent to: `tar -C DIR -c . | docker import - REF`.
func (s *Store) ImportDir(dir, ref string, meta Meta) (v1.Hash, error) {
	if meta.CreatedBy == "" {
		meta.CreatedBy = "import " + dir
	}
	return s.buildFromTree("", dir, false, ref, meta)
}

// Commit makes the image ref from the image base with one more layer on top: the changes
// recorded in a container's overlay upper directory, with its whiteouts and opaque
// directories turned into OCI whiteouts. The new layer is unpacked on the way, so the
// new image runs without another unpack.
//
// Equivalent to: `docker commit CONTAINER REF`.
func (s *Store) Commit(base, upper, ref string, meta Meta) (v1.Hash, error) {
	if meta.CreatedBy == "" {
		meta.CreatedBy = "commit"
	}
	return s.buildFromTree(base, upper, true, ref, meta)
}

func (s *Store) buildFromTree(base, dir string, overlayMarkers bool, ref string, meta Meta) (v1.Hash, error) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(writeTree(pw, dir, overlayMarkers))
	}()
	digest, err := s.build(base, pr, ref, meta)
	// Stops writeTree if build gave up before reading everything.
	pr.CloseWithError(errors.New("layer abandoned"))
	<-done
	return digest, err
}

// build stores the layer read from layerTar on top of the image base ("" for none) and
// names the result ref. It writes the config and the manifest itself, because they are
// the lesson: a new layer is one more diff ID in the config, one more descriptor in the
// manifest, and one more history entry.
func (s *Store) build(base string, layerTar io.Reader, ref string, meta Meta) (v1.Hash, error) {
	ref, err := Normalize(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	unlock, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return v1.Hash{}, err
	}
	defer unlock()

	// With no base: Docker's media types (what `docker save` archives carry, so a
	// save and load round trip keeps the manifest digest), and this machine's platform.
	m := &v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2}
	cfg := &v1.ConfigFile{Architecture: runtime.GOARCH, OS: "linux", RootFS: v1.RootFS{Type: "layers"}}
	if base != "" {
		desc, err := s.find(base)
		if err != nil {
			return v1.Hash{}, err
		}
		if m, cfg, err = s.read(desc.Digest); err != nil {
			return v1.Hash{}, err
		}
		m.Annotations, m.Subject = nil, nil // they described the base
		if m.MediaType == "" {
			m.MediaType = desc.MediaType // optional in an OCI manifest; the index has it
		}
	}
	layer, diffID, err := s.newLayer(layerTar)
	if err != nil {
		return v1.Hash{}, err
	}
	layer.MediaType, m.Config.MediaType = types.DockerLayer, types.DockerConfigJSON
	if m.MediaType == types.OCIManifestSchema1 {
		layer.MediaType, m.Config.MediaType = types.OCILayer, types.OCIConfigJSON
	}

	now := v1.Time{Time: time.Now().UTC().Truncate(time.Second)}
	cfg.Created = now
	if meta.Author != "" {
		cfg.Author = meta.Author
	}
	if meta.Config != nil {
		cfg.Config = *meta.Config
	}
	cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID)
	cfg.History = append(cfg.History, v1.History{Created: now, CreatedBy: meta.CreatedBy, Author: meta.Author, Comment: meta.Comment})
	rawConfig, err := json.Marshal(cfg)
	if err != nil {
		return v1.Hash{}, err
	}
	if m.Config.Digest, err = s.writeBlob(rawConfig); err != nil {
		return v1.Hash{}, err
	}
	m.Config.Size = int64(len(rawConfig))
	m.Layers = append(m.Layers, layer)
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return v1.Hash{}, err
	}
	digest, err := s.writeBlob(rawManifest)
	if err != nil {
		return v1.Hash{}, err
	}
	return digest, s.tag(ref, v1.Descriptor{MediaType: m.MediaType, Size: int64(len(rawManifest)), Digest: digest})
}

// ExportDir writes the tree under dir to w as a plain tar: a container's merged view (its
// overlay mounted at dir) becomes what `docker export` writes.
//
// Equivalent to: `docker export CONTAINER`, or `tar --one-file-system -C DIR -cf - .`.
func ExportDir(w io.Writer, dir string) error {
	return writeTree(w, dir, false)
}

// ExportImage writes the flattened file system of the image ref names to w as a plain tar:
// every layer applied in order, whiteouts honoured (go-containerregistry's mutate.Extract).
//
// Equivalent to: `docker export $(docker create REF)`.
func (s *Store) ExportImage(w io.Writer, ref string) error {
	unlock, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()
	img, _, err := s.image(ref)
	if err != nil {
		return err
	}
	flat := mutate.Extract(img)
	defer flat.Close()
	if _, err := io.Copy(w, flat); err != nil {
		return fmt.Errorf("export %s: %w", ref, err)
	}
	return nil
}

// ImportPath imports a root file system from source, a directory or a tar file (plain or
// gzip-compressed), as a one-layer image named ref: what `docker import` does with a tar.
func (s *Store) ImportPath(source, ref string, meta Meta) (v1.Hash, error) {
	info, err := os.Stat(source)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("import %s: %w", source, err)
	}
	if info.IsDir() {
		return s.ImportDir(source, ref, meta)
	}
	f, err := os.Open(source)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("import %s: %w", source, err)
	}
	defer f.Close()
	return s.ImportTar(f, ref, meta)
}

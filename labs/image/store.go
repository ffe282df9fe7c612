package image

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"containerlabs/labs/state"
)

// ErrNotFound marks a reference the store has no image for.
var ErrNotFound = errors.New("no such image")

// refNameAnnotation is the OCI annotation that names an image in an index. The store
// writes one index.json entry per tag, so retagging replaces exactly one entry.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// Lock files. Every lab process shares one store, so it is locked with flock(2): anything
// that writes blobs, layer directories or files in tmp/ holds gcLock shared while it works,
// and garbage collection holds it exclusively, so that it never deletes content a running
// pull has written but not named yet. indexLock serialises the read-modify-write of
// index.json (readers need no lock: the file is replaced by rename, atomically).
const (
	gcLock    = "gc.lock"
	indexLock = "index.lock"
)

// Store is a local image store: an OCI image layout of manifests, configs and layer blobs,
// and every layer unpacked once into a directory keyed by its diff ID. It is safe for use by
// several goroutines and several processes at once.
type Store struct {
	root   string
	layout layout.Path
}

// Open opens the store in the directory root, creating it if needed (the labs use
// <state root>/images).
func Open(root string) (*Store, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open image store %s: %w", root, err)
	}
	s := &Store{root: root, layout: layout.Path(root)}
	// Layers hold setuid-root binaries and every file of every image: only root may reach
	// them, and the group of a lab's --userns container, which mounts its layers as that
	// unprivileged host user (state.PassageDir). Blobs and temporary files are root's alone.
	for _, dir := range []string{root, s.path("layers")} {
		if err := state.PassageDir(dir); err != nil {
			return nil, fmt.Errorf("open image store: %w", err)
		}
	}
	for _, dir := range []string{s.path("blobs"), s.path("blobs", "sha256"), s.path("tmp")} {
		if err := state.ClosedDir(dir); err != nil {
			return nil, fmt.Errorf("open image store: %w", err)
		}
	}
	if _, err := os.Stat(s.path("index.json")); errors.Is(err, fs.ErrNotExist) {
		unlock, err := s.lock(indexLock, unix.LOCK_EX)
		if err != nil {
			return nil, err
		}
		defer unlock()
		if _, err := os.Stat(s.path("index.json")); errors.Is(err, fs.ErrNotExist) {
			if _, err := layout.Write(root, empty.Index); err != nil {
				return nil, fmt.Errorf("create image layout in %s: %w", root, err)
			}
		}
	}
	return s, nil
}

// Root returns the store's directory.
func (s *Store) Root() string { return s.root }

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.root}, elem...)...)
}

func (s *Store) blobPath(h v1.Hash) string { return s.path("blobs", h.Algorithm, h.Hex) }

// LayerDir returns the directory that holds (or will hold) the layer with this diff ID
// unpacked.
func (s *Store) LayerDir(diffID v1.Hash) string { return s.path("layers", diffID.Hex) }

// lock takes the flock(2) lock file name (LOCK_SH or LOCK_EX) and returns its release.
func (s *Store) lock(file string, how int) (func(), error) {
	f, err := os.OpenFile(s.path(file), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock image store: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock image store %s: %w", s.path(file), err)
	}
	return func() { f.Close() }, nil
}

// Normalize returns the form of ref the store files an image under: the reference as
// written, with ":latest" added when it names neither a tag nor a digest.
func Normalize(ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w", ref, err)
	}
	if _, isTag := r.(name.Tag); isTag {
		lastPart := ref[strings.LastIndex(ref, "/")+1:]
		if !strings.Contains(lastPart, ":") {
			return ref + ":" + name.DefaultTag, nil
		}
	}
	return ref, nil
}

func (s *Store) index() (*v1.IndexManifest, error) {
	data, err := os.ReadFile(s.path("index.json"))
	if err != nil {
		return nil, fmt.Errorf("read image index: %w", err)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", s.path("index.json"), err)
	}
	return idx, nil
}

// updateIndex applies change to index.json under the index lock and replaces the file
// atomically, so a crash leaves the old index or the new one, never half of one.
func (s *Store) updateIndex(change func(*v1.IndexManifest) error) error {
	unlockGC, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlockGC()
	unlock, err := s.lock(indexLock, unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.index()
	if err != nil {
		return err
	}
	if err := change(idx); err != nil {
		return err
	}
	data, err := json.MarshalIndent(idx, "", "   ")
	if err != nil {
		return err
	}
	return s.writeFileAtomic(s.path("index.json"), data)
}

// writeFileAtomic writes data to a new file in tmp/ and renames it to target, so that no
// reader ever sees part of it.
func (s *Store) writeFileAtomic(target string, data []byte) error {
	tmp, err := os.CreateTemp(s.path("tmp"), filepath.Base(target)+"-")
	if err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), target)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	return nil
}

// find returns the index entry of the image ref names.
func (s *Store) find(ref string) (v1.Descriptor, error) {
	ref, err := Normalize(ref)
	if err != nil {
		return v1.Descriptor{}, err
	}
	idx, err := s.index()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, desc := range idx.Manifests {
		if desc.Annotations[refNameAnnotation] == ref {
			return desc, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("%w: %s", ErrNotFound, ref)
}

// tag files the manifest desc under ref, replacing what ref named before. An image that
// loses its last name that way stays in the index without one (dangling, as Docker calls
// it): a container made from it still runs on its layers, so only a prune, which knows the
// containers, may remove it.
func (s *Store) tag(ref string, desc v1.Descriptor) error {
	ref, err := Normalize(ref)
	if err != nil {
		return err
	}
	entry := untagged(desc)
	entry.Annotations = map[string]string{refNameAnnotation: ref}
	return s.updateIndex(func(idx *v1.IndexManifest) error {
		var replaced []v1.Descriptor
		idx.Manifests = slices.DeleteFunc(idx.Manifests, func(d v1.Descriptor) bool {
			name := d.Annotations[refNameAnnotation]
			if name == ref {
				replaced = append(replaced, d)
			}
			return name == ref || (name == "" && d.Digest == desc.Digest)
		})
		idx.Manifests = append(idx.Manifests, entry)
		for _, old := range replaced {
			if !slices.ContainsFunc(idx.Manifests, func(d v1.Descriptor) bool { return d.Digest == old.Digest }) {
				idx.Manifests = append(idx.Manifests, untagged(old))
			}
		}
		return nil
	})
}

// untagged is an index entry for the manifest desc, without a name.
func untagged(desc v1.Descriptor) v1.Descriptor {
	return v1.Descriptor{MediaType: desc.MediaType, Size: desc.Size, Digest: desc.Digest}
}

// PruneDangling removes the images that have no name left (their name moved to another
// image: a tag, import, commit, pull or load of the same name), except those whose ID
// inUse reports (the config digest a container was made from), then collects the garbage.
// It returns the IDs of the images it removed.
//
// Equivalent to: `docker image prune`.
func (s *Store) PruneDangling(inUse func(id v1.Hash) bool) ([]v1.Hash, Removed, error) {
	pruned, removed, err := s.Prune(func(sum Summary) bool { return sum.Ref == "" && !inUse(sum.ID) })
	var ids []v1.Hash
	for _, sum := range pruned {
		ids = append(ids, sum.ID)
	}
	return ids, removed, err
}

// Prune removes every image of List for which remove returns true (its name, or for a
// dangling image its nameless entry), all in one update of the index, then collects the
// garbage once. It returns the images it removed.
func (s *Store) Prune(remove func(Summary) bool) ([]Summary, Removed, error) {
	list, err := s.List()
	if err != nil {
		return nil, Removed{}, err
	}
	type entry struct {
		ref    string
		digest v1.Hash
	}
	prune := map[entry]bool{}
	var pruned []Summary
	for _, sum := range list {
		if remove(sum) {
			prune[entry{sum.Ref, sum.Digest}] = true
			pruned = append(pruned, sum)
		}
	}
	err = s.updateIndex(func(idx *v1.IndexManifest) error {
		idx.Manifests = slices.DeleteFunc(idx.Manifests, func(d v1.Descriptor) bool {
			return prune[entry{d.Annotations[refNameAnnotation], d.Digest}]
		})
		return nil
	})
	if err != nil {
		return nil, Removed{}, err
	}
	removed, err := s.GC()
	return pruned, removed, err
}

// Tag gives the image src the additional name dst, replacing what dst named before.
//
// Equivalent to: `docker tag SRC DST`.
func (s *Store) Tag(src, dst string) error {
	desc, err := s.find(src)
	if err != nil {
		return err
	}
	return s.tag(dst, desc)
}

// image returns the stored image ref names, read from the layout.
func (s *Store) image(ref string) (v1.Image, v1.Descriptor, error) {
	desc, err := s.find(ref)
	if err != nil {
		return nil, desc, err
	}
	img, err := s.Image(desc.Digest)
	if err != nil {
		return nil, desc, fmt.Errorf("read image %s: %w", ref, err)
	}
	return img, desc, nil
}

// Image returns the stored image whose manifest has the given digest, as a v1.Image whose
// layers are read from the store's blobs: what a new image is made from with
// go-containerregistry's mutate, without copying a layer.
func (s *Store) Image(digest v1.Hash) (v1.Image, error) { return s.layout.Image(digest) }

// Summary is one line of List.
type Summary struct {
	// Ref is the name the image is filed under ("busybox:latest"); empty for a dangling
	// image, one whose name moved to another image.
	Ref string
	// Digest is the manifest's digest, the image's immutable name.
	Digest v1.Hash
	// ID is the config's digest, what Docker calls the image ID.
	ID v1.Hash
	// Created is when the image was made, from its config.
	Created time.Time
	// Size is the sum of the compressed layer sizes.
	Size int64
}

// List returns every image, sorted by reference, the dangling ones (without a name) first.
//
// Equivalent to: `docker images`.
func (s *Store) List() ([]Summary, error) {
	idx, err := s.index()
	if err != nil {
		return nil, err
	}
	var list []Summary
	for _, desc := range idx.Manifests {
		m, cfg, err := s.read(desc.Digest)
		if err != nil {
			return nil, err
		}
		sum := Summary{Ref: desc.Annotations[refNameAnnotation], Digest: desc.Digest, ID: m.Config.Digest, Created: cfg.Created.Time}
		for _, l := range m.Layers {
			sum.Size += l.Size
		}
		list = append(list, sum)
	}
	slices.SortFunc(list, func(a, b Summary) int { return strings.Compare(a.Ref, b.Ref) })
	return list, nil
}

// read parses a stored manifest and its config.
func (s *Store) read(digest v1.Hash) (*v1.Manifest, *v1.ConfigFile, error) {
	data, err := os.ReadFile(s.blobPath(digest))
	if err != nil {
		return nil, nil, fmt.Errorf("read manifest: %w", err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("parse manifest %s: %w", digest, err)
	}
	data, err = os.ReadFile(s.blobPath(m.Config.Digest))
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("parse config %s: %w", m.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, nil, fmt.Errorf("image %s has %d layers but its config lists %d diff IDs", digest, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	return m, cfg, nil
}

// Details is what Inspect tells about an image.
type Details struct {
	Ref    string
	Digest v1.Hash
	// ID is the config's digest.
	ID       v1.Hash
	Manifest *v1.Manifest
	Config   *v1.ConfigFile
	// Layers lists the layers lowest first.
	Layers []Layer
}

// Layer describes one layer of an image.
type Layer struct {
	// Digest names the compressed blob (the manifest's view); DiffID the uncompressed tar
	// (the config's view).
	Digest, DiffID v1.Hash
	// Size is the compressed size.
	Size      int64
	MediaType types.MediaType
	// Dir is where the layer is unpacked; Layers makes sure it exists.
	Dir string
}

// Inspect returns the manifest, config and layers of the image ref names.
//
// Equivalent to: `docker image inspect REF`.
func (s *Store) Inspect(ref string) (*Details, error) {
	desc, err := s.find(ref)
	if err != nil {
		return nil, err
	}
	m, cfg, err := s.read(desc.Digest)
	if err != nil {
		return nil, err
	}
	d := &Details{Ref: desc.Annotations[refNameAnnotation], Digest: desc.Digest, ID: m.Config.Digest, Manifest: m, Config: cfg}
	for i, l := range m.Layers {
		diffID := cfg.RootFS.DiffIDs[i]
		d.Layers = append(d.Layers, Layer{Digest: l.Digest, DiffID: diffID, Size: l.Size, MediaType: l.MediaType, Dir: s.LayerDir(diffID)})
	}
	return d, nil
}

// Removed lists what garbage collection deleted.
type Removed struct {
	// Blobs are the digests of deleted manifests, configs and layer blobs.
	Blobs []v1.Hash
	// Layers are the diff IDs of deleted unpacked layer directories.
	Layers []v1.Hash
}

// Remove deletes the name ref and then collects the garbage: the blobs and unpacked
// layers that no remaining image needs. An image with other names stays. The caller must
// make sure no container still runs on the image's layers (Docker refuses `rmi` of an image
// a container uses for the same reason): their directories are its lowerdirs.
//
// Equivalent to: `docker rmi REF`.
func (s *Store) Remove(ref string) (Removed, error) {
	ref, err := Normalize(ref)
	if err != nil {
		return Removed{}, err
	}
	err = s.updateIndex(func(idx *v1.IndexManifest) error {
		n := len(idx.Manifests)
		idx.Manifests = slices.DeleteFunc(idx.Manifests, func(d v1.Descriptor) bool {
			return d.Annotations[refNameAnnotation] == ref
		})
		if len(idx.Manifests) == n {
			return fmt.Errorf("%w: %s", ErrNotFound, ref)
		}
		return nil
	})
	if err != nil {
		return Removed{}, err
	}
	return s.GC()
}

// GC deletes every blob and unpacked layer that no tagged image refers to, and whatever
// an interrupted operation left in tmp/. It waits for running pulls, imports and unpacks
// to finish, and they wait for it.
//
// Equivalent to: `docker image prune`.
func (s *Store) GC() (Removed, error) {
	unlock, err := s.lock(gcLock, unix.LOCK_EX)
	if err != nil {
		return Removed{}, err
	}
	defer unlock()
	idx, err := s.index()
	if err != nil {
		return Removed{}, err
	}
	keepBlobs, keepLayers := map[string]bool{}, map[string]bool{}
	for _, desc := range idx.Manifests {
		m, cfg, err := s.read(desc.Digest)
		if err != nil {
			return Removed{}, fmt.Errorf("collect garbage: %w (nothing deleted)", err)
		}
		keepBlobs[desc.Digest.Hex] = true
		keepBlobs[m.Config.Digest.Hex] = true
		for _, l := range m.Layers {
			keepBlobs[l.Digest.Hex] = true
		}
		for _, d := range cfg.RootFS.DiffIDs {
			keepLayers[d.Hex] = true
		}
	}
	var removed Removed
	if removed.Blobs, err = s.sweep(s.path("blobs", "sha256"), keepBlobs); err != nil {
		return removed, err
	}
	if removed.Layers, err = s.sweep(s.path("layers"), keepLayers); err != nil {
		return removed, err
	}
	_, err = s.sweep(s.path("tmp"), nil)
	return removed, err
}

// sweep removes every entry of dir whose name is not in keep, and returns their names as
// sha256 hashes.
func (s *Store) sweep(dir string, keep map[string]bool) ([]v1.Hash, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("collect garbage: %w", err)
	}
	var removed []v1.Hash
	for _, e := range entries {
		if keep[e.Name()] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return removed, fmt.Errorf("collect garbage: %w", err)
		}
		removed = append(removed, v1.Hash{Algorithm: "sha256", Hex: e.Name()})
	}
	return removed, nil
}

package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	// klauspost's gzip reads the same format as the standard library's, about twice as
	// fast; decompression is most of the time of an unpack.
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// ErrDigestMismatch marks content whose hash is not the digest (or diff ID) that names it.
var ErrDigestMismatch = errors.New("digest mismatch")

// parallelLayers is how many layers are fetched and unpacked at once: enough to overlap
// the network with unpacking, as Docker's three concurrent downloads do.
const parallelLayers = 4

// Options change how Pull, Push and Add transfer an image.
type Options struct {
	// Insecure allows plain HTTP to the registry. Registries on loopback addresses
	// (127.0.0.1:5000, localhost:5000) are spoken to over HTTP anyway.
	Insecure bool
	// Progress, if set, is called as blob bytes move, with the bytes done and the total
	// of the blobs that had to be transferred (those already present are skipped). Calls
	// never overlap.
	Progress func(v1.Update)
	// Platform picks the image from a multi-platform index; the default is linux on the
	// running architecture.
	Platform *v1.Platform
	// BlobsOnly stores the layer blobs without unpacking them, as `crane pull` or
	// `skopeo copy` keep an image: Layers unpacks them from the blobs when a container
	// first needs them.
	BlobsOnly bool
}

// Add copies img into the store and files it under ref: every layer blob the store does
// not have yet is read exactly once, verified and unpacked on the way (see ingest), then
// the config and the manifest are stored, and the name is written last, so an interrupted
// Add never leaves a name that points at a partial image. It returns the manifest digest.
func (s *Store) Add(ctx context.Context, ref string, img v1.Image, opts Options) (v1.Hash, error) {
	ref, err := Normalize(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	unlock, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return v1.Hash{}, err
	}
	defer unlock()
	desc, err := s.write(ctx, img, opts)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("store %s: %w", ref, err)
	}
	return desc.Digest, s.tag(ref, desc)
}

// write stores img's blobs and unpacked layers and returns its manifest's descriptor.
func (s *Store) write(ctx context.Context, img v1.Image, opts Options) (v1.Descriptor, error) {
	rawManifest, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("read manifest: %w", err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("parse manifest: %w", err)
	}
	mediaType := m.MediaType
	if mediaType == "" {
		if mediaType, err = img.MediaType(); err != nil {
			return v1.Descriptor{}, err
		}
	}
	if !mediaType.IsImage() {
		return v1.Descriptor{}, fmt.Errorf("manifest is a %s, not an image manifest", mediaType)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("read config: %w", err)
	}
	if err := verify(rawConfig, m.Config.Digest, "config"); err != nil {
		return v1.Descriptor{}, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("parse config: %w", err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return v1.Descriptor{}, fmt.Errorf("manifest lists %d layers but the config %d diff IDs", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	if err := s.fetchLayers(ctx, img, m.Layers, cfg.RootFS.DiffIDs, opts.Progress, !opts.BlobsOnly); err != nil {
		return v1.Descriptor{}, err
	}
	if _, err := s.writeBlob(rawConfig); err != nil {
		return v1.Descriptor{}, err
	}
	digest, err := s.writeBlob(rawManifest)
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mediaType, Size: int64(len(rawManifest)), Digest: digest}, nil
}

// verify checks that data is the blob want names.
func verify(data []byte, want v1.Hash, what string) error {
	h := sha256.New()
	h.Write(data)
	return matches(h, want, what)
}

// matches checks that the hash h has summed the blob want names.
func matches(h hash.Hash, want v1.Hash, what string) error {
	if got := hex.EncodeToString(h.Sum(nil)); got != want.Hex || want.Algorithm != "sha256" {
		return fmt.Errorf("%s has digest sha256:%s, not %s as named: %w", what, got, want, ErrDigestMismatch)
	}
	return nil
}

// writeBlob stores a small blob (a config or manifest) under its digest.
func (s *Store) writeBlob(data []byte) (v1.Hash, error) {
	digest, _, err := v1.SHA256(bytes.NewReader(data))
	if err != nil {
		return digest, err
	}
	if _, err := os.Stat(s.blobPath(digest)); err == nil {
		return digest, nil
	}
	return digest, s.writeFileAtomic(s.blobPath(digest), data)
}

// hasBlob reports whether the store holds the blob desc names, at its full size.
func (s *Store) hasBlob(desc v1.Descriptor) bool {
	info, err := os.Stat(s.blobPath(desc.Digest))
	return err == nil && info.Size() == desc.Size
}

func (s *Store) hasLayerDir(diffID v1.Hash) bool {
	_, err := os.Stat(s.LayerDir(diffID))
	return err == nil
}

// fetchLayers makes sure every layer of img has its blob and, with unpack, its unpacked
// directory in the store, a few layers at a time. Layers the store has in full are skipped.
func (s *Store) fetchLayers(ctx context.Context, img v1.Image, layers []v1.Descriptor, diffIDs []v1.Hash, progress func(v1.Update), unpack bool) error {
	var todo []int
	var total int64
	for i, l := range layers {
		if !l.MediaType.IsLayer() || !l.MediaType.IsDistributable() {
			return fmt.Errorf("layer %s has media type %q, which is not a layer this store can fetch and unpack", l.Digest, l.MediaType)
		}
		if l.Digest.Algorithm != "sha256" || diffIDs[i].Algorithm != "sha256" {
			return fmt.Errorf("layer %s: only sha256 digests are supported", l.Digest)
		}
		if !s.hasBlob(l) || unpack && !s.hasLayerDir(diffIDs[i]) {
			todo = append(todo, i)
			total += l.Size
		}
	}
	report := &reporter{fn: progress, update: v1.Update{Total: total}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slots := make(chan struct{}, parallelLayers)
	errs := make([]error, len(layers))
	var wg sync.WaitGroup
	for _, i := range todo {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			if ctx.Err() != nil {
				return
			}
			if errs[i] = s.fetchLayer(ctx, img, layers[i], diffIDs[i], report, unpack); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	// The first real failure, not the cancellations it caused in the other layers.
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return ctx.Err()
}

// fetchLayer reads one layer from the store's own blob if it has it (to unpack it), or from
// img (a registry, an archive) otherwise; ingest checks it either way.
func (s *Store) fetchLayer(ctx context.Context, img v1.Image, desc v1.Descriptor, diffID v1.Hash, report *reporter, unpack bool) error {
	var blob io.ReadCloser
	haveBlob := s.hasBlob(desc)
	if haveBlob {
		f, err := os.Open(s.blobPath(desc.Digest))
		if err != nil {
			return fmt.Errorf("layer %s: %w", desc.Digest, err)
		}
		blob = f
	} else if pulled, ok := img.(*registryImage); ok {
		var err error
		if blob, err = pulled.openBlob(ctx, desc.Digest); err != nil {
			return fmt.Errorf("fetch layer %s: %w", desc.Digest, err)
		}
	} else {
		layer, err := img.LayerByDigest(desc.Digest)
		if err != nil {
			return fmt.Errorf("layer %s: %w", desc.Digest, err)
		}
		if blob, err = layer.Compressed(); err != nil {
			return fmt.Errorf("fetch layer %s: %w", desc.Digest, err)
		}
	}
	defer blob.Close()
	return s.ingest(contextReader{ctx, blob}, desc, diffID, !haveBlob, unpack && !s.hasLayerDir(diffID), report)
}

// ingest reads one compressed layer blob from r, exactly once. As the bytes stream by they
// are hashed (the digest) and, with keepBlob, written to a new blob file; with unpack, they
// are also decompressed, hashed again (the diff ID) and unpacked into a new directory. Only
// if the size and the hashes match what the manifest and config promise are the blob and
// the directory renamed into the store. Otherwise both are deleted: a bad layer, hostile
// or merely truncated, leaves nothing behind.
func (s *Store) ingest(r io.Reader, desc v1.Descriptor, diffID v1.Hash, keepBlob, unpack bool, report *reporter) (err error) {
	p, err := s.newPending(keepBlob, unpack)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			p.discard()
		}
	}()
	digester, size := sha256.New(), &counter{}
	sinks := []io.Writer{digester, size, report}
	if p.blob != nil {
		sinks = append(sinks, p.blob)
	}
	// One byte more than promised is read, so that an oversized blob shows as one.
	compressed := bufio.NewReaderSize(io.TeeReader(io.LimitReader(r, desc.Size+1), io.MultiWriter(sinks...)), 1<<20)
	differ := sha256.New()
	var contentErr error
	if unpack {
		contentErr = unpackStream(compressed, differ, p.dir)
	}
	// The rest of the blob is read whatever happened: bytes that are not what the
	// manifest names are the first thing to report, before anything found in them.
	if err := drain(compressed); err != nil {
		// An image's own layers may check the digest too and fail the last read
		// (go-containerregistry's remote layers do, for an image from a registry added
		// as it is rather than as a registryImage): if every promised byte arrived, a
		// mismatch is what to report, the same error a blob from anywhere else gets.
		if size.n == desc.Size {
			if mismatch := matches(digester, desc.Digest, "layer blob"); mismatch != nil {
				return fmt.Errorf("layer %s: %w", desc.Digest, mismatch)
			}
		}
		return fmt.Errorf("layer %s: %w", desc.Digest, err)
	}
	if size.n != desc.Size {
		return fmt.Errorf("layer %s is %d bytes, not %d as the manifest says: %w", desc.Digest, size.n, desc.Size, ErrDigestMismatch)
	}
	if err := matches(digester, desc.Digest, "layer blob"); err != nil {
		return err
	}
	if contentErr != nil {
		return fmt.Errorf("layer %s: %w", desc.Digest, contentErr)
	}
	// A blob kept without unpacking is not decompressed: its content is checked against
	// the diff ID when it is unpacked from the store, which reads it through ingest again.
	if unpack {
		if err := matches(differ, diffID, "uncompressed layer (diff ID)"); err != nil {
			return err
		}
	}
	return p.commit(desc.Digest, diffID)
}

// drain reads r to its end in large reads. io.Copy to io.Discard would read 8 KB at a time
// (Discard's own ReadFrom), and every read is one write to each tee sink, the blob file
// included: a pull without unpack spent most of its time in those small syscalls.
func drain(r io.Reader) error {
	buf := make([]byte, 1<<20)
	for {
		_, err := r.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// unpackStream decompresses a layer blob, hashes the tar into differ and unpacks it into dir.
func unpackStream(compressed *bufio.Reader, differ io.Writer, dir string) error {
	stream, err := decompress(compressed)
	if err != nil {
		return err
	}
	defer stream.Close()
	tarStream := io.TeeReader(stream, differ)
	if err := unpackLayer(tarStream, dir); err != nil {
		return err
	}
	// The tar's end padding is part of the diff ID.
	_, err = io.Copy(io.Discard, tarStream)
	return err
}

// newLayer makes a layer from an uncompressed tar stream (an import, a commit), again in one
// pass: the tar is hashed (diff ID), unpacked, and gzip-compressed into a new blob that is
// hashed too (digest). It returns the blob's descriptor (without a media type) and the diff ID.
func (s *Store) newLayer(tarStream io.Reader) (desc v1.Descriptor, diffID v1.Hash, err error) {
	p, err := s.newPending(true, true)
	if err != nil {
		return desc, diffID, err
	}
	defer func() {
		if err != nil {
			p.discard()
		}
	}()
	digester, size := sha256.New(), &counter{}
	blob := bufio.NewWriterSize(io.MultiWriter(p.blob, digester, size), 1<<20)
	gz := gzip.NewWriter(blob)
	differ := sha256.New()
	tee := io.TeeReader(tarStream, io.MultiWriter(differ, gz))
	if err = unpackLayer(tee, p.dir); err == nil {
		_, err = io.Copy(io.Discard, tee)
	}
	if err == nil {
		err = gz.Close()
	}
	if err == nil {
		err = blob.Flush()
	}
	if err != nil {
		return desc, diffID, fmt.Errorf("make layer: %w", err)
	}
	desc = v1.Descriptor{Size: size.n, Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(digester.Sum(nil))}}
	diffID = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(differ.Sum(nil))}
	return desc, diffID, p.commit(desc.Digest, diffID)
}

// pending is a layer on its way into the store: a blob file and an unpacked directory in
// tmp/, on the store's file system so that commit can rename them into place atomically.
type pending struct {
	s    *Store
	blob *os.File // nil when the blob is not written
	dir  string   // "" when the layer is not unpacked
}

func (s *Store) newPending(blob, unpack bool) (*pending, error) {
	p := &pending{s: s}
	var err error
	if blob {
		if p.blob, err = os.CreateTemp(s.path("tmp"), "blob-"); err != nil {
			return nil, fmt.Errorf("make blob file: %w", err)
		}
	}
	if unpack {
		if p.dir, err = os.MkdirTemp(s.path("tmp"), "layer-"); err == nil {
			err = os.Chmod(p.dir, 0o755) // the root of the layer, like "/"
		}
		if err != nil {
			p.discard()
			return nil, fmt.Errorf("make layer directory: %w", err)
		}
	}
	return p, nil
}

// commit moves the verified blob and directory to their content-addressed places. If
// another process unpacked the same layer meanwhile, its directory stays and ours goes:
// they are the same content.
func (p *pending) commit(digest, diffID v1.Hash) error {
	if p.blob != nil {
		if err := p.blob.Close(); err != nil {
			return fmt.Errorf("write blob %s: %w", digest, err)
		}
		if err := os.Rename(p.blob.Name(), p.s.blobPath(digest)); err != nil {
			return fmt.Errorf("store blob %s: %w", digest, err)
		}
		p.blob = nil
	}
	if p.dir != "" {
		err := os.Rename(p.dir, p.s.LayerDir(diffID))
		if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
			err = os.RemoveAll(p.dir)
		}
		if err != nil {
			return fmt.Errorf("store layer %s: %w", diffID, err)
		}
		p.dir = ""
	}
	return nil
}

func (p *pending) discard() {
	if p.blob != nil {
		p.blob.Close()
		os.Remove(p.blob.Name())
	}
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}

// decompress returns the uncompressed stream of a layer blob, recognising gzip and zstd by
// their magic numbers; anything else is taken to be an uncompressed tar.
func decompress(r *bufio.Reader) (io.ReadCloser, error) {
	magic, _ := r.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("read gzip: %w", err)
		}
		return gz, nil
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("read zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(r), nil
}

// Layers returns the unpacked directories of the image ref names, lowest first: its
// overlay lowerdirs. Layers whose directory is missing (an image loaded from an archive
// whose layers were collected, say) are unpacked from their blobs first.
func (s *Store) Layers(ref string) ([]string, error) {
	unlock, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	img, desc, err := s.image(ref)
	if err != nil {
		return nil, err
	}
	m, cfg, err := s.read(desc.Digest)
	if err != nil {
		return nil, err
	}
	if err := s.fetchLayers(context.Background(), img, m.Layers, cfg.RootFS.DiffIDs, nil, true); err != nil {
		return nil, fmt.Errorf("unpack %s: %w", ref, err)
	}
	dirs := make([]string, len(cfg.RootFS.DiffIDs))
	for i, diffID := range cfg.RootFS.DiffIDs {
		dirs[i] = s.LayerDir(diffID)
	}
	return dirs, nil
}

// counter counts the bytes written to it.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// reporter adds up the bytes of concurrent transfers and reports the total to one
// callback, one call at a time.
type reporter struct {
	mu     sync.Mutex
	fn     func(v1.Update)
	update v1.Update
}

func (r *reporter) Write(p []byte) (int, error) {
	if r == nil || r.fn == nil {
		return len(p), nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.update.Complete += int64(len(p))
	r.fn(r.update)
	return len(p), nil
}

// contextReader stops a read when its context is cancelled, so one failed layer stops
// the others.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

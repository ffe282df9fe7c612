package image_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/image"
	"containerlabs/labs/labtest"
)

// countingRegistry is an in-process registry on 127.0.0.1 that counts blob uploads and
// blob downloads, to prove what a push or pull skipped.
type countingRegistry struct {
	handler http.Handler
	mu      sync.Mutex
	uploads int            // finished blob uploads (the PUT that commits one)
	gets    map[string]int // blob downloads by digest
}

func (c *countingRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	switch {
	case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/"):
		c.uploads++
	case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:"):
		c.gets[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]++
	}
	c.mu.Unlock()
	c.handler.ServeHTTP(w, r)
}

func (c *countingRegistry) counts() (int, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gets := map[string]int{}
	for k, v := range c.gets {
		gets[k] = v
	}
	return c.uploads, gets
}

func startRegistry(t testing.TB) (*countingRegistry, string) {
	t.Helper()
	reg := &countingRegistry{handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), gets: map[string]int{}}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	require.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"), "the test registry must listen on loopback, got %s", srv.URL)
	return reg, strings.TrimPrefix(srv.URL, "http://")
}

func TestPushAndPullThroughARegistry(t *testing.T) {
	labtest.RequireRoot(t)
	reg, host := startRegistry(t)
	dir := labtest.TempDir(t)
	src := openStore(t, filepath.Join(dir, "src"))
	ctx := context.Background()

	busyboxImage(t, src, "base", nil)
	commit := func(ref, file string) *image.Details {
		c := mountImage(t, src, "base", filepath.Join(dir, "c-"+file))
		require.NoError(t, os.WriteFile(filepath.Join(c.merged, file), []byte(file), 0o644))
		_, err := src.Commit("base", c.upper, ref, image.Meta{})
		require.NoError(t, err)
		d, err := src.Inspect(ref)
		require.NoError(t, err)
		return d
	}
	v1Ref, v2Ref := host+"/lab/app:v1", host+"/lab/app:v2"
	app1 := commit(v1Ref, "one")
	app2 := commit(v2Ref, "two")
	require.Equal(t, app1.Layers[0].Digest, app2.Layers[0].Digest, "both images share the base layer")

	var last v1.Update
	digest, err := src.Push(ctx, v1Ref, image.Options{Progress: func(u v1.Update) { last = u }})
	require.NoError(t, err)
	assert.Equal(t, app1.Digest, digest)
	assert.Positive(t, last.Total, "push must report progress")
	assert.Equal(t, last.Total, last.Complete, "the last progress report must be complete")
	uploads, _ := reg.counts()
	assert.Equal(t, 3, uploads, "the first push sends two layers and the config")

	_, err = src.Push(ctx, v2Ref, image.Options{})
	require.NoError(t, err)
	uploads, _ = reg.counts()
	assert.Equal(t, 3+2, uploads, "the second push must not send the shared base layer again")

	dst := openStore(t, filepath.Join(dir, "dst"))
	var pulled v1.Update
	got, err := dst.Pull(ctx, v1Ref, image.Options{Progress: func(u v1.Update) { pulled = u }})
	require.NoError(t, err)
	assert.Equal(t, app1.Digest, got, "a pulled image must have the digest it was pushed with")
	assert.Equal(t, pulled.Total, pulled.Complete)
	assert.Equal(t, app1.Layers[0].Size+app1.Layers[1].Size, pulled.Total, "pull reports the layer bytes it fetched")
	got, err = dst.Pull(ctx, v2Ref, image.Options{})
	require.NoError(t, err)
	assert.Equal(t, app2.Digest, got)
	_, gets := reg.counts()
	assert.Equal(t, 1, gets[app1.Layers[0].Digest.String()], "the shared base layer must be downloaded once")
	assert.Equal(t, 1, gets[app2.Layers[1].Digest.String()])

	c := mountImage(t, dst, v2Ref, filepath.Join(dir, "run"))
	assert.Equal(t, "two", runIn(t, c.merged, "cat", "/two"))
}

func TestPullOfAMissingImageSaysSo(t *testing.T) {
	_, host := startRegistry(t)
	s := openStore(t, t.TempDir())
	_, err := s.Pull(context.Background(), host+"/lab/nothing:here", image.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "lab/nothing:here")
	list, err := s.List()
	require.NoError(t, err)
	assert.Empty(t, list)
}

// tokenRegistry is the in-process registry behind a bearer token, as a registry with
// accounts is: a request without the token is refused with a challenge that sends the
// client to /token, which hands the token out for the right password only.
type tokenRegistry struct {
	handler  http.Handler
	realm    string // the /token URL, set once the server has its address
	mu       sync.Mutex
	blobGets map[string]int // blob downloads that came with the token, by digest
}

const registryToken = "lab-token"

func (r *tokenRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/token" {
		if user, password, ok := req.BasicAuth(); !ok || user != "lab" || password != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"token": registryToken})
		return
	}
	if req.Header.Get("Authorization") != "Bearer "+registryToken {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="lab"`, r.realm))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/sha256:") {
		r.mu.Lock()
		r.blobGets[req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]]++
		r.mu.Unlock()
	}
	r.handler.ServeHTTP(w, req)
}

func TestPullAuthenticatesTheBlobDownloads(t *testing.T) {
	labtest.RequireRoot(t)
	reg := &tokenRegistry{handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), blobGets: map[string]int{}}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	reg.realm = srv.URL + "/token"
	host := strings.TrimPrefix(srv.URL, "http://")
	// The credentials `docker login` would leave, in a home of the test's own.
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", filepath.Join(home, ".docker"))
	require.NoError(t, os.Mkdir(filepath.Join(home, ".docker"), 0o700))
	config := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, host, base64.StdEncoding.EncodeToString([]byte("lab:secret")))
	require.NoError(t, os.WriteFile(filepath.Join(home, ".docker", "config.json"), []byte(config), 0o600))
	ref := host + "/lab/private:1"
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	layer := layerOf(t, file("private", "behind a token"))
	require.NoError(t, remote.Write(r, imageOf(t, layer), remote.WithAuthFromKeychain(authn.DefaultKeychain)))
	digest, err := layer.Digest()
	require.NoError(t, err)

	s := openStore(t, filepath.Join(labtest.TempDir(t), "images"))
	_, err = s.Pull(context.Background(), ref, image.Options{})
	require.NoError(t, err, "a pull must download the layer blobs with the registry's token, got from the credentials in the Docker config")
	assert.Equal(t, 1, reg.blobGets[digest.String()], "the layer blob must be downloaded once, with the token")
	diffID, err := layer.DiffID()
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(s.LayerDir(diffID), "private"))
	require.NoError(t, err)
	assert.Equal(t, "behind a token", string(got))
}

// blobHook wraps the in-process registry: a GET of a blob that hold names is served by
// hold, with the registry's own response (status, headers, body) in hand.
type blobHook struct {
	handler http.Handler
	hold    func(w http.ResponseWriter, digest string, response *httptest.ResponseRecorder) bool
}

func (b *blobHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
		response := httptest.NewRecorder()
		b.handler.ServeHTTP(response, r)
		if b.hold(w, r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:], response) {
			return
		}
		maps.Copy(w.Header(), response.Header())
		w.WriteHeader(response.Code)
		_, _ = w.Write(response.Body.Bytes())
		return
	}
	b.handler.ServeHTTP(w, r)
}

// startHookedRegistry starts a registry on 127.0.0.1 whose blob downloads go through hold
// (which returns false to serve one as it is), and uploads img to it as REGISTRY/lab/app:1.
func startHookedRegistry(t *testing.T, img v1.Image, hold func(http.ResponseWriter, string, *httptest.ResponseRecorder) bool) string {
	t.Helper()
	srv := httptest.NewServer(&blobHook{handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), hold: hold})
	t.Cleanup(srv.Close)
	require.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"), "the test registry must listen on loopback, got %s", srv.URL)
	ref := strings.TrimPrefix(srv.URL, "http://") + "/lab/app:1"
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	require.NoError(t, remote.Write(r, img, remote.WithContext(context.Background())))
	return ref
}

func TestPullOfATamperedLayerLeavesNothingAndRetriesCleanly(t *testing.T) {
	labtest.RequireRoot(t)
	good, bad := layerOf(t, file("base", "a good layer")), layerOf(t, file("app", strings.Repeat("app ", 4000)))
	img := imageOf(t, good, bad)
	badDigest, err := bad.Digest()
	require.NoError(t, err)
	badDiffID, err := bad.DiffID()
	require.NoError(t, err)
	// The store reads a registry's blobs as they are sent and checks them itself; these are
	// the ways the bytes can differ from what the manifest names. A pull that keeps the
	// blobs only has no gunzip to stumble on them either: only the digest and size can tell.
	tampers := []struct {
		name   string
		change func([]byte) []byte
	}{
		{"one byte changed", func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }},
		{"one byte more", func(b []byte) []byte { return append(b, 0) }},
		{"one byte short", func(b []byte) []byte { return b[:len(b)-1] }},
	}
	for _, tc := range tampers {
		for _, blobsOnly := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, blobs only %v", tc.name, blobsOnly), func(t *testing.T) {
				var tamper atomic.Bool
				tamper.Store(true)
				ref := startHookedRegistry(t, img, func(w http.ResponseWriter, digest string, response *httptest.ResponseRecorder) bool {
					if digest != badDigest.String() || !tamper.Load() {
						return false
					}
					maps.Copy(w.Header(), response.Header())
					w.Header().Del("Content-Length") // the body's own length, whatever it is
					w.WriteHeader(response.Code)
					_, _ = w.Write(tc.change(response.Body.Bytes()))
					return true
				})
				s := openStore(t, filepath.Join(labtest.TempDir(t), "images"))
				opts := image.Options{BlobsOnly: blobsOnly}

				_, err := s.Pull(context.Background(), ref, opts)
				require.Error(t, err, "a layer whose bytes are not its digest must fail the pull")
				assert.ErrorIs(t, err, image.ErrDigestMismatch)
				assert.Contains(t, err.Error(), badDigest.String(), "the error must name the layer whose bytes did not match")
				assert.Empty(t, listTree(t, filepath.Join(s.Root(), "tmp")), "a half-written layer or blob was left in tmp/")
				assert.NoDirExists(t, s.LayerDir(badDiffID), "the tampered layer must not be in the store")
				assert.NoFileExists(t, filepath.Join(s.Root(), "blobs", "sha256", badDigest.Hex), "the tampered blob must not be in the store")
				list, err := s.List()
				require.NoError(t, err)
				assert.Empty(t, list, "a failed pull must not name an image")

				tamper.Store(false)
				_, err = s.Pull(context.Background(), ref, opts)
				require.NoError(t, err, "a pull after the failed one must start afresh and succeed")
				assert.FileExists(t, filepath.Join(s.Root(), "blobs", "sha256", badDigest.Hex))
				if !blobsOnly {
					app, err := os.ReadFile(filepath.Join(s.LayerDir(badDiffID), "app"))
					require.NoError(t, err)
					assert.Equal(t, strings.Repeat("app ", 4000), string(app))
				}
				assert.Empty(t, listTree(t, filepath.Join(s.Root(), "tmp")))
			})
		}
	}
}

// heldLayer is a gzip'd layer whose first file, "first-N", is complete (gzip flushed)
// within the first split bytes of the blob; 256 KiB of random bytes follow in "rest".
func heldLayer(t *testing.T, n int) (v1.Layer, int) {
	t.Helper()
	var blob bytes.Buffer
	gz := gzip.NewWriter(&blob)
	tw := tar.NewWriter(gz)
	rest := make([]byte, 256<<10)
	_, err := rand.Read(rest)
	require.NoError(t, err)
	first := fmt.Sprintf("first-%d", n)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: first, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(first))}))
	_, err = tw.Write([]byte(first))
	require.NoError(t, err)
	require.NoError(t, tw.Flush())
	require.NoError(t, gz.Flush())
	split := blob.Len()
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "rest", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(rest))}))
	_, err = tw.Write(rest)
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob.Bytes())), nil })
	require.NoError(t, err)
	return l, split
}

func TestPullUnpacksLayersWhileTheyDownload(t *testing.T) {
	labtest.RequireRoot(t)
	layer1, split1 := heldLayer(t, 1)
	layer2, split2 := heldLayer(t, 2)
	splits := map[string]int{}
	for _, l := range []struct {
		layer v1.Layer
		split int
	}{{layer1, split1}, {layer2, split2}} {
		d, err := l.layer.Digest()
		require.NoError(t, err)
		splits[d.String()] = l.split
	}
	// Each layer's download stops after its first file until the test releases them all.
	release := make(chan struct{})
	ref := startHookedRegistry(t, imageOf(t, layer1, layer2), func(w http.ResponseWriter, digest string, response *httptest.ResponseRecorder) bool {
		split, ok := splits[digest]
		if !ok {
			return false
		}
		maps.Copy(w.Header(), response.Header())
		w.WriteHeader(response.Code)
		_, _ = w.Write(response.Body.Bytes()[:split])
		w.(http.Flusher).Flush()
		<-release
		_, _ = w.Write(response.Body.Bytes()[split:])
		return true
	})
	s := openStore(t, filepath.Join(labtest.TempDir(t), "images"))
	pulled := make(chan error, 1)
	go func() {
		_, err := s.Pull(context.Background(), ref, image.Options{})
		pulled <- err
	}()

	// While both downloads are held at their first half, each layer's first file must
	// already be unpacked into its own directory in tmp/, and no layer committed: the
	// digest of neither blob can be checked yet. (The wait is a bound, not a measurement:
	// a pull that buffers a blob before unpacking it, or fetches layers one at a time,
	// never gets there.)
	var unpacking []string
	for deadline := time.Now().Add(30 * time.Second); len(unpacking) < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		unpacking, _ = filepath.Glob(filepath.Join(s.Root(), "tmp", "layer-*", "first-*"))
	}
	committed := listTree(t, filepath.Join(s.Root(), "layers"))
	close(release)
	require.NoError(t, <-pulled)
	sort.Strings(unpacking)
	require.Len(t, unpacking, 2, "both layers must be downloading and unpacking at once, each into its own directory, before either blob is complete; found %v", unpacking)
	assert.NotEqual(t, filepath.Dir(unpacking[0]), filepath.Dir(unpacking[1]), "each layer must be unpacked into its own directory")
	assert.Empty(t, committed, "no layer may be committed before its whole blob is verified")
	d, err := s.Inspect(ref)
	require.NoError(t, err)
	for i, l := range d.Layers {
		assert.FileExists(t, filepath.Join(l.Dir, fmt.Sprintf("first-%d", i+1)))
		assert.FileExists(t, filepath.Join(l.Dir, "rest"))
	}
	assert.Empty(t, listTree(t, filepath.Join(s.Root(), "tmp")))
}

// BenchmarkPullBlobsOnly pulls an image of four layers of 8 MB of random bytes from a
// registry on 127.0.0.1 into an empty store, without unpacking it: the download, the digest
// check and the blob files of `pull --no-unpack` (scripts/bench.sh times that beside crane).
func BenchmarkPullBlobsOnly(b *testing.B) {
	labtest.RequireRoot(b)
	_, host := startRegistry(b)
	var layers []v1.Layer
	for range 4 {
		random := make([]byte, 8<<20)
		_, err := rand.Read(random)
		require.NoError(b, err)
		layers = append(layers, layerOf(b, file("random", string(random))))
	}
	img := imageOf(b, layers...)
	ref := host + "/lab/big:1"
	r, err := name.ParseReference(ref)
	require.NoError(b, err)
	require.NoError(b, remote.Write(r, img))
	m, err := img.Manifest()
	require.NoError(b, err)
	var size int64
	for _, l := range m.Layers {
		size += l.Size
	}
	b.SetBytes(size)
	dir := labtest.TempDir(b)
	i := 0
	for b.Loop() {
		s := openStore(b, filepath.Join(dir, fmt.Sprint(i)))
		if _, err := s.Pull(context.Background(), ref, image.Options{BlobsOnly: true}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		require.NoError(b, os.RemoveAll(s.Root()))
		i++
		b.StartTimer()
	}
}

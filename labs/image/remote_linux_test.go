package image_test

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
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

func startRegistry(t *testing.T) (*countingRegistry, string) {
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

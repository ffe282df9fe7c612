package image_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/image"
	"containerlabs/labs/labtest"
)

// dockerArchive writes a docker-archive by hand: manifest.json, a config whose diff IDs
// are the digests of the uncompressed layers, and each layer file as given (compressed or
// not, under a name that says nothing about it).
func dockerArchive(t *testing.T, ref string, plain [][]byte, stored [][]byte) []byte {
	var diffIDs []string
	var names []string
	for i, p := range plain {
		h, _, err := v1.SHA256(bytes.NewReader(p))
		require.NoError(t, err)
		diffIDs = append(diffIDs, h.String())
		names = append(names, fmt.Sprintf("layer%d/layer.tar", i))
	}
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Cmd": []string{"sh"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	require.NoError(t, err)
	manifest, err := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{ref}, "Layers": names}})
	require.NoError(t, err)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(data)
		require.NoError(t, err)
	}
	add("manifest.json", manifest)
	add("config.json", config)
	for i, s := range stored {
		add(names[i], s)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

func gzipped(t *testing.T, data []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func zstded(t *testing.T, data []byte) []byte {
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	require.NoError(t, err)
	_, err = zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// TestLoadDetectsEachLayersCompression loads docker-archives whose layer files are plain,
// gzip or zstd tars, in every mix, under the name layer.tar: the compression is read from
// each layer's first bytes, never from its name, as `docker load` does.
func TestLoadDetectsEachLayersCompression(t *testing.T) {
	labtest.RequireRoot(t)
	base := labtest.TempDir(t)
	one, two := tarOf(t, file("one", "first layer")), tarOf(t, file("two", "second layer"))
	for name, stored := range map[string][][]byte{
		"plain":       {one, two},
		"gzip":        {gzipped(t, one), gzipped(t, two)},
		"plain, gzip": {one, gzipped(t, two)},
		"gzip, plain": {gzipped(t, one), two},
		"zstd, gzip":  {zstded(t, one), gzipped(t, two)},
	} {
		t.Run(name, func(t *testing.T) {
			// A store of its own: one that has a layer already would not unpack it again.
			s := openStore(t, filepath.Join(base, strings.NewReplacer(", ", "-").Replace(name)))
			ref := "labs/mixed:" + strings.NewReplacer(", ", "-").Replace(name)
			loaded, err := s.Load(bytes.NewReader(dockerArchive(t, ref, [][]byte{one, two}, stored)))
			require.NoError(t, err)
			assert.Equal(t, []string{ref}, loaded)
			layers, err := s.Layers(ref)
			require.NoError(t, err)
			require.Len(t, layers, 2)
			data, err := os.ReadFile(filepath.Join(layers[0], "one"))
			require.NoError(t, err)
			assert.Equal(t, "first layer", string(data))
			data, err = os.ReadFile(filepath.Join(layers[1], "two"))
			require.NoError(t, err)
			assert.Equal(t, "second layer", string(data))
		})
	}
	for name, compress := range map[string]func(*testing.T, []byte) []byte{"gzip": gzipped, "zstd": zstded} {
		t.Run("the whole archive compressed with "+name, func(t *testing.T) {
			s := openStore(t, filepath.Join(base, "whole-"+name))
			archive := dockerArchive(t, "labs/whole:"+name, [][]byte{one, two}, [][]byte{gzipped(t, one), two})
			loaded, err := s.Load(bytes.NewReader(compress(t, archive)))
			require.NoError(t, err, "docker load takes `docker save | gzip`")
			assert.Equal(t, []string{"labs/whole:" + name}, loaded)
		})
	}
	t.Run("a layer whose content does not match its diff ID", func(t *testing.T) {
		// A fresh store: one that has the layer already would not unpack it again.
		s := openStore(t, filepath.Join(base, "fresh"))
		other := tarOf(t, file("one", "not the first layer"))
		_, err := s.Load(bytes.NewReader(dockerArchive(t, "labs/lying:1", [][]byte{one, two}, [][]byte{gzipped(t, other), two})))
		require.ErrorIs(t, err, image.ErrDigestMismatch, "valid gzip, valid tar, wrong content: the diff ID check must catch it")
		list, _ := s.List()
		for _, img := range list {
			assert.NotEqual(t, "labs/lying:1", img.Ref)
		}
	})
}

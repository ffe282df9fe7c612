package main_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
	"containerlabs/labs/state"
)

// TestEscapes runs the escape gallery (labs/labtest/gallery.go) against this lab, with the
// limits it offers: each attack is a check that it still works, or that it fails, as the
// matrix in README.md says.
func TestEscapes(t *testing.T) {
	labtest.RunGallery(t, lab, func(t *testing.T, bin *labtest.Binary, root string) labtest.GalleryLab {
		t.Setenv(state.EnvRoot, labtest.TempDir(t))
		network := []string{"--bridge", "cltesc07", "--subnet", "10.199.77.0/24"}
		t.Cleanup(func() { bin.Run(t, append([]string{"cleanup"}, network...)...) })
		const image = "containerlabs/gallery:latest"
		res := bin.Run(t, "import", root, image)
		require.Equal(t, 0, res.Code, labtest.Hint("`07-images import DIR REF` makes an image of the gallery's root").With(res))
		return labtest.GalleryLab{Run: func(t testing.TB, bin *labtest.Binary, args ...string) labtest.Result {
			run := append([]string{"run", "--memory", "64m", "--pids-limit", "64"}, network...)
			return bin.Run(t, append(append(run, image, "/probe"), args...)...)
		}}
	})
}

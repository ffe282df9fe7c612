package main_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
	"containerlabs/labs/state"
)

// containers makes this lab's containers from an image of the gallery's root, on a network
// of the checks' own, with the limits it offers.
func containers(t *testing.T, bin *labtest.Binary, root string) labtest.GalleryLab {
	t.Setenv(state.EnvRoot, labtest.TempDir(t))
	network := []string{"--bridge", "cltesc07", "--subnet", "10.199.77.0/24"}
	t.Cleanup(func() { bin.Run(t, append([]string{"cleanup"}, network...)...) })
	const image = "containerlabs/gallery:latest"
	res := bin.Run(t, "import", root, image)
	require.Equal(t, 0, res.Code, labtest.Hint("`07-images import DIR REF` makes an image of the gallery's root").With(res))
	return labtest.GalleryLab{Limits: []string{"--memory", "64m", "--pids-limit", "64"},
		Run: func(t testing.TB, bin *labtest.Binary, flags []string, command ...string) labtest.Result {
			run := append(append([]string{"run"}, network...), flags...)
			return bin.Run(t, append(append(run, image), command...)...)
		}}
}

// TestEscapes runs the escape gallery (labs/labtest/gallery.go) against this lab: each
// attack is a check that it still works, or that it fails, as the matrix in README.md says.
func TestEscapes(t *testing.T) { labtest.RunGallery(t, lab, containers) }

// TestEarlierSteps checks that the steps of labs 03 to 06, which this lab's main.go
// repeats, still hold.
func TestEarlierSteps(t *testing.T) { labtest.RunEarlierSteps(t, lab, containers) }

package main_test

import (
	"testing"

	"containerlabs/labs/labtest"
	"containerlabs/labs/state"
)

// containers makes this lab's containers on the gallery's root as their one layer, with the
// limits it offers.
func containers(t *testing.T, _ *labtest.Binary, root string) labtest.GalleryLab {
	t.Setenv(state.EnvRoot, labtest.TempDir(t))
	return labtest.GalleryLab{Limits: []string{"--memory", "64m", "--pids-limit", "64"},
		Run: func(t testing.TB, bin *labtest.Binary, flags []string, command ...string) labtest.Result {
			return bin.Run(t, append(append([]string{"run", "--layer", root}, flags...), command...)...)
		}}
}

// TestEscapes runs the escape gallery (labs/labtest/gallery.go) against this lab: each
// attack is a check that it still works, or that it fails, as the matrix in README.md says.
func TestEscapes(t *testing.T) { labtest.RunGallery(t, lab, containers) }

// TestEarlierSteps checks that the steps of labs 03 and 04, which this lab's main.go
// repeats, still hold.
func TestEarlierSteps(t *testing.T) { labtest.RunEarlierSteps(t, lab, containers) }

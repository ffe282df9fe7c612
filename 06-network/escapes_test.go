package main_test

import (
	"testing"

	"containerlabs/labs/labtest"
	"containerlabs/labs/state"
)

// containers makes this lab's containers on the gallery's root as their one layer, on a
// network of the checks' own, with the limits it offers.
func containers(t *testing.T, bin *labtest.Binary, root string) labtest.GalleryLab {
	t.Setenv(state.EnvRoot, labtest.TempDir(t))
	network := []string{"--bridge", "cltesc06", "--subnet", "10.199.66.0/24"}
	t.Cleanup(func() { bin.Run(t, append([]string{"cleanup"}, network...)...) })
	return labtest.GalleryLab{Limits: []string{"--memory", "64m", "--pids-limit", "64"},
		Run: func(t testing.TB, bin *labtest.Binary, flags []string, command ...string) labtest.Result {
			run := append(append([]string{"run", "--layer", root}, network...), flags...)
			return bin.Run(t, append(run, command...)...)
		}}
}

// TestEscapes runs the escape gallery (labs/labtest/gallery.go) against this lab: each
// attack is a check that it still works, or that it fails, as the matrix in README.md says.
func TestEscapes(t *testing.T) { labtest.RunGallery(t, lab, containers) }

// TestEarlierSteps checks that the steps of labs 03 to 05, which this lab's main.go
// repeats, still hold, and the network's /etc files.
func TestEarlierSteps(t *testing.T) { labtest.RunEarlierSteps(t, lab, containers) }

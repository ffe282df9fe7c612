package main_test

import (
	"testing"

	"containerlabs/labs/labtest"
)

// containers makes this lab's containers on the gallery's root, with the limits it offers.
func containers(t *testing.T, _ *labtest.Binary, root string) labtest.GalleryLab {
	return labtest.GalleryLab{Limits: []string{"--memory", "64m", "--pids-limit", "64"},
		Run: func(t testing.TB, bin *labtest.Binary, flags []string, command ...string) labtest.Result {
			return bin.Run(t, append(append(append([]string{"run"}, flags...), root), command...)...)
		}}
}

// TestEscapes runs the escape gallery (labs/labtest/gallery.go) against this lab: each
// attack is a check that it still works, or that it fails, as the matrix in README.md says.
func TestEscapes(t *testing.T) { labtest.RunGallery(t, lab, containers) }

// TestEarlierSteps checks that lab 03's steps, which this lab's main.go repeats, still hold.
func TestEarlierSteps(t *testing.T) { labtest.RunEarlierSteps(t, lab, containers) }

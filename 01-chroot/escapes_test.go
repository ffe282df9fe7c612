package main_test

import (
	"testing"

	"containerlabs/labs/labtest"
)

// TestEscapes runs the escape gallery (labs/labtest/gallery.go) against this lab: each
// attack is a check that it still works, or that it fails, as the matrix in README.md says.
func TestEscapes(t *testing.T) {
	labtest.RunGallery(t, lab, func(t *testing.T, _ *labtest.Binary, root string) labtest.GalleryLab {
		return labtest.GalleryLab{Run: func(t testing.TB, bin *labtest.Binary, flags []string, command ...string) labtest.Result {
			return bin.Run(t, append(append(append([]string{"run"}, flags...), root), command...)...)
		}}
	})
}

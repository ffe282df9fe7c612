package main_test

import (
	"testing"

	"containerlabs/labs/labtest"
)

// TestEscapes runs the escape gallery (labs/labtest/gallery.go) against this lab, with the
// limits it offers: each attack is a check that it still works, or that it fails, as the
// matrix in README.md says.
func TestEscapes(t *testing.T) {
	labtest.RunGallery(t, lab, func(t *testing.T, _ *labtest.Binary, root string) labtest.GalleryLab {
		return labtest.GalleryLab{Run: func(t testing.TB, bin *labtest.Binary, args ...string) labtest.Result {
			return bin.Run(t, append([]string{"run", "--memory", "64m", "--pids-limit", "64", root, "/probe"}, args...)...)
		}}
	})
}

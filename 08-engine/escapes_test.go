package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"containerlabs/labs/engine"
	"containerlabs/labs/labtest"
	"containerlabs/labs/state"
)

// TestEscapes runs the escape gallery (labs/labtest/gallery.go) against the engine, with
// limits as the earlier labs get them: every attack is a check that it fails, and the
// matrix in README.md says what closes each.
func TestEscapes(t *testing.T) {
	labtest.RunGallery(t, lab, func(t *testing.T, bin *labtest.Binary, root string) labtest.GalleryLab {
		t.Setenv(state.EnvRoot, labtest.TempDir(t))
		t.Setenv(engine.EnvBridge, "cltesc08")
		t.Setenv(engine.EnvSubnet, "10.199.88.0/24")
		t.Cleanup(func() {
			if ids := strings.Fields(bin.Run(t, "ps", "-aq").Stdout); len(ids) > 0 {
				bin.Run(t, append([]string{"rm", "-f"}, ids...)...)
			}
			bin.Run(t, "system", "prune")
		})
		const image = "containerlabs/gallery:latest"
		res := bin.Run(t, "import", root, image)
		require.Equal(t, 0, res.Code, labtest.Hint("`08-engine import DIR IMAGE` makes an image of the gallery's root").With(res))
		limits := []string{"--memory", "64m", "--pids-limit", "64"}
		return labtest.GalleryLab{Limits: limits,
			Run: func(t testing.TB, bin *labtest.Binary, flags []string, command ...string) labtest.Result {
				run := append(append([]string{"run", "--rm"}, flags...), image)
				return bin.Run(t, append(run, command...)...)
			},
			Detach: func(t testing.TB, bin *labtest.Binary, args ...string) func(string) (string, labtest.Result) {
				name := "gallery-" + args[0]
				res := bin.Run(t, append(append([]string{"run", "-d", "--name", name}, limits...), append([]string{image, "/probe"}, args...)...)...)
				require.Equal(t, 0, res.Code, labtest.Hint("`08-engine run -d` starts the attacker's container").With(res))
				t.Cleanup(func() { bin.Run(t, "rm", "-f", name) })
				return func(path string) (string, labtest.Result) {
					dest := labtest.TempDir(t)
					res := bin.Run(t, "cp", name+":"+path, dest)
					data, _ := os.ReadFile(filepath.Join(dest, filepath.Base(path)))
					return string(data), res
				}
			},
		}
	})
}

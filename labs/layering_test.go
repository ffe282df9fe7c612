package labs

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLayering checks that every library package imports only packages below it in Ladder,
// and that no library code imports the test harness.
func TestLayering(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "labtest" {
			continue
		}
		pkg := e.Name()
		rank := slices.Index(Ladder, pkg)
		if rank < 0 {
			t.Errorf("package labs/%s is not in Ladder (labs/doc.go): add it where it belongs", pkg)
			continue
		}
		files, _ := filepath.Glob(filepath.Join(pkg, "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path := strings.Trim(imp.Path.Value, `"`)
				dep, ok := strings.CutPrefix(path, "containerlabs/labs/")
				if !ok {
					continue
				}
				// A package's own subpackages (runtime/nsenter) belong to its rung.
				dep, _, _ = strings.Cut(dep, "/")
				if dep == pkg {
					continue
				}
				if dep == "labtest" {
					t.Errorf("%s imports the test harness labtest; only tests may", file)
					continue
				}
				if depRank := slices.Index(Ladder, dep); depRank < 0 || depRank >= rank {
					t.Errorf("%s imports labs/%s, which is not below labs/%s in the ladder", file, dep, pkg)
				}
			}
		}
	}
}

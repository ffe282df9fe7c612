package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIgnore(t *testing.T) {
	ig, err := ParseIgnore(strings.NewReader(`
# comments and blank lines are skipped
*.log
/build
**/*.tmp
docs/**
!docs/README.md
secret?.txt
cache/[a-c]*
`))
	require.NoError(t, err)
	for path, want := range map[string]bool{
		"app.log":               true,
		"sub/app.log":           false, // * does not cross directories
		"build":                 true,
		"build/out/bin":         true, // a pattern also matches what is under a directory
		"buildx":                false,
		"a.tmp":                 true,
		"deep/down/b.tmp":       true,
		"docs/guide.md":         true,
		"docs/README.md":        false, // the exception re-includes it
		"secret1.txt":           true,
		"secret12.txt":          false,
		"cache/apple":           true,
		"cache/zebra":           false,
		"main.go":               false,
		"./app.log":             true,
		"Dockerfile":            false,
		"docs/sub/README.md":    true,
		"deep/down/b.tmp/inner": true,
	} {
		assert.Equal(t, want, ig.Ignored(path), path)
	}
	assert.True(t, ig.hasExceptions())
}

func TestIgnoreLastMatchWins(t *testing.T) {
	ig, err := ParseIgnore(strings.NewReader("!keep.txt\n*.txt\n"))
	require.NoError(t, err)
	assert.True(t, ig.Ignored("keep.txt"), "the exception came first, so *.txt decides")
}

func TestReadIgnoreWithoutFile(t *testing.T) {
	ig, err := ReadIgnore(t.TempDir())
	require.NoError(t, err)
	assert.False(t, ig.Ignored("anything"))
}

func TestCollectSourcesHonoursIgnore(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"app/main.sh":       "echo main",
		"app/notes.log":     "log",
		"app/docs/keep.md":  "keep",
		"app/docs/drop.md":  "drop",
		"single.txt":        "single",
		"ignored-file.conf": "secret",
	} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	ig, err := ParseIgnore(strings.NewReader("*/*.log\napp/docs\n!app/docs/keep.md\nignored-file.conf\n"))
	require.NoError(t, err)
	items, err := collectSources(dir, ig, []string{"app", "single.txt"}, false)
	require.NoError(t, err)
	var names []string
	for _, it := range items {
		names = append(names, it.name)
	}
	assert.Equal(t, []string{"docs/keep.md", "main.sh", "single.txt"}, names, "a directory's contents, minus what .dockerignore excludes")

	_, err = collectSources(dir, ig, []string{"ignored-file.conf"}, false)
	assert.ErrorContains(t, err, "no such file", "an ignored file is not in the context")
	_, err = collectSources(dir, ig, []string{"../etc/passwd"}, false)
	assert.ErrorContains(t, err, "outside the build context")
	_, err = collectSources(dir, ig, []string{"http://example.invalid/file"}, true)
	assert.ErrorContains(t, err, "URLs are not supported")
	items, err = collectSources(dir, ig, []string{"*.txt"}, false)
	require.NoError(t, err)
	require.Len(t, items, 1)
	assert.Equal(t, "single.txt", items[0].name)
}

package state

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type record struct{ Layers []string }

func TestCreateLoadRemove(t *testing.T) {
	s, err := Open(t.TempDir())
	require.NoError(t, err)
	c, err := s.Create("web", record{Layers: []string{"/l1"}})
	require.NoError(t, err)
	for _, d := range []string{c.Upper(), c.Work(), c.Merged()} {
		assert.DirExists(t, d)
	}
	_, err = s.Create("web", record{})
	assert.ErrorContains(t, err, "exists already")

	var r record
	loaded, err := s.Load("web", &r)
	require.NoError(t, err)
	assert.Equal(t, []string{"/l1"}, r.Layers)
	running, err := loaded.Running()
	require.NoError(t, err)
	assert.True(t, running, "the creator holds the lock")
	assert.ErrorIs(t, s.Remove("web"), ErrRunning)

	c.Stopped()
	running, err = loaded.Running()
	require.NoError(t, err)
	assert.False(t, running)
	names, err := s.List()
	require.NoError(t, err)
	assert.Equal(t, []string{"web"}, names)
	require.NoError(t, s.Remove("web"))
	assert.NoDirExists(t, c.Dir)
	assert.ErrorIs(t, s.Remove("web"), ErrNotFound)
}

func TestNamesCannotEscape(t *testing.T) {
	s, err := Open(t.TempDir())
	require.NoError(t, err)
	for _, bad := range []string{"", ".", "..", "a/b", "../x", "-x", ".hidden", "x y"} {
		_, err := s.Create(bad, record{})
		assert.Error(t, err, bad)
		_, err = s.Load(bad, &record{})
		assert.Error(t, err, bad)
	}
	assert.NoError(t, ValidName(NewName()))
}

// ValidName is Docker's expression for names written out; it must accept exactly what the
// expression accepts.
func TestValidNameIsDockersExpression(t *testing.T) {
	docker := regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)
	names := []string{"", "a", "A", "0", "web-1", "my_db.2", "_x", ".x", "-x", ".", "..", "a/b",
		"a b", "a\n", "x\n", "é", "a:b", strings.Repeat("a", 128), strings.Repeat("a", 129)}
	for c := 0; c < 256; c++ {
		names = append(names, string([]byte{byte(c)}), "a"+string([]byte{byte(c)}))
	}
	for _, name := range names {
		assert.Equal(t, docker.MatchString(name), ValidName(name) == nil, "name %q", name)
	}
}

func TestRootFromEnv(t *testing.T) {
	t.Setenv(EnvRoot, "")
	assert.Equal(t, DefaultRoot, RootFromEnv())
	dir := filepath.Join(os.TempDir(), "x")
	t.Setenv(EnvRoot, dir)
	assert.Equal(t, dir, RootFromEnv())
}

package state

import (
	"os"
	"path/filepath"
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

func TestRootFromEnv(t *testing.T) {
	t.Setenv(EnvRoot, "")
	assert.Equal(t, DefaultRoot, RootFromEnv())
	dir := filepath.Join(os.TempDir(), "x")
	t.Setenv(EnvRoot, dir)
	assert.Equal(t, dir, RootFromEnv())
}

package cgroup

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDelegatedOn walks a tree shaped like a delegation (without the kernel: only owners
// matter), as root of the test stands for the user.
func TestDelegatedOn(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the tree's directories other owners")
	}
	root := t.TempDir()
	for _, dir := range []string{"user.slice/alice/session", "other"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, dir), 0o755))
	}
	for _, dir := range []string{"", "user.slice", "user.slice/alice", "user.slice/alice/session", "other"} {
		require.NoError(t, os.WriteFile(filepath.Join(root, dir, "cgroup.procs"), nil, 0o644))
	}
	const alice = 4242
	give := func(path string) { require.NoError(t, os.Chown(filepath.Join(root, path), alice, alice)) }
	for _, p := range []string{"user.slice/alice", "user.slice/alice/cgroup.procs", "user.slice/alice/session", "user.slice/alice/session/cgroup.procs"} {
		give(p)
	}
	got, err := delegatedOn(root, "/user.slice/alice/session", alice)
	require.NoError(t, err)
	assert.Equal(t, "/user.slice/alice", got, "the highest group the user owns, not its own leaf")

	_, err = delegatedOn(root, "/other", alice)
	assert.ErrorContains(t, err, "belongs to uid 4242", "a group that is root's is no delegation")

	give("other")
	_, err = delegatedOn(root, "/other", alice)
	assert.Error(t, err, "the directory alone is not enough: cgroup.procs must be the user's too")
}

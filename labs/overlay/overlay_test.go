package overlay

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOptionsListTheTopLayerFirst(t *testing.T) {
	opts, err := mountOptions([]string{"/l/bottom", "/l/middle", "/l/top"}, "/c/upper", "/c/work", false, 4096)
	require.NoError(t, err)
	assert.Equal(t, "lowerdir=/l/top:/l/middle:/l/bottom,upperdir=/c/upper,workdir=/c/work,index=off,redirect_dir=nofollow,metacopy=off", opts)

	opts, err = mountOptions([]string{"/l/only"}, "/c/upper", "/c/work", true, 4096)
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(opts, ",userxattr"), "inside a user namespace the user.overlay.* attributes are used")
}

func TestOptionsRefuseWhatTheKernelCannotTake(t *testing.T) {
	long := "/var/lib/containerlabs/images/layers/" + strings.Repeat("0123456789abcdef", 4)
	var layers []string
	for range 60 {
		layers = append(layers, long)
	}
	_, err := mountOptions(layers, "/c/upper", "/c/work", false, 4096)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "one page", "the error must name the limit")
	assert.Contains(t, err.Error(), "60 layers")

	_, err = mountOptions(layers[:30], "/c/upper", "/c/work", false, 4096)
	assert.NoError(t, err, "30 such layers fit in a page")

	_, err = mountOptions(nil, "/c/upper", "/c/work", false, 4096)
	assert.Error(t, err)
	_, err = mountOptions([]string{"/l/a,b"}, "/c/upper", "/c/work", false, 4096)
	assert.ErrorContains(t, err, `"/l/a,b"`)
	_, err = mountOptions([]string{"/l/a"}, "/c/up:per", "/c/work", false, 4096)
	assert.Error(t, err)
}

func TestChangeFormatsLikeDockerDiff(t *testing.T) {
	assert.Equal(t, "A /new", Change{Added, "/new"}.String())
	assert.Equal(t, "C /etc", Change{Changed, "/etc"}.String())
	assert.Equal(t, "D /etc/passwd", Change{Deleted, "/etc/passwd"}.String())
	changes := []Change{{Added, "/new/x"}, {Changed, "/etc"}, {Added, "/new.txt"}, {Added, "/new"}}
	sortChanges(changes)
	assert.Equal(t, []Change{{Changed, "/etc"}, {Added, "/new"}, {Added, "/new.txt"}, {Added, "/new/x"}}, changes)
}

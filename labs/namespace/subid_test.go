package namespace_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/namespace"
)

func TestParseSubIDs(t *testing.T) {
	file := `# subordinate ranges
alice:100000:65536
bob:165536:65536
1003:231072:1000
alice:300000:10
`
	got, err := namespace.ParseSubIDs(strings.NewReader(file), "alice", 1001)
	require.NoError(t, err)
	assert.Equal(t, []namespace.IDRange{{Start: 100000, Count: 65536}, {Start: 300000, Count: 10}}, got, "every line of the user's, in order")
	got, err = namespace.ParseSubIDs(strings.NewReader(file), "carol", 1003)
	require.NoError(t, err)
	assert.Equal(t, []namespace.IDRange{{Start: 231072, Count: 1000}}, got, "a line may name the user by number")
	got, err = namespace.ParseSubIDs(strings.NewReader(file), "dave", 1004)
	require.NoError(t, err)
	assert.Empty(t, got)

	for _, bad := range []string{"alice:100000\n", "alice:x:10\n", "alice:-1:10\n", "alice:100:0\n", "alice:4294967290:100\n"} {
		_, err := namespace.ParseSubIDs(strings.NewReader(bad), "alice", 1001)
		assert.Error(t, err, "%q must be refused", bad)
	}
}

func TestRootlessMap(t *testing.T) {
	maps := namespace.RootlessMap(1001, []namespace.IDRange{{Start: 100000, Count: 65536}, {Start: 300000, Count: 10}})
	assert.Equal(t, []namespace.IDMap{
		{Inside: 0, Outside: 1001, Size: 1},
		{Inside: 1, Outside: 100000, Size: 65536},
		{Inside: 65537, Outside: 300000, Size: 10},
	}, maps, "the user is root; its ranges follow from 1 on")
	assert.Equal(t, 65547, namespace.MappedSize(maps))
	assert.Equal(t, "0 1001 1\n1 100000 65536\n65537 300000 10\n", namespace.FormatIDMap(maps))
	back, err := namespace.ParseIDMap("         0       1001          1\n         1     100000      65536\n     65537     300000         10\n")
	require.NoError(t, err)
	assert.Equal(t, maps, back, "/proc/PID/uid_map's columns read back")
	assert.Equal(t, []namespace.IDMap{{Inside: 0, Outside: 1001, Size: 1}}, namespace.RootlessMap(1001, nil), "without ranges: the user alone")
}

package mount

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMountinfo(t *testing.T) {
	text := `22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
36 22 0:32 / /tmp/with\040space rw,relatime - tmpfs tmpfs rw,size=65536k
40 36 0:33 / /tmp/x rw master:3 shared:7 - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c
`
	infos, err := ParseMountinfo(text)
	require.NoError(t, err)
	require.Len(t, infos, 3)
	assert.Equal(t, Info{ID: 22, Parent: 1, Root: "/", Target: "/proc", Options: "rw,nosuid,nodev,noexec,relatime",
		Propagation: []string{"shared:12"}, FSType: "proc", Source: "proc", SuperOptions: "rw"}, infos[0])
	assert.Equal(t, "/tmp/with space", infos[1].Target, "octal escapes are undone")
	assert.Empty(t, infos[1].Propagation, "no optional fields means a private mount")
	assert.Equal(t, []string{"master:3", "shared:7"}, infos[2].Propagation)
	assert.Equal(t, "rw,lowerdir=/a,upperdir=/b,workdir=/c", infos[2].SuperOptions)

	_, err = ParseMountinfo("garbage line\n")
	assert.Error(t, err)
}

func TestErrorsNameEverything(t *testing.T) {
	m := Mount{Source: "proc", Target: "/r/proc", FSType: "proc", Flags: 0x2 | 0x4 | 0x8, Data: "hidepid=2"}
	assert.Equal(t, `mount proc on /r/proc (type proc, flags MS_NOSUID|MS_NODEV|MS_NOEXEC, data "hidepid=2")`, m.String())
	assert.Equal(t, "change mount / (flags MS_REC|MS_PRIVATE)", Mount{Target: "/", Flags: 0x4000 | 0x40000}.String())
	assert.Equal(t, "MS_BIND|0x80000000", FlagNames(0x1000|0x80000000))
}

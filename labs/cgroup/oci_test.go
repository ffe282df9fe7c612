package cgroup

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCleanOCIPath(t *testing.T) {
	for _, tc := range []struct {
		in, id, want string
		absolute     bool
	}{
		{"/default/c1", "c1", "/default/c1", true},
		{"", "c1", "/c1", false},
		{"kubepods/pod1/c1", "c1", "/kubepods/pod1/c1", false},
		{"/a/../../b", "c1", "/b", true},
		{"../../etc", "c1", "/etc", false},
	} {
		got, abs, err := CleanOCIPath(tc.in, tc.id)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
		assert.Equal(t, tc.absolute, abs, tc.in)
	}
	_, _, err := CleanOCIPath("system.slice:docker:c1", "c1")
	assert.ErrorContains(t, err, "systemd cgroup driver is not supported")
	_, _, err = CleanOCIPath("/", "c1")
	assert.ErrorContains(t, err, "root group")
}

func TestDeviceRule(t *testing.T) {
	major, minor := int64(1), int64(3)
	file, rule := DeviceRule(true, "c", &major, &minor, "rw")
	assert.Equal(t, "devices.allow", file)
	assert.Equal(t, "c 1:3 rw", rule)
	file, rule = DeviceRule(false, "", nil, nil, "")
	assert.Equal(t, "devices.deny", file)
	assert.Equal(t, "a *:* rwm", rule, "no type, numbers or access: every device, every access")
}

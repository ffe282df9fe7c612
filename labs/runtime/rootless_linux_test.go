package runtime

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
)

func TestRootlessSpec(t *testing.T) {
	spec := DockerSpec([]string{"sh"})
	RootlessSpec(spec, 1001, 1002)
	assert.Equal(t, []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}}, spec.Linux.UIDMappings)
	assert.Equal(t, []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1002, Size: 1}}, spec.Linux.GIDMappings)
	var types []specs.LinuxNamespaceType
	for _, ns := range spec.Linux.Namespaces {
		types = append(types, ns.Type)
	}
	assert.Contains(t, types, specs.UserNamespace)
	assert.NotContains(t, types, specs.NetworkNamespace, "an ordinary user could not connect a network namespace of its own")
	assert.NotContains(t, types, specs.CgroupNamespace)
	assert.Nil(t, spec.Linux.Resources, "no cgroup to write resources into")
	for _, m := range spec.Mounts {
		switch m.Destination {
		case "/sys":
			assert.Equal(t, "bind", m.Type, "sysfs needs a network namespace of the user namespace's own")
			assert.Contains(t, m.Options, "ro")
		case "/dev/pts":
			assert.False(t, slices.ContainsFunc(m.Options, func(o string) bool { return o == "gid=5" }), "gid 5 is not mapped")
		}
	}
}

func TestParseRootless(t *testing.T) {
	for value, want := range map[string]bool{"true": true, "false": false} {
		got, err := ParseRootless(value)
		assert.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := ParseRootless("yes")
	assert.ErrorContains(t, err, `"yes"`)
}

package cgroup

import (
	"math"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

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

func TestZeroAsUnset(t *testing.T) {
	zero64, zeroU64, zero16, zero32 := int64(0), uint64(0), uint16(0), uint32(0)
	one64, ten16, defaultSwappiness := int64(1), uint16(10), uint64(math.MaxUint64)
	in := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &zero64, Reservation: &zero64, Swap: &zero64, Kernel: &zero64,
			KernelTCP: &zero64, Swappiness: &defaultSwappiness},
		CPU: &specs.LinuxCPU{Shares: &zeroU64, Quota: &zero64, Period: &zeroU64, RealtimePeriod: &zeroU64,
			RealtimeRuntime: &zero64, Burst: &zeroU64, Idle: &zero64},
		BlockIO: &specs.LinuxBlockIO{Weight: &zero16, LeafWeight: &zero16, WeightDevice: []specs.LinuxWeightDevice{
			{Weight: &zero16, LeafWeight: &zero16}, {Weight: &ten16, LeafWeight: &zero16}}},
		Network: &specs.LinuxNetwork{ClassID: &zero32},
		Pids:    &specs.LinuxPids{Limit: &zero64},
	}
	out := zeroAsUnset(in)

	assert.Equal(t, &specs.LinuxMemory{}, out.Memory, "Docker's zero memory fields and swappiness -1 are unset")
	assert.Equal(t, &specs.LinuxCPU{Burst: &zeroU64, Idle: &zero64}, out.CPU, "cpu.burst 0 and cpu.idle 0 mean something and stay")
	assert.Nil(t, out.BlockIO.Weight, "blockIO.weight 0 is unset: it must not touch a blkio.weight file the kernel may lack")
	assert.Nil(t, out.BlockIO.LeafWeight)
	assert.Equal(t, []specs.LinuxWeightDevice{{Weight: &ten16}}, out.BlockIO.WeightDevice, "an entry with neither weight set is dropped")
	assert.Nil(t, out.Network.ClassID)
	assert.Equal(t, &zero64, out.Pids.Limit, "pids.limit 0 is a limit: the specification says so")
	assert.Equal(t, &zero16, in.BlockIO.Weight, "the caller's resources are not changed")

	kept := zeroAsUnset(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &one64, Swappiness: &zeroU64}})
	assert.Equal(t, &one64, kept.Memory.Limit)
	assert.Equal(t, &zeroU64, kept.Memory.Swappiness, "swappiness 0 is a real setting")
	assert.Nil(t, zeroAsUnset(nil))
}

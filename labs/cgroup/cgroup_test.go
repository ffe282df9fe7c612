package cgroup

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1048576": 1 << 20,
		"64m":     64 << 20,
		"64M":     64 << 20,
		"64MB":    64 << 20,
		"64MiB":   64 << 20,
		"512k":    512 << 10,
		"1.5g":    3 << 29,
		"2G":      2 << 30,
		"1t":      1 << 40,
		"100b":    100,
		" 8m ":    8 << 20,
	} {
		got, err := ParseSize(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	for _, bad := range []string{"", "m", "64x", "-1m", "64 megs", "1e3", "0", "0.1b", "99999999999t"} {
		_, err := ParseSize(bad)
		if assert.Error(t, err, bad) {
			assert.Contains(t, err.Error(), fmt.Sprintf("%q", bad), "the error names the bad value")
		}
	}
}

func TestFormatSize(t *testing.T) {
	assert.Equal(t, "64MiB", FormatSize(64<<20))
	assert.Equal(t, "1.5GiB", FormatSize(3<<29))
	assert.Equal(t, "63.99MiB", FormatSize(64<<20-10<<10))
	assert.Equal(t, "512B", FormatSize(512))
}

func TestParseCPUs(t *testing.T) {
	for in, want := range map[string]float64{"0.5": 0.5, "1": 1, "0.01": 0.01, " 0.2 ": 0.2} {
		got, err := ParseCPUs(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	tooMany := fmt.Sprint(runtime.NumCPU() + 1)
	for _, bad := range []string{"", "half", "0", "-1", "0.001", "NaN", tooMany} {
		_, err := ParseCPUs(bad)
		if assert.Error(t, err, bad) {
			assert.Contains(t, err.Error(), fmt.Sprintf("%q", bad), "the error names the bad value")
		}
	}
}

func TestQuota(t *testing.T) {
	assert.Equal(t, int64(50000), Quota(0.5))
	assert.Equal(t, int64(20000), Quota(0.2))
	assert.Equal(t, int64(1000), Quota(0.01))
	assert.Equal(t, int64(150000), Quota(1.5))
}

func TestWeightConversions(t *testing.T) {
	// runc's linear mapping: the ends meet, the defaults do not.
	assert.Equal(t, uint64(1), SharesToWeight(2))
	assert.Equal(t, uint64(10000), SharesToWeight(262144))
	assert.Equal(t, uint64(39), SharesToWeight(1024))
	assert.Equal(t, uint64(0), SharesToWeight(0))
	assert.Equal(t, uint64(1), BlkioToIOWeight(10))
	assert.Equal(t, uint64(10000), BlkioToIOWeight(1000))
	assert.Equal(t, uint64(4950), BlkioToIOWeight(500))
}

func TestValidate(t *testing.T) {
	require.NoError(t, Limits{}.Validate(), "no limits at all is valid")
	require.NoError(t, Limits{MemoryBytes: 64 << 20, CPUs: 0.5, CPUShares: 512, PidsMax: 32, IOWeight: 500}.Validate())
	for _, c := range []struct {
		limits Limits
		want   string
	}{
		{Limits{MemoryBytes: 1 << 20}, "too small"},
		{Limits{CPUs: 0.001}, "out of range"},
		{Limits{CPUs: float64(runtime.NumCPU() + 1)}, "out of range"},
		{Limits{CPUShares: 1}, "cpu shares 1"},
		{Limits{CPUShares: 300000}, "cpu shares 300000"},
		{Limits{PidsMax: -1}, "pids limit -1"},
		{Limits{IOWeight: 5}, "io weight 5"},
		{Limits{IOWeight: 2000}, "io weight 2000"},
	} {
		err := c.limits.Validate()
		if assert.Error(t, err, "%+v", c.limits) {
			assert.Contains(t, err.Error(), c.want)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, good := range []string{"c1", "web-1", "a.b_c", "0abc"} {
		assert.NoError(t, checkName(good), good)
	}
	for _, bad := range []string{"", ".", "..", "../x", "a/b", "-x", ".hidden", "a b", "a\nb"} {
		assert.Error(t, checkName(bad), "%q", bad)
	}
}

func TestModeString(t *testing.T) {
	assert.Equal(t, "v1", V1.String())
	assert.Equal(t, "v2 (unified)", V2.String())
	assert.Contains(t, Hybrid.String(), "hybrid")
}

func TestSettingString(t *testing.T) {
	s := Setting{File: "/sys/fs/cgroup/containerlabs/c1/memory.max", Value: "67108864"}
	assert.Equal(t, `echo "67108864" > /sys/fs/cgroup/containerlabs/c1/memory.max`, s.String())
}

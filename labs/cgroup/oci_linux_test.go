package cgroup

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"containerlabs/labs/labtest"
)

// ociTestPath returns an absolute cgroupsPath under a parent of the test's own, and checks
// at the end that no directory of that parent is left in any hierarchy.
func ociTestPath(t *testing.T) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	parent := "containerlabs-test-oci-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		matches, _ := filepath.Glob(filepath.Join(DefaultRoot, "*", parent))
		assert.Empty(t, matches, "every group the test made must be gone")
		for _, m := range matches {
			_ = os.Remove(m)
		}
	})
	return "/" + parent + "/c1"
}

func readTrimmed(t *testing.T, path string) string {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.TrimSpace(string(data))
}

func TestOCIGroupLifecycle(t *testing.T) {
	labtest.RequireRoot(t)
	limit, pids, major, minor, five := int64(64<<20), int64(32), int64(1), int64(3), int64(5)
	res := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &limit},
		Pids:   &specs.LinuxPids{Limit: &pids},
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rwm"}},
	}
	g, err := NewOCI(ociTestPath(t), "c1", res)
	require.NoError(t, err)
	memoryLimit := filepath.Join(g.dir("memory"), "memory.limit_in_bytes")
	if g.Mode == V2 {
		memoryLimit = filepath.Join(g.dir("memory"), "memory.max")
	}
	require.NoError(t, g.Create(res))
	t.Cleanup(func() { _ = g.Destroy() })

	assert.NotContains(t, g.Paths, "cpuset", "no cpus or mems asked for: no cpuset group (it costs ~2ms to make)")
	assert.Equal(t, "67108864", readTrimmed(t, memoryLimit))
	assert.Equal(t, "32", readTrimmed(t, filepath.Join(g.dir("pids"), "pids.max")))
	if g.Mode == V2 {
		assert.Equal(t, 1, devicePrograms(t, g.Paths[""]), "the rules became one eBPF program, attached to the group")
	} else {
		assert.Equal(t, "c 1:3 rwm", readTrimmed(t, filepath.Join(g.Paths["devices"], "devices.list")), "deny all, then allow /dev/null")
	}
	assert.Equal(t, "null ok\nzero: Operation not permitted\n", openDevicesInside(t, g),
		"a member may open the allowed /dev/null and not the denied /dev/zero")

	sleeper := exec.Command("sleep", "60")
	require.NoError(t, sleeper.Start())
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	require.NoError(t, g.Add(sleeper.Process.Pid))
	members, err := g.Pids()
	require.NoError(t, err)
	assert.Equal(t, []int{sleeper.Process.Pid}, members)

	require.NoError(t, g.Freeze())
	frozen, err := g.Frozen()
	require.NoError(t, err)
	assert.True(t, frozen)
	require.NoError(t, g.Thaw())
	frozen, _ = g.Frozen()
	assert.False(t, frozen)

	bigger := int64(128 << 20)
	require.NoError(t, g.Apply(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &bigger}}), "update")
	assert.Equal(t, "134217728", readTrimmed(t, memoryLimit))
	require.NoError(t, g.Apply(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: &major, Minor: &five, Access: "r"}}}), "update the device rules")
	if g.Mode == V2 {
		assert.Equal(t, 1, devicePrograms(t, g.Paths[""]), "the new program replaced the old one")
	}
	assert.Equal(t, "null ok\nzero ok\n", openDevicesInside(t, g), "allowed since the update: reading /dev/zero")

	require.NoError(t, g.Signal(unix.SIGKILL))
	done := make(chan error, 1)
	go func() { done <- sleeper.Wait() }()
	select {
	case err := <-done:
		ws := sleeper.ProcessState.Sys().(syscall.WaitStatus)
		assert.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "the member was killed: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the member did not die of Signal(SIGKILL)")
	}
	// A group the container made inside its own (as `exec --cgroup` uses) goes with it.
	require.NoError(t, os.MkdirAll(filepath.Join(g.dir("memory"), "sub", "deeper"), 0o755))
	require.NoError(t, g.Destroy())
	for _, dir := range g.Paths {
		assert.NoDirExists(t, dir)
		assert.NoDirExists(t, filepath.Dir(dir), "the parent the group made is removed too")
	}
}

func TestOCIOptionalHierarchies(t *testing.T) {
	labtest.RequireRoot(t)
	res := &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0"}}
	g, err := NewOCI(ociTestPath(t), "c1", res)
	require.NoError(t, err)
	if g.Mode == V2 {
		t.Skip("v2 has one tree: there are no hierarchies to leave out")
	}
	require.Contains(t, g.Paths, "cpuset", "cpus asked for: the cpuset hierarchy is used")
	require.NoError(t, g.Create(res))
	t.Cleanup(func() { _ = g.Destroy() })
	assert.Equal(t, "0", readTrimmed(t, filepath.Join(g.Paths["cpuset"], "cpuset.cpus")))
	assert.NotEmpty(t, readTrimmed(t, filepath.Join(g.Paths["cpuset"], "cpuset.mems")), "a new cpuset group inherits its parent's memory nodes")
	// A group made without cpuset joins that hierarchy when an update needs it, and its
	// processes move in.
	later, err := NewOCI(ociTestPath(t), "c2", nil)
	require.NoError(t, err)
	require.NotContains(t, later.Paths, "cpuset", "no cpus asked for: cpuset is left out")
	require.Contains(t, later.Later, "cpuset")
	require.NoError(t, later.Create(nil))
	t.Cleanup(func() { _ = later.Destroy() })
	sleeper := exec.Command("sleep", "60")
	require.NoError(t, sleeper.Start())
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	require.NoError(t, later.Add(sleeper.Process.Pid))
	require.NoError(t, later.Apply(&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0"}}))
	require.Contains(t, later.Paths, "cpuset", "the update placed the group in the cpuset hierarchy")
	assert.Equal(t, strconv.Itoa(sleeper.Process.Pid), readTrimmed(t, filepath.Join(later.Paths["cpuset"], "cgroup.procs")), "and moved its process in")
	assert.Equal(t, "0", readTrimmed(t, filepath.Join(later.Paths["cpuset"], "cpuset.cpus")))
	_ = sleeper.Process.Kill()
	_ = sleeper.Wait()
	require.NoError(t, later.Destroy())
	assert.NoDirExists(t, later.Paths["cpuset"], "Destroy removes the group it made later too")
	if _, mounted := g.Paths["net_prio"]; !mounted && g.Later["net_prio"] == "" {
		err = g.Apply(&specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 1}}}})
		assert.ErrorIs(t, err, ErrUnsupported, "a resource whose controller is missing fails, never silently")
		assert.ErrorContains(t, err, "net_prio")
	}
	require.NoError(t, g.Destroy())
}

// devicePrograms counts the device programs attached to the v2 group at dir.
//
// Equivalent to: `bpftool cgroup show DIR`.
func devicePrograms(t *testing.T, dir string) int {
	group, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(group)
	progs, err := attachedDevicePrograms(group)
	require.NoError(t, err)
	closeAll(progs)
	return len(progs)
}

// openDevicesInside returns what a member of g says of reading /dev/null and /dev/zero
// (see openDevices).
func openDevicesInside(t *testing.T, g *OCI) string {
	return openDevices(t, g.Add)
}

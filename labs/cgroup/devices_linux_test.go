package cgroup

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
)

// TestDeviceFilterInTheKernel loads, attaches, replaces and removes device programs with
// bpf(2) in a group of the host's cgroup2 tree: /sys/fs/cgroup on v2, and the controller-less
// /sys/fs/cgroup/unified of a hybrid host, where device programs run too. The member's
// opens are what the kernel answers, not what the program says it would.
func TestDeviceFilterInTheKernel(t *testing.T) {
	labtest.RequireRoot(t)
	mode, err := Detect()
	require.NoError(t, err)
	tree := map[Mode]string{V2: DefaultRoot, Hybrid: filepath.Join(DefaultRoot, "unified")}[mode]
	if tree == "" {
		t.Skip("no cgroup2 tree on this host (v1 only): device programs attach to cgroup2 groups")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	group := filepath.Join(tree, "containerlabs-test-devices-"+hex.EncodeToString(b))
	require.NoError(t, os.Mkdir(group, 0o755))
	t.Cleanup(func() {
		// rmdir frees the programs with the group; it fails while a member lives.
		assert.NoError(t, os.Remove(group), "the test's group must be removable")
	})
	null, zero := int64(3), int64(5)
	onlyNull, err := NewDeviceFilter([]specs.LinuxDeviceCgroup{{Allow: false}, {Allow: true, Type: "c", Major: number(1), Minor: &null}})
	require.NoError(t, err)

	require.NoError(t, AttachDeviceFilter(group, onlyNull))
	assert.Equal(t, 1, devicePrograms(t, group), "one program attached")
	assert.Equal(t, "null ok\nzero: Operation not permitted\n", openDevicesIn(t, group), "the program allows /dev/null only")

	withZero, err := onlyNull.With([]specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: number(1), Minor: &zero, Access: "r"}})
	require.NoError(t, err)
	require.NoError(t, AttachDeviceFilter(group, withZero))
	assert.Equal(t, 1, devicePrograms(t, group), "the new program replaced the old one")
	assert.Equal(t, "null ok\nzero ok\n", openDevicesIn(t, group), "reading /dev/zero is allowed since the update")

	require.NoError(t, AttachDeviceFilter(group, DeviceFilter{DefaultAllow: true}))
	assert.Equal(t, 0, devicePrograms(t, group), "a filter that allows everything is no program")
}

// openDevices starts a shell, lets join put it in a group before it goes on, and returns
// what it says of reading one byte each of /dev/null and /dev/zero.
func openDevices(t *testing.T, join func(pid int) error) string {
	sh := exec.Command("sh", "-c", `read go
head -c1 /dev/null && echo "null ok"
if head -c1 /dev/zero 2>/tmp/err-$$ | wc -c | grep -q 1; then echo "zero ok"; else echo "zero: $(sed 's/.*: //' /tmp/err-$$)"; fi
rm -f /tmp/err-$$`)
	stdin, err := sh.StdinPipe()
	require.NoError(t, err)
	var out strings.Builder
	sh.Stdout = &out
	require.NoError(t, sh.Start())
	require.NoError(t, join(sh.Process.Pid))
	_, _ = stdin.Write([]byte("go\n"))
	stdin.Close()
	require.NoError(t, sh.Wait())
	return out.String()
}

// openDevicesIn is openDevices with the shell in the cgroup2 group at dir.
func openDevicesIn(t *testing.T, dir string) string {
	return openDevices(t, func(pid int) error {
		return os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
	})
}

// TestVerifierRefusalIsExplained loads a program that never exits: the kernel's verifier
// refuses it, and the error says why in the verifier's words.
func TestVerifierRefusalIsExplained(t *testing.T) {
	labtest.RequireRoot(t)
	_, err := loadDeviceProgram([]Instruction{{Op: MovImm, Dst: 0, Imm: 1}})
	require.Error(t, err)
	assert.ErrorContains(t, err, "the verifier:")
	t.Log(err)
}

package cgroup

import (
	"fmt"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func number(n int64) *int64 { return &n }

// dockerDevices are the rules Docker's default config gives a container, with the devices
// an OCI runtime adds (labs/runtime's withDefaultDevices): deny everything, then allow
// mknod of any node and the handful of harmless devices in /dev.
var dockerDevices = []specs.LinuxDeviceCgroup{
	{Allow: false, Access: "rwm"},
	{Allow: true, Type: "c", Major: number(-1), Minor: number(-1), Access: "m"},
	{Allow: true, Type: "b", Major: number(-1), Minor: number(-1), Access: "m"},
	{Allow: true, Type: "c", Major: number(1), Minor: number(3), Access: "rwm"},
	{Allow: true, Type: "c", Major: number(1), Minor: number(5), Access: "rwm"},
	{Allow: true, Type: "c", Major: number(136), Minor: number(-1), Access: "rwm"},
}

func TestNewDeviceFilterFollowsV1(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		want  DeviceFilter
	}{
		{"no rules: a new group allows every device", nil, DeviceFilter{DefaultAllow: true}},
		{"Docker's: deny all, then exceptions that allow", dockerDevices, DeviceFilter{Exceptions: []DeviceException{
			{'c', AnyDevice, AnyDevice, AccessMknod}, {'b', AnyDevice, AnyDevice, AccessMknod},
			{'c', 1, 3, AccessAll}, {'c', 1, 5, AccessAll}, {'c', 136, AnyDevice, AccessAll},
		}}},
		{"a rule for all devices resets, whatever its numbers", []specs.LinuxDeviceCgroup{
			{Allow: false, Type: "c", Major: number(1), Minor: number(3), Access: "w"},
			{Allow: false, Type: "a", Major: number(1), Minor: number(3), Access: "r"},
		}, DeviceFilter{}},
		{"allow all, then deny: exceptions that deny", []specs.LinuxDeviceCgroup{
			{Allow: true},
			{Allow: false, Type: "c", Major: number(1), Minor: number(5), Access: "w"},
			{Allow: false, Type: "c", Major: number(1), Minor: number(5), Access: "m"},
		}, DeviceFilter{DefaultAllow: true, Exceptions: []DeviceException{{'c', 1, 5, AccessWrite | AccessMknod}}}},
		{"a rule that agrees with the default takes accesses away from an exception", []specs.LinuxDeviceCgroup{
			{Allow: false},
			{Allow: true, Type: "c", Major: number(1), Minor: number(3), Access: "rwm"},
			{Allow: true, Type: "c", Major: number(1), Minor: number(5), Access: "rw"},
			{Allow: false, Type: "c", Major: number(1), Minor: number(3), Access: "w"},
			{Allow: false, Type: "c", Major: number(1), Minor: number(5), Access: "rw"},
		}, DeviceFilter{Exceptions: []DeviceException{{'c', 1, 3, AccessRead | AccessMknod}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NewDeviceFilter(tc.rules)
			require.NoError(t, err)
			assert.Equal(t, tc.want.DefaultAllow, got.DefaultAllow)
			assert.ElementsMatch(t, tc.want.Exceptions, got.Exceptions)
		})
	}
}

func TestNewDeviceFilterRefusesBadRules(t *testing.T) {
	_, err := NewDeviceFilter([]specs.LinuxDeviceCgroup{{Allow: true, Type: "x"}})
	assert.ErrorContains(t, err, `linux.resources.devices[0]: type "x" is not a, b or c`)
	_, err = NewDeviceFilter([]specs.LinuxDeviceCgroup{{Allow: true}, {Allow: true, Type: "c", Access: "rx"}})
	assert.ErrorContains(t, err, `linux.resources.devices[1]: access "rx": 'x' is not r, w or m`)
	_, err = NewDeviceFilter([]specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: number(1 << 40)}})
	assert.ErrorContains(t, err, "out of range")
}

func TestDeviceAccessString(t *testing.T) {
	assert.Equal(t, "rwm", AccessAll.String())
	assert.Equal(t, "rm", (AccessMknod | AccessRead).String())
}

// TestDeviceProgramInstructions pins the program for Docker's first rules: a request is
// read into r2-r5, each exception is a block that jumps to the next one on any mismatch,
// and the default answers last. The listing is bpftool's (`bpftool prog dump xlated`).
func TestDeviceProgramInstructions(t *testing.T) {
	f, err := NewDeviceFilter(dockerDevices[:4])
	require.NoError(t, err)
	want := `
 0: (61) r2 = *(u32 *)(r1 +0)
 1: (57) r2 &= 65535
 2: (61) r3 = *(u32 *)(r1 +0)
 3: (77) r3 >>= 16
 4: (61) r4 = *(u32 *)(r1 +4)
 5: (61) r5 = *(u32 *)(r1 +8)
 6: (55) if r2 != 0x2 goto pc+5
 7: (bf) r6 = r3
 8: (57) r6 &= 6
 9: (55) if r6 != 0x0 goto pc+2
10: (b7) r0 = 1
11: (95) exit
12: (55) if r2 != 0x1 goto pc+5
13: (bf) r6 = r3
14: (57) r6 &= 6
15: (55) if r6 != 0x0 goto pc+2
16: (b7) r0 = 1
17: (95) exit
18: (55) if r2 != 0x2 goto pc+7
19: (55) if r4 != 0x1 goto pc+6
20: (55) if r5 != 0x3 goto pc+5
21: (bf) r6 = r3
22: (57) r6 &= 0
23: (55) if r6 != 0x0 goto pc+2
24: (b7) r0 = 1
25: (95) exit
26: (b7) r0 = 0
27: (95) exit
`
	var listing strings.Builder
	for i, ins := range f.Program() {
		fmt.Fprintf(&listing, "%2d: %v\n", i, ins)
	}
	assert.Equal(t, want, "\n"+listing.String())
}

// runDeviceProgram interprets the few instructions Program emits, as the kernel would run
// them for a request: type is 'c' or 'b'. It reports whether the program allows it.
func runDeviceProgram(t *testing.T, insns []Instruction, typ byte, major, minor uint32, access DeviceAccess) bool {
	t.Helper()
	devType := uint32(devChar)
	if typ == 'b' {
		devType = devBlock
	}
	ctx := [3]uint32{devType | uint32(access)<<16, major, minor}
	var r [11]uint64
	for pc := 0; pc < len(insns); {
		ins := insns[pc]
		pc++
		switch ins.Op {
		case LoadWord:
			require.Equal(t, uint8(1), ins.Src, "loads only from the context")
			r[ins.Dst] = uint64(ctx[ins.Off/4])
		case AndImm:
			r[ins.Dst] &= uint64(ins.Imm)
		case RShImm:
			r[ins.Dst] >>= uint64(ins.Imm)
		case MovImm:
			r[ins.Dst] = uint64(ins.Imm)
		case MovReg:
			r[ins.Dst] = r[ins.Src]
		case Exit:
			return r[0] == 1
		case JNEImm:
			if r[ins.Dst] != uint64(ins.Imm) {
				pc += int(ins.Off)
			}
		case JEqImm:
			if r[ins.Dst] == uint64(ins.Imm) {
				pc += int(ins.Off)
			}
		default:
			t.Fatalf("unexpected instruction %v", ins)
		}
	}
	t.Fatal("the program ran off its end")
	return false
}

func TestDeviceProgramAnswersAsV1(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		cases []struct {
			typ          byte
			major, minor uint32
			access       DeviceAccess
			allowed      bool
		}
	}{
		{"Docker's", dockerDevices, []struct {
			typ          byte
			major, minor uint32
			access       DeviceAccess
			allowed      bool
		}{
			{'c', 1, 3, AccessRead | AccessWrite, true},     // /dev/null, opened O_RDWR
			{'c', 1, 5, AccessRead, true},                   // /dev/zero
			{'c', 1, 1, AccessRead, false},                  // /dev/mem
			{'b', 8, 0, AccessRead, false},                  // /dev/sda
			{'b', 8, 0, AccessMknod, true},                  // mknod is allowed, opening is not
			{'c', 10, 200, AccessRead | AccessMknod, false}, // mknod+read needs one exception covering both
			{'c', 136, 7, AccessWrite, true},                // a pseudo-terminal
		}},
		{"allow all, deny writes to /dev/zero", []specs.LinuxDeviceCgroup{
			{Allow: true},
			{Allow: false, Type: "c", Major: number(1), Minor: number(5), Access: "w"},
		}, []struct {
			typ          byte
			major, minor uint32
			access       DeviceAccess
			allowed      bool
		}{
			{'c', 1, 5, AccessRead, true},
			{'c', 1, 5, AccessRead | AccessWrite, false}, // any access the exception covers refuses
			{'c', 1, 1, AccessWrite, true},
			{'b', 1, 5, AccessWrite, true}, // a block device with the same numbers is another device
		}},
		{"deny all", []specs.LinuxDeviceCgroup{{Allow: false}}, []struct {
			typ          byte
			major, minor uint32
			access       DeviceAccess
			allowed      bool
		}{
			{'c', 1, 3, AccessRead, false},
			{'b', 8, 0, AccessMknod, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewDeviceFilter(tc.rules)
			require.NoError(t, err)
			insns := f.Program()
			for _, c := range tc.cases {
				got := runDeviceProgram(t, insns, c.typ, c.major, c.minor, c.access)
				assert.Equal(t, c.allowed, got, "%c %d:%d %s", c.typ, c.major, c.minor, c.access)
			}
		})
	}
}

// TestDeviceFilterWithAppliesOnTop checks the update path: new rules apply on top of the
// filter in force, as writes to v1's files apply on top of what the kernel keeps, and the
// filter they started from stays as it was.
func TestDeviceFilterWithAppliesOnTop(t *testing.T) {
	before, err := NewDeviceFilter([]specs.LinuxDeviceCgroup{{Allow: false}, {Allow: true, Type: "c", Major: number(1), Minor: number(3)}})
	require.NoError(t, err)
	after, err := before.With([]specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: number(1), Minor: number(3), Access: "r"}, {Allow: true, Type: "c", Major: number(1), Minor: number(5), Access: "r"}})
	require.NoError(t, err)
	assert.Equal(t, DeviceFilter{Exceptions: []DeviceException{{'c', 1, 3, AccessAll}, {'c', 1, 5, AccessRead}}}, after)
	assert.Equal(t, DeviceFilter{Exceptions: []DeviceException{{'c', 1, 3, AccessAll}}}, before, "With leaves its receiver alone")
}

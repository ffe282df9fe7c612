package cgroup

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cilium/ebpf/asm"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DeviceFilter is what a list of OCI device rules leaves in force, in the form cgroup v1's
// devices controller keeps it (and prints in devices.list): a default for every device,
// and exceptions to it. On v1 the kernel works this out itself from the rules written to
// devices.allow and devices.deny; on v2 there is no devices controller, and Program turns
// the filter into an eBPF program that the kernel runs on every open(2) and mknod(2) of a
// device node by a member of the group. Working it out the same way here keeps the two
// versions in agreement on every rule list, partial overlaps included.
type DeviceFilter struct {
	// DefaultAllow is the answer for a device no exception names.
	DefaultAllow bool `json:"defaultAllow"`
	// Exceptions name devices that get the opposite answer: allowed ones when the
	// default is deny, denied ones when it is allow.
	Exceptions []DeviceException `json:"exceptions,omitempty"`
}

// DeviceException is one entry of a DeviceFilter: a character ('c') or block ('b') device
// by major and minor number (AnyDevice for any), and the accesses it covers.
type DeviceException struct {
	Type   byte         `json:"type"`
	Major  int64        `json:"major"`
	Minor  int64        `json:"minor"`
	Access DeviceAccess `json:"access"`
}

// AnyDevice in a DeviceException's Major or Minor matches every number ("*" in v1's files).
const AnyDevice = -1

// DeviceAccess is a set of accesses to a device node, with the kernel's bit values for
// both v1 and the eBPF program's context: mknod, read and write ("m", "r", "w").
type DeviceAccess uint32

// The accesses, as the kernel numbers them (BPF_DEVCG_ACC_*, and v1's ACC_*).
const (
	AccessMknod DeviceAccess = 1
	AccessRead  DeviceAccess = 2
	AccessWrite DeviceAccess = 4
	AccessAll                = AccessMknod | AccessRead | AccessWrite
)

// String renders the set as v1's files do: "rwm" in that order.
func (a DeviceAccess) String() string {
	var b strings.Builder
	for _, x := range []struct {
		bit  DeviceAccess
		char byte
	}{{AccessRead, 'r'}, {AccessWrite, 'w'}, {AccessMknod, 'm'}} {
		if a&x.bit != 0 {
			b.WriteByte(x.char)
		}
	}
	return b.String()
}

// NewDeviceFilter applies rules in order to a new group, which allows every device (see
// With), and returns what is left in force.
func NewDeviceFilter(rules []specs.LinuxDeviceCgroup) (DeviceFilter, error) {
	return DeviceFilter{DefaultAllow: true}.With(rules)
}

// With applies rules in order to f, as writes to v1's devices.allow and devices.deny would,
// and returns what is left in force; f itself is unchanged. The v1 kernel's rules for that,
// which this follows:
//
//   - a rule for all devices (type "a", or none) resets the group: deny all or allow all,
//     no exceptions; its numbers and access are ignored;
//   - a rule that goes against the default adds an exception (or adds its accesses to the
//     exception with the same type and numbers);
//   - a rule that agrees with the default takes its accesses away from the exception with
//     the same type and numbers, and drops an exception left with none.
//
// A rule with an unknown type or access letter is an error that names it.
func (f DeviceFilter) With(rules []specs.LinuxDeviceCgroup) (DeviceFilter, error) {
	f.Exceptions = slices.Clone(f.Exceptions)
	for i, r := range rules {
		access, err := parseDeviceAccess(r.Access)
		if err != nil {
			return DeviceFilter{}, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
		ex := DeviceException{Major: deviceNumber(r.Major), Minor: deviceNumber(r.Minor), Access: access}
		switch r.Type {
		case "", "a":
			f = DeviceFilter{DefaultAllow: r.Allow}
			continue
		case "c", "b":
			ex.Type = r.Type[0]
		default:
			return DeviceFilter{}, fmt.Errorf("linux.resources.devices[%d]: type %q is not a, b or c", i, r.Type)
		}
		if ex.Major > math.MaxInt32 || ex.Minor > math.MaxInt32 {
			return DeviceFilter{}, fmt.Errorf("linux.resources.devices[%d]: device number %d:%d out of range", i, ex.Major, ex.Minor)
		}
		if r.Allow != f.DefaultAllow {
			f.addException(ex)
		} else {
			f.removeException(ex)
		}
	}
	return f, nil
}

func deviceNumber(n *int64) int64 {
	if n == nil || *n < 0 {
		return AnyDevice
	}
	return *n
}

func parseDeviceAccess(s string) (DeviceAccess, error) {
	if s == "" {
		return AccessAll, nil
	}
	var a DeviceAccess
	for _, c := range s {
		switch c {
		case 'r':
			a |= AccessRead
		case 'w':
			a |= AccessWrite
		case 'm':
			a |= AccessMknod
		default:
			return 0, fmt.Errorf("access %q: %q is not r, w or m", s, c)
		}
	}
	return a, nil
}

func (f *DeviceFilter) addException(ex DeviceException) {
	for i, e := range f.Exceptions {
		if e.Type == ex.Type && e.Major == ex.Major && e.Minor == ex.Minor {
			f.Exceptions[i].Access |= ex.Access
			return
		}
	}
	f.Exceptions = append(f.Exceptions, ex)
}

func (f *DeviceFilter) removeException(ex DeviceException) {
	kept := f.Exceptions[:0]
	for _, e := range f.Exceptions {
		if e.Type == ex.Type && e.Major == ex.Major && e.Minor == ex.Minor {
			e.Access &^= ex.Access
		}
		if e.Access != 0 {
			kept = append(kept, e)
		}
	}
	f.Exceptions = kept
}

// AllowsAll reports whether the filter lets every access through, so that no program is
// needed at all.
func (f DeviceFilter) AllowsAll() bool {
	return f.DefaultAllow && len(f.Exceptions) == 0
}

// The context the kernel hands a BPF_PROG_TYPE_CGROUP_DEVICE program (struct
// bpf_cgroup_dev_ctx): three 32-bit words. The first holds the device type in its low 16
// bits (BPF_DEVCG_DEV_BLOCK 1, BPF_DEVCG_DEV_CHAR 2) and the access in its high 16.
const (
	ctxAccessType = 0
	ctxMajor      = 4
	ctxMinor      = 8
	devBlock      = 1
	devChar       = 2
)

// Program is the filter as an eBPF program for the kernel's cgroup device hook: it returns
// 1 to allow the access and 0 to refuse it, which the kernel turns into EPERM. It reads the
// request into registers, then tests the exceptions one by one, in the kernel's v1 way: when
// the default is deny, a request is allowed if one exception covers the device and every
// access asked for; when the default is allow, it is refused if one exception covers the
// device and any access asked for. If none does, the default answers.
//
//	r2 = type, r3 = access, r4 = major, r5 = minor      (from the context in r1)
//	exception_0: if r2 != TYPE goto exception_1          (and the same for major, minor)
//	             r6 = r3 & ~ACCESS; if r6 != 0 goto exception_1   (default deny: all covered?)
//	             r0 = 1; exit                                       (the exception answers)
//	exception_1: ...
//	default:     r0 = DEFAULT; exit
func (f DeviceFilter) Program() asm.Instructions {
	answer := func(allow bool) asm.Instructions {
		r0 := int32(0)
		if allow {
			r0 = 1
		}
		return asm.Instructions{asm.Mov.Imm(asm.R0, r0), asm.Return()}
	}
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, ctxAccessType, asm.Word),
		asm.And.Imm(asm.R2, 0xffff),
		asm.LoadMem(asm.R3, asm.R1, ctxAccessType, asm.Word),
		asm.RSh.Imm(asm.R3, 16),
		asm.LoadMem(asm.R4, asm.R1, ctxMajor, asm.Word),
		asm.LoadMem(asm.R5, asm.R1, ctxMinor, asm.Word),
	}
	for i, ex := range f.Exceptions {
		label, next := fmt.Sprintf("exception_%d", i), fmt.Sprintf("exception_%d", i+1)
		if i == len(f.Exceptions)-1 {
			next = "default"
		}
		typ := int32(devChar)
		if ex.Type == 'b' {
			typ = devBlock
		}
		block := asm.Instructions{asm.JNE.Imm(asm.R2, typ, next)}
		if ex.Major != AnyDevice {
			block = append(block, asm.JNE.Imm(asm.R4, int32(ex.Major), next))
		}
		if ex.Minor != AnyDevice {
			block = append(block, asm.JNE.Imm(asm.R5, int32(ex.Minor), next))
		}
		block = append(block, asm.Mov.Reg(asm.R6, asm.R3))
		if f.DefaultAllow {
			// Refused if the request asks for any access the exception covers.
			block = append(block, asm.And.Imm(asm.R6, int32(ex.Access)), asm.JEq.Imm(asm.R6, 0, next))
		} else {
			// Allowed only if the exception covers every access asked for.
			block = append(block, asm.And.Imm(asm.R6, int32(AccessAll&^ex.Access)), asm.JNE.Imm(asm.R6, 0, next))
		}
		block = append(block, answer(!f.DefaultAllow)...)
		block[0] = block[0].WithSymbol(label)
		insns = append(insns, block...)
	}
	last := answer(f.DefaultAllow)
	last[0] = last[0].WithSymbol("default")
	return append(insns, last...)
}

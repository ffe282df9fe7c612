package cgroup

import (
	"fmt"
	"math"
	"slices"
	"strings"

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

// Instruction is one eBPF instruction, the 8 bytes of the kernel's struct bpf_insn: an
// opcode, a destination and a source register (r0-r10), a signed 16-bit offset (of a
// memory access, or of a jump, counted in instructions after the next one) and a signed
// 32-bit immediate. String prints it in the notation of `bpftool prog dump xlated`, so a
// listing can be compared with what the kernel holds.
type Instruction struct {
	Op       Opcode
	Dst, Src uint8
	Off      int16
	Imm      int32
}

// Opcode is an instruction's first byte: its class in the low 3 bits, then the operation
// and where its operand comes from (an immediate, or the source register). These are the
// only ones a device filter needs (linux/bpf.h and linux/bpf_common.h).
type Opcode uint8

const (
	// LoadWord is `dst = *(u32 *)(src + off)`: BPF_LDX | BPF_MEM | BPF_W.
	LoadWord Opcode = 0x01 | 0x60 | 0x00
	// AndImm is `dst &= imm`: BPF_ALU64 | BPF_AND | BPF_K.
	AndImm Opcode = 0x07 | 0x50 | 0x00
	// RShImm is `dst >>= imm`: BPF_ALU64 | BPF_RSH | BPF_K.
	RShImm Opcode = 0x07 | 0x70 | 0x00
	// MovImm is `dst = imm`: BPF_ALU64 | BPF_MOV | BPF_K.
	MovImm Opcode = 0x07 | 0xb0 | 0x00
	// MovReg is `dst = src`: BPF_ALU64 | BPF_MOV | BPF_X.
	MovReg Opcode = 0x07 | 0xb0 | 0x08
	// JEqImm is `if dst == imm goto pc+off`: BPF_JMP | BPF_JEQ | BPF_K.
	JEqImm Opcode = 0x05 | 0x10 | 0x00
	// JNEImm is `if dst != imm goto pc+off`: BPF_JMP | BPF_JNE | BPF_K.
	JNEImm Opcode = 0x05 | 0x50 | 0x00
	// Exit ends the program with r0 as its answer: BPF_JMP | BPF_EXIT.
	Exit Opcode = 0x05 | 0x90
)

// String prints the instruction as bpftool does, with its opcode in parentheses.
func (ins Instruction) String() string {
	var text string
	switch ins.Op {
	case LoadWord:
		text = fmt.Sprintf("r%d = *(u32 *)(r%d +%d)", ins.Dst, ins.Src, ins.Off)
	case AndImm:
		text = fmt.Sprintf("r%d &= %d", ins.Dst, ins.Imm)
	case RShImm:
		text = fmt.Sprintf("r%d >>= %d", ins.Dst, ins.Imm)
	case MovImm:
		text = fmt.Sprintf("r%d = %d", ins.Dst, ins.Imm)
	case MovReg:
		text = fmt.Sprintf("r%d = r%d", ins.Dst, ins.Src)
	case JEqImm:
		text = fmt.Sprintf("if r%d == %#x goto pc%+d", ins.Dst, ins.Imm, ins.Off)
	case JNEImm:
		text = fmt.Sprintf("if r%d != %#x goto pc%+d", ins.Dst, ins.Imm, ins.Off)
	case Exit:
		text = "exit"
	default:
		text = fmt.Sprintf("opcode %#x", uint8(ins.Op))
	}
	return fmt.Sprintf("(%02x) %s", uint8(ins.Op), text)
}

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
//
// Every jump goes to the start of the next block, so its offset is the number of
// instructions left in its own block after it.
func (f DeviceFilter) Program() []Instruction {
	answer := func(allow bool) []Instruction {
		r0 := int32(0)
		if allow {
			r0 = 1
		}
		return []Instruction{{Op: MovImm, Dst: 0, Imm: r0}, {Op: Exit}}
	}
	insns := []Instruction{
		{Op: LoadWord, Dst: 2, Src: 1, Off: ctxAccessType},
		{Op: AndImm, Dst: 2, Imm: 0xffff},
		{Op: LoadWord, Dst: 3, Src: 1, Off: ctxAccessType},
		{Op: RShImm, Dst: 3, Imm: 16},
		{Op: LoadWord, Dst: 4, Src: 1, Off: ctxMajor},
		{Op: LoadWord, Dst: 5, Src: 1, Off: ctxMinor},
	}
	for _, ex := range f.Exceptions {
		typ := int32(devChar)
		if ex.Type == 'b' {
			typ = devBlock
		}
		block := []Instruction{{Op: JNEImm, Dst: 2, Imm: typ}}
		if ex.Major != AnyDevice {
			block = append(block, Instruction{Op: JNEImm, Dst: 4, Imm: int32(ex.Major)})
		}
		if ex.Minor != AnyDevice {
			block = append(block, Instruction{Op: JNEImm, Dst: 5, Imm: int32(ex.Minor)})
		}
		block = append(block, Instruction{Op: MovReg, Dst: 6, Src: 3})
		if f.DefaultAllow {
			// Refused if the request asks for any access the exception covers.
			block = append(block, Instruction{Op: AndImm, Dst: 6, Imm: int32(ex.Access)}, Instruction{Op: JEqImm, Dst: 6, Imm: 0})
		} else {
			// Allowed only if the exception covers every access asked for.
			block = append(block, Instruction{Op: AndImm, Dst: 6, Imm: int32(AccessAll &^ ex.Access)}, Instruction{Op: JNEImm, Dst: 6, Imm: 0})
		}
		block = append(block, answer(!f.DefaultAllow)...)
		for i := range block {
			if block[i].Op == JNEImm || block[i].Op == JEqImm {
				block[i].Off = int16(len(block) - i - 1)
			}
		}
		insns = append(insns, block...)
	}
	return append(insns, answer(f.DefaultAllow)...)
}

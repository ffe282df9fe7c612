package cgroup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// AttachDeviceFilter makes f the device filter of the v2 group at dir: it loads f.Program
// into the kernel, attaches it to the group, and then detaches the device programs that
// were attached there before (an update), so that at no moment is the group without a
// filter. A filter that allows everything needs no program: the old ones are detached and
// nothing is attached.
//
// The program is attached with BPF_F_ALLOW_MULTI, as runc does: the kernel runs every
// program attached to the group and to each of its ancestors, and an access must pass them
// all, so a container's filter can only narrow what its parent group allows, as v1's
// hierarchy does. Nothing holds the program but the group: it is freed when the group is
// removed (rmdir), with no pinning and nothing to clean up.
//
// Everything goes through one system call, bpf(2), with a command and a union of
// arguments; the few commands used here are below, each with the fields it reads.
//
// Equivalent to: `bpftool prog load filter.o /sys/fs/bpf/f type cgroup/dev` and `bpftool
// cgroup attach DIR device pinned /sys/fs/bpf/f multi`.
func AttachDeviceFilter(dir string, f DeviceFilter) error {
	group, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup %s for its device filter: %w", dir, err)
	}
	defer unix.Close(group)
	old, err := attachedDevicePrograms(group)
	if err != nil {
		return fmt.Errorf("list the device programs of cgroup %s: %w", dir, err)
	}
	defer closeAll(old)
	if !f.AllowsAll() {
		prog, err := loadDeviceProgram(f.Program())
		if err != nil {
			return fmt.Errorf("load the device filter of cgroup %s: %w", dir, err)
		}
		defer unix.Close(prog)
		if err := bpfAttach(unix.BPF_PROG_ATTACH, group, prog, unix.BPF_F_ALLOW_MULTI); err != nil {
			return fmt.Errorf("attach the device filter to cgroup %s: %w", dir, err)
		}
	}
	for _, p := range old {
		if err := bpfAttach(unix.BPF_PROG_DETACH, group, p, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("detach the old device filter of cgroup %s: %w", dir, err)
		}
	}
	return nil
}

// bpf makes the bpf(2) system call cmd with attr, a struct laid out as the kernel's union
// bpf_attr begins for that command; the kernel reads only its size, and treats the
// fields past it as zero. A call interrupted by a signal is made again: the Go runtime
// signals its threads (SIGURG) to preempt goroutines, and the verifier, which can run for
// a while, gives up with EAGAIN when a signal is pending.
func bpf[T any](cmd int, attr *T) (int, error) {
	for tries := 1; ; tries++ {
		r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(unsafe.Pointer(attr)), unsafe.Sizeof(*attr))
		if errno == 0 {
			return int(r), nil
		}
		interrupted := errno == unix.EINTR || (errno == unix.EAGAIN && cmd == unix.BPF_PROG_LOAD)
		if !interrupted || tries == 5 {
			return -1, errno
		}
	}
}

// bpf_attr's pointers are 64-bit fields whatever the machine. The structs below type them
// unsafe.Pointer, so that the garbage collector sees what they point to (and keeps it on
// the heap, where it does not move during the call); that is the kernel's layout only
// where a pointer has 64 bits, which this line checks when the package is compiled.
var _ [unsafe.Sizeof(unsafe.Pointer(nil)) - 8]struct{}

// progLoadAttr is bpf_attr for BPF_PROG_LOAD, up to the fields used here.
type progLoadAttr struct {
	progType           uint32
	insnCount          uint32
	insns              unsafe.Pointer // the program: an array of struct bpf_insn
	license            unsafe.Pointer // a C string
	logLevel           uint32
	logSize            uint32
	logBuf             unsafe.Pointer // the verifier's report, when logLevel is not 0
	kernVersion        uint32
	progFlags          uint32
	progName           [unix.BPF_OBJ_NAME_LEN]byte
	progIfindex        uint32
	expectedAttachType uint32
}

// loadDeviceProgram hands the program to the kernel, whose verifier checks that it ends
// and reads only its context, and returns a descriptor for it. If the verifier refuses
// it, the load is repeated with a log, and the error carries the verifier's last words.
func loadDeviceProgram(insns []Instruction) (int, error) {
	code := encodeInstructions(insns)
	// The kernel reads the license only to decide whether the program may call GPL-only
	// helpers; this one calls no helper at all.
	license := []byte("GPL\x00")
	attr := progLoadAttr{
		progType:           unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCount:          uint32(len(insns)),
		insns:              unsafe.Pointer(&code[0]),
		license:            unsafe.Pointer(&license[0]),
		expectedAttachType: unix.BPF_CGROUP_DEVICE,
	}
	copy(attr.progName[:], "labs_devices")
	fd, err := bpf(unix.BPF_PROG_LOAD, &attr)
	if err != nil && (errors.Is(err, unix.EACCES) || errors.Is(err, unix.EINVAL)) {
		log := make([]byte, 64<<10)
		attr.logLevel, attr.logSize = 1, uint32(len(log))
		attr.logBuf = unsafe.Pointer(&log[0])
		fd, again := bpf(unix.BPF_PROG_LOAD, &attr)
		if again == nil {
			return fd, nil // refused once, loaded now: the descriptor is the caller's to close
		}
		lines := strings.Split(strings.TrimSpace(unix.ByteSliceToString(log)), "\n")
		err = fmt.Errorf("%w (the verifier: %s)", err, strings.Join(lines[max(0, len(lines)-3):], "; "))
	}
	return fd, err
}

// encodeInstructions lays the program out as an array of struct bpf_insn: the opcode, the
// two registers in one byte (dst in the low nibble on a little-endian machine, a C
// bit-field), the offset and the immediate in the machine's byte order.
func encodeInstructions(insns []Instruction) []byte {
	littleEndian := binary.NativeEndian.Uint16([]byte{1, 0}) == 1
	code := make([]byte, 0, 8*len(insns))
	for _, ins := range insns {
		regs := ins.Dst&0xf | ins.Src<<4
		if !littleEndian {
			regs = ins.Dst<<4 | ins.Src&0xf
		}
		code = append(code, byte(ins.Op), regs)
		code = binary.NativeEndian.AppendUint16(code, uint16(ins.Off))
		code = binary.NativeEndian.AppendUint32(code, uint32(ins.Imm))
	}
	return code
}

// progAttachAttr is bpf_attr for BPF_PROG_ATTACH and BPF_PROG_DETACH.
type progAttachAttr struct {
	targetFD    uint32
	attachBPFFD uint32
	attachType  uint32
	attachFlags uint32
}

// bpfAttach attaches (cmd BPF_PROG_ATTACH) or detaches (BPF_PROG_DETACH) the device
// program prog to or from the group.
func bpfAttach(cmd, group, prog int, flags uint32) error {
	_, err := bpf(cmd, &progAttachAttr{
		targetFD: uint32(group), attachBPFFD: uint32(prog), attachType: unix.BPF_CGROUP_DEVICE, attachFlags: flags,
	})
	return err
}

// progQueryAttr is bpf_attr for BPF_PROG_QUERY.
type progQueryAttr struct {
	targetFD    uint32
	attachType  uint32
	queryFlags  uint32
	attachFlags uint32
	progIDs     unsafe.Pointer // an array of u32 the kernel fills
	progCount   uint32         // its length; the kernel sets it to the number attached
	_           uint32
}

// progGetFDAttr is bpf_attr for BPF_PROG_GET_FD_BY_ID.
type progGetFDAttr struct {
	progID    uint32
	nextID    uint32
	openFlags uint32
}

// attachedDevicePrograms opens the device programs attached to the group itself (not those
// its ancestors contribute): it asks for their IDs, then for a descriptor of each, which
// keeps the program alive until it is closed.
//
// Equivalent to: `bpftool cgroup show DIR`.
func attachedDevicePrograms(group int) ([]int, error) {
	ids := make([]uint32, 16)
	for {
		attr := progQueryAttr{
			targetFD: uint32(group), attachType: unix.BPF_CGROUP_DEVICE,
			progIDs: unsafe.Pointer(&ids[0]), progCount: uint32(len(ids)),
		}
		_, err := bpf(unix.BPF_PROG_QUERY, &attr)
		if errors.Is(err, unix.ENOSPC) {
			ids = make([]uint32, attr.progCount) // more are attached than ids holds
			continue
		}
		if err != nil {
			return nil, err
		}
		ids = ids[:attr.progCount]
		break
	}
	var progs []int
	for _, id := range ids {
		fd, err := bpf(unix.BPF_PROG_GET_FD_BY_ID, &progGetFDAttr{progID: id})
		if errors.Is(err, unix.ENOENT) {
			continue // detached and freed since the query
		}
		if err != nil {
			closeAll(progs)
			return nil, fmt.Errorf("open device program %d: %w", id, err)
		}
		progs = append(progs, fd)
	}
	return progs, nil
}

// closeAll closes the descriptors fds.
func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

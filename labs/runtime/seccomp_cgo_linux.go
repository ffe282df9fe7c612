//go:build cgo

package runtime

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// compileSeccomp compiles an OCI seccomp profile (nil: none) into the BPF program the
// kernel runs on every system call, with libseccomp. The runtime does it, while the init
// starts (on another core); the init only loads the result (see seccompProgram.load), so it
// needs no C library and a profile that does not compile fails `create` early.
//
// libseccomp does the hard part: it knows every architecture's system call numbers by name,
// and it turns the rules into a BPF program that checks the architecture field first (so a
// call through the 32-bit table cannot pass as a different 64-bit call). Rules on the same
// call with conditions on different arguments are ANDed; several conditions on the same
// argument cannot be ANDed (libseccomp refuses), so, as runc does, each becomes a rule of
// its own and they are ORed.
//
// Equivalent to: seccomp_export_bpf(3) of the profile, as `scmp_bpf_disasm` would read it.
func compileSeccomp(s *specs.LinuxSeccomp) (*seccompProgram, error) {
	if s == nil {
		return nil, nil
	}
	filter, err := buildSeccomp(s)
	if err != nil {
		return nil, err
	}
	defer filter.Release()
	fd, err := unix.MemfdCreate("seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("export the seccomp filter: %w", err)
	}
	f := os.NewFile(uintptr(fd), "seccomp")
	defer f.Close()
	if err := filter.ExportBPF(f); err != nil {
		return nil, fmt.Errorf("export the seccomp filter: %w", err)
	}
	program, err := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return nil, fmt.Errorf("export the seccomp filter: %w", err)
	}
	stub, err := enosysStub(s)
	if err != nil {
		return nil, err
	}
	return &seccompProgram{Filter: append(stub, program...), Flags: seccompFlags(s), Notify: hasNotifyRules(s)}, nil
}

// enosysStub returns BPF instructions to put in front of a profile's filter, so that a
// system call newer than every call the profile names fails with ENOSYS rather than with
// the profile's default errno: a C library that meets ENOSYS falls back to an older call (as
// glibc falls back from clone3 to clone), while EPERM makes it give up. An allow-list
// written before a call existed cannot have meant to forbid it. runc and Docker do the same.
// "Newer" is measured per architecture, against the highest number the profile names; a
// profile whose default is to allow, or whose default errno is ENOSYS already, needs no
// stub.
//
// The stub: load the architecture; for each one the profile lists, load the call's number
// and jump to "return ENOSYS" if it is above that architecture's highest, else into the
// profile's own filter. x32 calls share x86-64's architecture and carry bit 30 in their
// number.
func enosysStub(s *specs.LinuxSeccomp) ([]byte, error) {
	switch s.DefaultAction {
	case specs.ActAllow, specs.ActLog, specs.ActTrace:
		return nil, nil
	}
	if s.DefaultErrnoRet != nil && *s.DefaultErrnoRet == uint(unix.ENOSYS) {
		return nil, nil
	}
	archs := s.Architectures
	if len(archs) == 0 {
		native, err := seccomp.GetNativeArch()
		if err != nil {
			return nil, fmt.Errorf("seccomp: %w", err)
		}
		archs = []specs.Arch{specs.Arch("SCMP_ARCH_" + strings.ToUpper(native.String()))}
	}
	// last[audit architecture][x32] is the highest call number the profile names.
	type key struct {
		audit uint32
		x32   bool
	}
	last := map[key]uint32{}
	var order []uint32
	for _, a := range archs {
		arch, err := seccomp.GetArchFromString(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.architectures %q: %w", a, err)
		}
		audit, ok := map[seccomp.ScmpArch]uint32{seccomp.ArchAMD64: unix.AUDIT_ARCH_X86_64, seccomp.ArchX32: unix.AUDIT_ARCH_X86_64,
			seccomp.ArchX86: unix.AUDIT_ARCH_I386, seccomp.ArchARM64: unix.AUDIT_ARCH_AARCH64, seccomp.ArchARM: unix.AUDIT_ARCH_ARM}[arch]
		if !ok {
			continue // no stub: such calls keep the default action
		}
		k := key{audit, arch == seccomp.ArchX32}
		for _, rule := range s.Syscalls {
			for _, name := range rule.Names {
				if nr, err := seccomp.GetSyscallFromNameByArch(name, arch); err == nil && nr > 0 && uint32(nr) > last[k] {
					last[k] = uint32(nr)
				}
			}
		}
		if last[k] > 0 && !slices.Contains(order, audit) {
			order = append(order, audit)
		}
	}
	if len(order) == 0 {
		return nil, nil
	}
	const (
		ldAbs  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq    = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jgt    = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
		jset   = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ja     = unix.BPF_JMP | unix.BPF_JA
		retK   = unix.BPF_RET | unix.BPF_K
		x32Bit = 0x40000000
		// Offsets in struct seccomp_data.
		nrOffset, archOffset = 0, 4
	)
	// Jumps name their targets: an index, or enosys and filter, which follow the stub.
	const enosys, filter = -1, -2
	type insn struct {
		code     uint16
		jt, jf   int
		k        uint32
		jumpsFar bool
	}
	prog := []insn{{code: ldAbs, k: archOffset}}
	for _, audit := range order {
		check := len(prog)
		prog = append(prog, insn{code: jeq, k: audit}, insn{code: ldAbs, k: nrOffset})
		native, x32 := last[key{audit, false}], last[key{audit, true}]
		switch {
		case audit != unix.AUDIT_ARCH_X86_64:
			prog = append(prog, insn{code: jgt, k: native, jt: enosys, jf: filter})
		case native > 0 && x32 > 0:
			here := len(prog)
			prog = append(prog, insn{code: jset, k: x32Bit, jt: here + 1, jf: here + 2},
				insn{code: jgt, k: x32, jt: enosys, jf: filter}, insn{code: jgt, k: native, jt: enosys, jf: filter})
		case native > 0:
			prog = append(prog, insn{code: jset, k: x32Bit, jt: filter, jf: len(prog) + 1}, insn{code: jgt, k: native, jt: enosys, jf: filter})
		default:
			prog = append(prog, insn{code: jset, k: x32Bit, jt: len(prog) + 1, jf: filter}, insn{code: jgt, k: x32, jt: enosys, jf: filter})
		}
		// A different architecture goes on to the next check.
		prog[check].jt, prog[check].jf = check+1, len(prog)
	}
	prog = append(prog, insn{code: ja, jumpsFar: true, k: 1}) // to the filter, past the return
	prog = append(prog, insn{code: retK, k: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)})
	enosysAt, filterAt := len(prog)-1, len(prog)
	out := make([]byte, 0, len(prog)*8)
	for i, in := range prog {
		var jt, jf uint8
		if in.code&0x07 == unix.BPF_JMP && !in.jumpsFar {
			offset := func(target int) uint8 {
				switch target {
				case enosys:
					target = enosysAt
				case filter:
					target = filterAt
				}
				return uint8(target - i - 1)
			}
			jt, jf = offset(in.jt), offset(in.jf)
		}
		out = binary.LittleEndian.AppendUint16(out, in.code)
		out = append(out, jt, jf)
		out = binary.LittleEndian.AppendUint32(out, in.k)
	}
	return out, nil
}

// buildSeccomp makes the filter without loading it.
func buildSeccomp(s *specs.LinuxSeccomp) (*seccomp.ScmpFilter, error) {
	defaultAction, err := seccompAction(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, err
	}
	filter, err := seccomp.NewFilter(defaultAction)
	if err != nil {
		return nil, fmt.Errorf("make a seccomp filter: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			filter.Release()
		}
	}()
	for _, a := range s.Architectures {
		// OCI names "SCMP_ARCH_X86_64"; libseccomp's own names are "x86_64".
		arch, err := seccomp.GetArchFromString(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.architectures %q: %w", a, err)
		}
		if err := filter.AddArch(arch); err != nil {
			return nil, fmt.Errorf("linux.seccomp.architectures %q: %w", a, err)
		}
	}
	for _, rule := range s.Syscalls {
		action, err := seccompAction(rule.Action, rule.ErrnoRet)
		if err != nil {
			return nil, err
		}
		if action == defaultAction {
			continue // libseccomp refuses a rule that repeats the default
		}
		conditions, err := seccompConditions(rule.Args)
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.syscalls %v: %w", rule.Names, err)
		}
		for _, name := range rule.Names {
			call, err := seccomp.GetSyscallFromName(name)
			if err != nil {
				// A name this kernel or architecture lacks cannot be called either;
				// profiles list calls of every architecture.
				continue
			}
			for _, c := range conditions {
				if err := filter.AddRuleConditional(call, action, c); err != nil {
					return nil, fmt.Errorf("seccomp rule for %s: %w", name, err)
				}
			}
		}
	}
	ok = true
	return filter, nil
}

func seccompAction(a specs.LinuxSeccompAction, errnoRet *uint) (seccomp.ScmpAction, error) {
	errno := int16(unix.EPERM)
	if errnoRet != nil {
		errno = int16(*errnoRet)
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return seccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return seccomp.ActKillProcess, nil
	case specs.ActTrap:
		return seccomp.ActTrap, nil
	case specs.ActErrno:
		return seccomp.ActErrno.SetReturnCode(errno), nil
	case specs.ActTrace:
		return seccomp.ActTrace.SetReturnCode(errno), nil
	case specs.ActAllow:
		return seccomp.ActAllow, nil
	case specs.ActLog:
		return seccomp.ActLog, nil
	case specs.ActNotify:
		return seccomp.ActNotify, nil
	}
	return seccomp.ActInvalid, fmt.Errorf("seccomp action %q: %w", a, seccompActionError(a))
}

// seccompConditions turns a rule's argument checks into the condition sets of its rules:
// one set when every check is on a different argument, one set per check otherwise.
func seccompConditions(args []specs.LinuxSeccompArg) ([][]seccomp.ScmpCondition, error) {
	ops := map[specs.LinuxSeccompOperator]seccomp.ScmpCompareOp{
		specs.OpNotEqual: seccomp.CompareNotEqual, specs.OpLessThan: seccomp.CompareLess,
		specs.OpLessEqual: seccomp.CompareLessOrEqual, specs.OpEqualTo: seccomp.CompareEqual,
		specs.OpGreaterEqual: seccomp.CompareGreaterEqual, specs.OpGreaterThan: seccomp.CompareGreater,
		specs.OpMaskedEqual: seccomp.CompareMaskedEqual,
	}
	var all []seccomp.ScmpCondition
	sameArgument := false
	seen := map[uint]bool{}
	for _, a := range args {
		op, ok := ops[a.Op]
		if !ok {
			return nil, fmt.Errorf("unknown operator %q", a.Op)
		}
		c, err := seccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		if err != nil {
			return nil, err
		}
		all = append(all, c)
		sameArgument = sameArgument || seen[a.Index]
		seen[a.Index] = true
	}
	if !sameArgument {
		return [][]seccomp.ScmpCondition{all}, nil
	}
	var sets [][]seccomp.ScmpCondition
	for _, c := range all {
		sets = append(sets, []seccomp.ScmpCondition{c})
	}
	return sets, nil
}

// seccompVersion is libseccomp's version, for `features`.
func seccompVersion() string {
	major, minor, micro := seccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
}

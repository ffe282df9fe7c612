//go:build cgo

package runtime

import (
	"fmt"
	"os"
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
	return &seccompProgram{Filter: program, Flags: seccompFlags(s)}, nil
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

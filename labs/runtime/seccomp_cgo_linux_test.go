//go:build cgo

package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestDefaultProfileCompiles(t *testing.T) {
	for _, caps := range [][]string{DefaultCapabilities, append([]string{"CAP_SYS_ADMIN", "CAP_SYS_PTRACE"}, DefaultCapabilities...)} {
		p, err := compileSeccomp(DefaultSeccomp(caps))
		require.NoError(t, err)
		assert.Greater(t, len(p.Filter), 100*8, "hundreds of BPF instructions")
		assert.Zero(t, len(p.Filter)%8, "whole struct sock_filter instructions")
	}
	p, err := compileSeccomp(nil)
	require.NoError(t, err)
	assert.Nil(t, p, "no profile, no filter")
	listener, err := p.load()
	require.NoError(t, err, "loading no filter does nothing")
	assert.Equal(t, -1, listener, "and gives no listener")
	logged, err := compileSeccomp(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}})
	require.NoError(t, err)
	assert.Equal(t, uint(2), logged.Flags, "SECCOMP_FILTER_FLAG_LOG is a load flag, kept beside the program")
}

func TestSeccompConditions(t *testing.T) {
	sets, err := seccompConditions([]specs.LinuxSeccompArg{
		{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 1, Value: 2, Op: specs.OpNotEqual},
	})
	require.NoError(t, err)
	assert.Len(t, sets, 1, "checks on different arguments form one rule (AND)")
	assert.Len(t, sets[0], 2)

	sets, err = seccompConditions([]specs.LinuxSeccompArg{
		{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 0, Value: 2, Op: specs.OpEqualTo},
	})
	require.NoError(t, err)
	assert.Len(t, sets, 2, "checks on the same argument become rules of their own (OR)")

	sets, err = seccompConditions(nil)
	require.NoError(t, err)
	assert.Equal(t, 1, len(sets), "no checks: one unconditional rule")
}

func TestBadProfilesFail(t *testing.T) {
	_, err := compileSeccomp(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_VAX"}})
	assert.ErrorContains(t, err, "SCMP_ARCH_VAX")
	_, err = compileSeccomp(&specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_SHRUG"})
	assert.ErrorContains(t, err, "SCMP_ACT_SHRUG")
	_, err = compileSeccomp(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"no_such_call", "mkdir"}, Action: specs.ActErrno}}})
	require.NoError(t, err, "unknown call names are skipped: profiles list calls of every architecture")
}

// A test binary re-executed with probeFilter set loads the filter in that file, calls
// system call 1000 (which no kernel has) and kexec_load (which every profile here
// refuses), and exits with the two errnos, as 256*first + second in its output.
const probeFilter = "LABS_SECCOMP_PROBE_FILTER"

func init() {
	path := os.Getenv(probeFilter)
	if path == "" {
		return
	}
	goruntime.LockOSThread()
	filter, err := os.ReadFile(path)
	if err != nil || unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != nil {
		os.Exit(1)
	}
	if _, err := (&seccompProgram{Filter: filter}).load(); err != nil {
		os.Exit(2)
	}
	_, _, unknown := unix.Syscall(1000, 0, 0, 0)
	_, _, denied := unix.Syscall(unix.SYS_KEXEC_LOAD, 0, 0, 0)
	fmt.Printf("%d %d\n", unknown, denied)
	os.Exit(0)
}

func TestUnknownSystemCallsGetENOSYS(t *testing.T) {
	probe := func(p *specs.LinuxSeccomp) string {
		program, err := compileSeccomp(p)
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), "filter")
		require.NoError(t, os.WriteFile(path, program.Filter, 0o600))
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), probeFilter+"="+path)
		out, err := cmd.Output()
		require.NoError(t, err, string(out))
		return strings.TrimSpace(string(out))
	}
	enosys, eperm := int(unix.ENOSYS), int(unix.EPERM)
	assert.Equal(t, fmt.Sprintf("%d %d", enosys, eperm), probe(DefaultSeccomp(DefaultCapabilities)),
		"a call newer than the profile fails with ENOSYS (so a C library falls back), a refused one with EPERM")
	errnoRet := uint(unix.ENXIO)
	withErrno := DefaultSeccomp(DefaultCapabilities)
	withErrno.DefaultErrnoRet = &errnoRet
	assert.Equal(t, fmt.Sprintf("%d %d", enosys, unix.ENXIO), probe(withErrno), "the stub holds with a defaultErrnoRet too")
	allow := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"kexec_load"}, Action: specs.ActErrno}}}
	assert.Equal(t, fmt.Sprintf("%d %d", enosys, eperm), probe(allow), "an allowing profile has no stub: the kernel itself says ENOSYS")
}

//go:build cgo

package runtime

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.NoError(t, p.load(), "loading no filter does nothing")
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

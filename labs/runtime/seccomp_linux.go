package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// seccompProgram is a compiled seccomp filter: an array of BPF instructions (struct
// sock_filter, 8 bytes each) and the flags to load it with.
type seccompProgram struct {
	Filter []byte `json:"filter"`
	Flags  uint   `json:"flags,omitempty"`
}

// seccompFlags are the load flags an OCI profile asks for: log what the filter does not
// allow (SECCOMP_FILTER_FLAG_LOG), or keep the speculative store bypass mitigation off
// (SECCOMP_FILTER_FLAG_SPEC_ALLOW).
func seccompFlags(s *specs.LinuxSeccomp) uint {
	var flags uint
	for _, f := range s.Flags {
		switch f {
		case specs.LinuxSeccompFlagLog:
			flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		}
	}
	return flags
}

// load installs the filter on the calling thread, from where execve hands it to the
// container's process. A filter is inherited by every child and can never be removed or
// loosened, only tightened by more filters. Without no_new_privs, loading one needs
// CAP_SYS_ADMIN (a filter could otherwise trick a setuid program).
//
// Equivalent to: seccomp(SECCOMP_SET_MODE_FILTER, flags, &program).
func (p *seccompProgram) load() error {
	if p == nil {
		return nil
	}
	const instruction = 8 // sizeof(struct sock_filter)
	if len(p.Filter) == 0 || len(p.Filter)%instruction != 0 {
		return fmt.Errorf("load the seccomp filter: %d bytes is not a BPF program", len(p.Filter))
	}
	prog := unix.SockFprog{
		Len:    uint16(len(p.Filter) / instruction),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&p.Filter[0])),
	}
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(p.Flags), uintptr(unsafe.Pointer(&prog))); errno != 0 {
		return fmt.Errorf("load the seccomp filter: %w", errno)
	}
	return nil
}

// seccompCache is the directory under the state root where compiled filters are kept.
const seccompCache = ".seccomp"

// seccomp returns the compiled filter of a profile, from the runtime's cache when the same
// profile was compiled before. libseccomp takes about 12ms to compile Docker's default
// profile here, longer than the rest of a container start on the runtime's side, and most
// containers share one profile; crun keeps such a cache too. The key is a hash of the
// profile, the architecture and libseccomp's version, so a different compiler never serves
// a stale program. The cache lives on the state root's tmpfs and is gone at reboot; it holds
// one file a profile and is never pruned.
func (r *Runtime) seccomp(s *specs.LinuxSeccomp) (*seccompProgram, error) {
	if s == nil {
		return nil, nil
	}
	profile, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("hash the seccomp profile: %w", err)
	}
	sum := sha256.Sum256(append(profile, "\x00"+goruntime.GOARCH+"\x00"+seccompVersion()...))
	path := filepath.Join(r.root(), seccompCache, hex.EncodeToString(sum[:]))
	if filter, err := os.ReadFile(path); err == nil {
		return &seccompProgram{Filter: filter, Flags: seccompFlags(s)}, nil
	}
	program, err := compileSeccomp(s)
	if err != nil {
		return nil, err
	}
	// Best effort: a cache that cannot be written only costs the next start the compile.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
		tmp := fmt.Sprintf("%s.%d", path, os.Getpid())
		if os.WriteFile(tmp, program.Filter, 0o600) == nil && os.Rename(tmp, path) != nil {
			os.Remove(tmp)
		}
	}
	return program, nil
}

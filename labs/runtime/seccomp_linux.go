package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// seccompProgram is a compiled seccomp filter: an array of BPF instructions (struct
// sock_filter, 8 bytes each) and the flags to load it with.
type seccompProgram struct {
	Filter []byte `json:"filter"`
	Flags  uint   `json:"flags,omitempty"`
	// Notify says the filter has SCMP_ACT_NOTIFY rules: it is loaded with a listener, whose
	// descriptor goes to the seccomp agent at linux.seccomp.listenerPath.
	Notify bool `json:"notify,omitempty"`
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
// A filter with SCMP_ACT_NOTIFY rules is loaded with SECCOMP_FILTER_FLAG_NEW_LISTENER: the
// kernel returns a descriptor on which a supervisor (the seccomp agent) receives each
// notified call and answers it (continue it, fail it with an errno, or do it on the
// process's behalf). load returns that descriptor, or -1. While nobody holds it, notified
// calls fail with ENOSYS, which is what keeps a dead agent from hanging the container.
//
// Equivalent to: seccomp(SECCOMP_SET_MODE_FILTER, flags, &program).
func (p *seccompProgram) load() (listener int, err error) {
	if p == nil {
		return -1, nil
	}
	const instruction = 8 // sizeof(struct sock_filter)
	if len(p.Filter) == 0 || len(p.Filter)%instruction != 0 {
		return -1, fmt.Errorf("load the seccomp filter: %d bytes is not a BPF program", len(p.Filter))
	}
	prog := unix.SockFprog{
		Len:    uint16(len(p.Filter) / instruction),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&p.Filter[0])),
	}
	flags := p.Flags
	if p.Notify {
		flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return -1, fmt.Errorf("load the seccomp filter: %w", errno)
	}
	if !p.Notify {
		return -1, nil
	}
	unix.CloseOnExec(int(r))
	return int(r), nil
}

// connectSeccompAgent connects to the seccomp agent of a profile with SCMP_ACT_NOTIFY rules,
// on the host side, before the process that loads the filter starts: an agent that is not
// there fails the command before anything of the container exists. nil without such rules.
//
// Equivalent to: `socat - UNIX-CONNECT:LISTENER_PATH`.
func connectSeccompAgent(s *specs.LinuxSeccomp) (*os.File, error) {
	if s == nil || !hasNotifyRules(s) {
		return nil, nil
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("seccomp agent socket: %w", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: s.ListenerPath}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("failed to connect with seccomp agent at linux.seccomp.listenerPath %s: %w", s.ListenerPath, err)
	}
	return os.NewFile(uintptr(fd), s.ListenerPath), nil
}

// sendToSeccompAgent hands a process's listener descriptor to the agent the way runc does,
// which is what agents are written against: one message whose bytes are the OCI container
// process state (the container's state, the process's PID, the profile's listenerMetadata,
// and "fds" naming the descriptors) and whose SCM_RIGHTS carry the descriptor.
func sendToSeccompAgent(agent *os.File, listener int, pid int, metadata string, state specs.State) error {
	msg, err := json.Marshal(specs.ContainerProcessState{
		Version: specs.Version, Fds: []string{specs.SeccompFdName}, Pid: pid, Metadata: metadata, State: state,
	})
	if err != nil {
		return fmt.Errorf("send the seccomp listener to the agent: %w", err)
	}
	if err := unix.Sendmsg(int(agent.Fd()), msg, unix.UnixRights(listener), nil, 0); err != nil {
		return fmt.Errorf("send the seccomp listener to the agent at %s: %w", agent.Name(), err)
	}
	return nil
}

// validateSeccompNotify checks the seccomp agent's part of a profile. Notified calls wait
// until the agent answers, so a call the runtime itself makes while it hands the listener
// over must never be notified: write is refused (as runc refuses it), and so is notify as
// the default action, which would cover write.
func validateSeccompNotify(s *specs.LinuxSeccomp) error {
	if s.ListenerPath != "" && !filepath.IsAbs(s.ListenerPath) {
		return fmt.Errorf("linux.seccomp.listenerPath %q: want the absolute path of the seccomp agent's socket", s.ListenerPath)
	}
	if !hasNotifyRules(s) {
		return nil
	}
	if s.DefaultAction == specs.ActNotify {
		return errors.New("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action: it would cover the write syscall")
	}
	for _, rule := range s.Syscalls {
		if rule.Action == specs.ActNotify && slices.Contains(rule.Names, "write") {
			return errors.New("linux.seccomp.syscalls: SCMP_ACT_NOTIFY cannot be used for the write syscall: the runtime's own writes would wait for the agent")
		}
	}
	if s.ListenerPath == "" {
		return errors.New("linux.seccomp: SCMP_ACT_NOTIFY rules need a listenerPath, the socket of the seccomp agent that answers them")
	}
	return nil
}

// hasNotifyRules reports whether any rule of a profile hands calls to an agent.
func hasNotifyRules(s *specs.LinuxSeccomp) bool {
	if s.DefaultAction == specs.ActNotify {
		return true
	}
	for _, rule := range s.Syscalls {
		if rule.Action == specs.ActNotify {
			return true
		}
	}
	return false
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
	// The last part names the program's layout (the ENOSYS stub in front): a program cached
	// by a runtime that compiled differently is never served.
	sum := sha256.Sum256(append(profile, "\x00"+goruntime.GOARCH+"\x00"+seccompVersion()+"\x00enosys-stub"...))
	path := filepath.Join(r.root(), seccompCache, hex.EncodeToString(sum[:]))
	if filter, err := os.ReadFile(path); err == nil {
		return &seccompProgram{Filter: filter, Flags: seccompFlags(s), Notify: hasNotifyRules(s)}, nil
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

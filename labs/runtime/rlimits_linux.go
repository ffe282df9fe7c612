package runtime

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Resource limits (process.rlimits) are set in two steps, because neither side can do all
// of it at the right moment:
//
//   - raiseHardRlimits, by the runtime from outside while the process is being set up,
//     lifts the hard limits that go up. Raising a hard limit needs CAP_SYS_RESOURCE in
//     the host's user namespace: the runtime has it, a process inside a user namespace
//     never does, and one whose capabilities were dropped has lost it.
//   - applyRlimits, by the process itself just before execve, sets every limit to the
//     config's values; lowering a limit, or raising a soft one up to the hard one, needs
//     no privilege.
//
// Why not all from outside, as runc does (with prlimit(2), once its init is ready)? The
// process is still the runtime's Go program until execve, and limits meant for the
// command can kill it: under an RLIMIT_AS of 1 GiB the Go runtime's next mapping fails
// with "cannot allocate memory" (it reserves more address space than that), and
// RLIMIT_NPROC counts its threads. crun, written in C, sets them in its own process
// before it clones. The cost of the late step: the seccomp profile, loaded earlier when
// no_new_privs is off, must allow setrlimit and prlimit64 (Docker's does).
//
// Setting RLIMIT_NOFILE from inside also tells Go's syscall package that the limit is the
// program's own choice: otherwise execve would restore the soft limit the Go runtime found
// at start (it raises it for itself, and puts it back for the programs it starts).

// raiseHardRlimits lifts, in process pid, each hard limit that the config sets higher than
// the process has now; the soft limits are left as they are.
//
// Equivalent to: `prlimit --pid PID --nofile=:HARD` for each limit that goes up.
func raiseHardRlimits(pid int, rlimits []specs.POSIXRlimit) error {
	for _, rl := range rlimits {
		resource := rlimitResources[rl.Type]
		var now unix.Rlimit
		if err := unix.Prlimit(pid, resource, nil, &now); err != nil {
			return fmt.Errorf("read %s: %w", rl.Type, err)
		}
		if rl.Hard <= now.Max {
			continue
		}
		if err := unix.Prlimit(pid, resource, &unix.Rlimit{Cur: now.Cur, Max: rl.Hard}, nil); err != nil {
			return fmt.Errorf("raise the hard %s to %d: %w", rl.Type, rl.Hard, err)
		}
	}
	return nil
}

// applyRlimits sets the calling process's limits to the config's values. Run it last before
// execve, once the Go code that the limits could hurt is done.
//
// Equivalent to: `ulimit -S -H -n SOFT:HARD` and so on, then `exec COMMAND`.
func applyRlimits(rlimits []specs.POSIXRlimit) error {
	for _, rl := range rlimits {
		if err := unix.Setrlimit(rlimitResources[rl.Type], &unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}); err != nil {
			return fmt.Errorf("set %s to %d:%d: %w", rl.Type, rl.Soft, rl.Hard, err)
		}
	}
	return nil
}

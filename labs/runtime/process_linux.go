package runtime

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"containerlabs/labs/process"
	"containerlabs/labs/rootfs"
)

// prepareProcess does the last steps before execve that a container's init and an exec'd
// process share, in runc's order, and returns the path of the command to exec. The order is
// the point:
//
//  1. the IO priority, while still root;
//  2. every descriptor above stdio and the preserved ones is marked close-on-exec, before
//     any seccomp filter is in force: a profile may refuse close_range (or close) itself;
//  3. the working directory is entered while still root, so that a directory the user
//     cannot reach but root can still works (runc's behaviour), and checked to be inside
//     the container (see verifyCwd), before any filter: a profile may refuse getcwd(2);
//  4. no_new_privs, so that no setuid binary or file capability can ever raise privileges
//     again in this process or its children;
//  5. without no_new_privs, loading a seccomp filter needs CAP_SYS_ADMIN, so the filter goes
//     in now, before the capabilities are dropped (runc does the same); the calls that
//     remain (setuid, capset, execve) are in every sane profile;
//  6. the bounding set is cut down (PR_CAPBSET_DROP needs CAP_SETPCAP, so before setuid);
//     groups, gid and uid change with PR_SET_KEEPCAPS on, which keeps the permitted set
//     across setuid instead of clearing it, and then the final effective, permitted,
//     inheritable and ambient sets are set;
//  7. if root was refused the working directory (a directory of another uid, without
//     CAP_DAC_OVERRIDE), it is entered and checked as the user; the command is looked up,
//     so that a missing one is an error of `create`;
//  8. with no_new_privs, the seccomp filter goes in last, so that as few of the runtime's
//     own calls as possible run under it; the init's wait for `start`, the startContainer
//     hooks and execCommand (the rlimits, then execve) do.
//
// A filter with a listener (SCMP_ACT_NOTIFY) hands its descriptor to handOver, which passes
// it to the runtime for the seccomp agent.
//
// Capabilities, no_new_privs and the seccomp filter belong to the calling thread, which must
// therefore be the thread that calls execve: the init locks itself to its main thread.
func prepareProcess(p *specs.Process, filter *seccompProgram, preserveFDs int, handOver func(listener int) error) (string, error) {
	if p.IOPriority != nil {
		prio, _ := ioPriority(p.IOPriority)
		const ioprioWhoProcess = 1
		if _, _, errno := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, uintptr(prio)); errno != 0 {
			return "", fmt.Errorf("set IO priority %s %d: %w", p.IOPriority.Class, p.IOPriority.Priority, errno)
		}
	}
	if err := unix.CloseRange(uint(3+preserveFDs), math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return "", fmt.Errorf("mark the runtime's descriptors close-on-exec: %w", err)
	}
	// The working directory is entered, and checked, before a filter loads where it can
	// be: a profile may refuse getcwd(2) itself (runtime-tools' seccomp test does).
	cwd := workingDir(p)
	err := unix.Chdir(cwd)
	enteredAsRoot := err == nil
	if err != nil && !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) {
		return "", fmt.Errorf("enter the working directory %s: %w", cwd, err)
	}
	if enteredAsRoot {
		if err := verifyCwd(cwd); err != nil {
			return "", err
		}
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return "", fmt.Errorf("set no_new_privs: %w", err)
		}
	} else if err := loadSeccomp(filter, handOver); err != nil {
		// Without no_new_privs, loading a filter takes CAP_SYS_ADMIN, which setUser drops.
		return "", err
	}
	if err := setUser(p); err != nil {
		return "", err
	}
	if !enteredAsRoot {
		// A directory only the process's own user may enter.
		if err := unix.Chdir(cwd); err != nil {
			return "", fmt.Errorf("enter the working directory %s: %w", cwd, err)
		}
		if err := verifyCwd(cwd); err != nil {
			return "", err
		}
	}
	path, err := lookPath(p)
	if err != nil {
		return "", err
	}
	if p.NoNewPrivileges {
		if err := loadSeccomp(filter, handOver); err != nil {
			return "", err
		}
	}
	return path, nil
}

// loadSeccomp loads the filter and hands its listener, if it has one, over.
func loadSeccomp(filter *seccompProgram, handOver func(listener int) error) error {
	listener, err := filter.load()
	if err != nil || listener < 0 {
		return err
	}
	return handOver(listener)
}

// verifyCwd makes sure the working directory the process just entered is inside the
// container's root. A path can leave the root without a single "..": through a descriptor
// of the host that is still open, as /proc/self/fd/N, which the kernel follows as a magic
// link to wherever the descriptor points. That is CVE-2024-21626: runc held a descriptor of
// the host's /sys/fs/cgroup, `-w /proc/self/fd/7` made it the working directory, and the
// command then reached the host's files through ".". The runtime closes what it can before
// the chdir; this check is the second fence, for any descriptor it missed. getcwd(2) tells:
// for a directory outside the process's root the kernel prefixes "(unreachable)" instead of
// returning an absolute path, which unix.Getwd reports as ENOENT.
//
// Equivalent to: `pwd -P` printing an absolute path.
func verifyCwd(cwd string) error {
	wd, err := unix.Getwd()
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("working directory %s is outside the container's root (a descriptor of the host, reached through /proc/self/fd?): refusing to run the command", cwd)
	}
	if err != nil {
		return fmt.Errorf("check the working directory %s: %w", cwd, err)
	}
	if !filepath.IsAbs(wd) {
		return fmt.Errorf("working directory %s resolves to %q, not an absolute path inside the container: refusing to run the command", cwd, wd)
	}
	return nil
}

// execCommand sets the process's rlimits and replaces the process with the command. The
// rlimits come last, once the Go code they could hurt is done (see rlimits_linux.go).
func execCommand(path string, p *specs.Process) error {
	if err := applyRlimits(p.Rlimits); err != nil {
		return err
	}
	if err := unix.Exec(path, p.Args, p.Env); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	return nil
}

// searchPath is the PATH of the process's environment (the last one, as getenv finds it), or
// "" for none.
func searchPath(p *specs.Process) string {
	search := ""
	for _, kv := range p.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			search = v
		}
	}
	return search
}

// workingDir is the process's working directory: its cwd, or "/".
func workingDir(p *specs.Process) string {
	if p.Cwd == "" {
		return "/"
	}
	return p.Cwd
}

// lookPath finds the command in the container, searching the PATH of the process's own
// environment, as a shell inside the container would.
func lookPath(p *specs.Process) (string, error) {
	path, err := rootfs.LookPath("/", p.Args[0], searchPath(p))
	switch {
	case errors.Is(err, rootfs.ErrNotFound):
		// runc's words, which Docker's client turns into exit status 127 (and "permission
		// denied" into 126).
		return "", fmt.Errorf("exec: %q: executable file not found in $PATH: %w", p.Args[0], err)
	case errors.Is(err, rootfs.ErrNotRunnable):
		return "", fmt.Errorf("exec: %q: permission denied: %w", p.Args[0], err)
	case err != nil:
		return "", fmt.Errorf("exec %q: %w", p.Args[0], err)
	}
	return path, nil
}

// setUser drops the bounding set, becomes the process's user and group, and sets the final
// capability sets. A process without a capabilities section keeps all of root's, as runc
// does.
func setUser(p *specs.Process) error {
	c := p.Capabilities
	if c != nil {
		bounding, _ := capabilityMask(c.Bounding)
		for bit := range capabilityNames {
			if bounding&(1<<bit) != 0 {
				continue
			}
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(bit), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("drop %s from the bounding set: %w", capabilityNames[bit], err)
			}
		}
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities across setuid: %w", err)
	}
	// Credentials belong to threads too. Go's Setresuid changes those of every thread,
	// which costs a signal to each; only this thread execs, so it alone is changed, with the
	// raw system calls.
	groups := p.User.AdditionalGids
	var groupsPtr uintptr
	if len(groups) > 0 {
		groupsPtr = uintptr(unsafe.Pointer(&groups[0]))
	}
	// Inside a user namespace whose setgroups is "deny", the call is refused; the process
	// then keeps no supplementary groups anyway.
	if _, _, errno := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), groupsPtr, 0); errno != 0 && !(errno == unix.EPERM && len(groups) == 0) {
		return fmt.Errorf("set supplementary groups %v: %w", groups, errno)
	}
	gid, uid := uintptr(p.User.GID), uintptr(p.User.UID)
	if _, _, errno := unix.RawSyscall(unix.SYS_SETRESGID, gid, gid, gid); errno != 0 {
		return fmt.Errorf("set gid %d: %w", p.User.GID, errno)
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_SETRESUID, uid, uid, uid); errno != 0 {
		return fmt.Errorf("set uid %d: %w", p.User.UID, errno)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear keepcaps: %w", err)
	}
	if p.User.Umask != nil {
		unix.Umask(int(*p.User.Umask))
	}
	if c == nil {
		return nil
	}
	return setCapabilities(c)
}

// setCapabilities sets the effective, permitted and inheritable sets with capset(2), and
// then the ambient set, whose capabilities survive an execve of a program without file
// capabilities. The kernel raises an ambient capability only if it is also permitted and
// inheritable; one that is not is skipped, as runc skips it (with a warning), because runc's
// own default config (`runc spec`) lists ambient capabilities and no inheritable ones.
//
// Equivalent to: `capsh --caps=...` and `capsh --addamb=...`.
func setCapabilities(c *specs.LinuxCapabilities) error {
	effective, _ := capabilityMask(c.Effective)
	permitted, _ := capabilityMask(c.Permitted)
	inheritable, _ := capabilityMask(c.Inheritable)
	ambient, _ := capabilityMask(c.Ambient)
	header := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(effective), Permitted: uint32(permitted), Inheritable: uint32(inheritable)},
		{Effective: uint32(effective >> 32), Permitted: uint32(permitted >> 32), Inheritable: uint32(inheritable >> 32)},
	}
	if err := unix.Capset(&header, &data[0]); err != nil {
		return fmt.Errorf("set capabilities (effective %#x, permitted %#x, inheritable %#x): %w", effective, permitted, inheritable, err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear the ambient capabilities: %w", err)
	}
	for bit := range capabilityNames {
		if ambient&permitted&inheritable&(1<<bit) == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(bit), 0, 0); err != nil {
			return fmt.Errorf("raise ambient %s (it must be permitted and inheritable too): %w", capabilityNames[bit], err)
		}
	}
	return nil
}

// exitCodeFor is the status an init or exec ends with when it cannot run its command, and
// the status `run` and `exec` report for an error: 127 for a command that is not there, 126
// for one that cannot run, 125 for anything else (Docker's convention).
func exitCodeFor(err error) int {
	var reported interface{ ExitCode() int }
	if errors.As(err, &reported) {
		return reported.ExitCode()
	}
	return process.ExitCodeFor(err)
}

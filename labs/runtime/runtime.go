package runtime

import (
	"fmt"
	"os"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Version is this runtime's version, which `--version` and `features` report.
const Version = "0.1.0"

// DefaultRoot is where containers' state lives unless the caller (runc's --root) says
// otherwise: a tmpfs, so that a reboot, which ends every container, also forgets them.
const DefaultRoot = "/run/containerlabs-runc"

// Runtime creates and manages containers whose state lives under one root directory, one
// directory per container. Every command of the OCI runtime command line is a method.
type Runtime struct {
	// Root is the state directory; "" means DefaultRoot.
	Root string
	// Log receives warnings and debug messages (a hook that failed after the container
	// started, say); nil discards them.
	Log *Logger
	// Rootless tolerates a cgroup the kernel will not let the caller create, as runc's
	// --rootless does: a container that asks for no limits then runs without a group of
	// its own (see rootless_linux.go).
	Rootless bool
}

func (r *Runtime) root() string {
	if r.Root == "" {
		return DefaultRoot
	}
	return r.Root
}

// CreateOptions are the flags of `create` and `run`.
type CreateOptions struct {
	// Bundle is the directory holding config.json and, usually, the root file system.
	Bundle string
	// PidFile, if set, receives the PID of the container's init on the host.
	PidFile string
	// ConsoleSocket is the path of a Unix socket that receives the master end of the
	// container's terminal (process.terminal) as an SCM_RIGHTS message.
	ConsoleSocket string
	// NoPivot uses chroot instead of pivot_root, for a root on a ramdisk (where pivot_root
	// is refused). The host's root then stays reachable to a process that can escape a
	// chroot: use it only where pivot_root cannot work.
	NoPivot bool
	// NoNewKeyring keeps the caller's session keyring instead of giving the container a
	// new one.
	NoNewKeyring bool
	// PreserveFDs passes the caller's descriptors 3 to 3+PreserveFDs-1 to the container's
	// process, at the same numbers.
	PreserveFDs int
	// Stdin, Stdout and Stderr are the container process's; nil means the caller's own.
	Stdin, Stdout, Stderr *os.File
	// Detach makes Run return once the command runs, instead of waiting for it (`run -d`).
	Detach bool
	// Keep makes Run leave the stopped container (its state and cgroup) for a later
	// Delete, instead of deleting it when the command exits (`run --keep`).
	Keep bool
	// console is a connected console socket: Run makes one of its own (a consoleRelay)
	// when ConsoleSocket is empty.
	console *os.File
}

// ExecOptions are the flags of `exec`.
type ExecOptions struct {
	// Detach returns as soon as the process runs, instead of waiting for it. Its parent is
	// then the caller's subreaper (containerd's shim), as with runc.
	Detach bool
	// PidFile, if set, receives the PID of the new process on the host.
	PidFile string
	// ConsoleSocket receives the terminal's master end when the process has one.
	ConsoleSocket string
	// PreserveFDs passes descriptors 3 to 3+PreserveFDs-1 on to the process.
	PreserveFDs int
	// Stdin, Stdout and Stderr are the process's; nil means the caller's own.
	Stdin, Stdout, Stderr *os.File
	// SubCgroups puts the process in a group below the container's, by controller ("" for
	// every one): {"memory": "sub"} joins .../CONTAINER/sub in the memory hierarchy. The
	// groups must exist (the container makes them, in its writable /sys/fs/cgroup).
	SubCgroups map[string]string
	// IgnorePaused allows an exec into a paused container; the process then starts
	// frozen, and runs once the container is resumed.
	IgnorePaused bool
}

// State is what `state` prints: the OCI runtime state of a container, with the fields runc
// adds (rootfs, created, owner), which containerd's runc client reads.
type State struct {
	specs.State
	// Rootfs is the host path of the container's root directory.
	Rootfs string `json:"rootfs"`
	// Created is when `create` finished.
	Created time.Time `json:"created"`
	// Owner is the user that owns the container; this runtime leaves it empty, as runc
	// does for root (a rootless caller's containers are in its own state root anyway).
	Owner string `json:"owner"`
}

// StatePaused is the status of a container whose processes are frozen (runc's fifth state,
// beside the four of the OCI specification).
const StatePaused specs.ContainerState = "paused"

// checkID makes sure a container ID is a single safe path element: it names a directory
// under the state root. Names starting with a dot are the runtime's own (its seccomp cache).
func checkID(id string) error {
	ok := id != "" && len(id) <= 1024 && !strings.HasPrefix(id, ".")
	for _, c := range id {
		ok = ok && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_+.-", c))
	}
	if !ok {
		return fmt.Errorf("invalid container ID %q: want letters, digits, '_', '+', '.' or '-', not starting with '.'", id)
	}
	return nil
}

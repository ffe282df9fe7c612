package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/namespace"
	"containerlabs/labs/runtime/nsenter"
)

// initConfig is what the runtime sends down the sync socket to the process it started once
// that process is inside the container's namespaces: the container's init (Exec false) or a
// process joining a running container (Exec true).
type initConfig struct {
	Exec bool        `json:"exec,omitempty"`
	Spec *specs.Spec `json:"spec"`
	// State is the container's state for the hooks the init runs.
	State  State  `json:"state"`
	Rootfs string `json:"rootfs,omitempty"`
	Bundle string `json:"bundle,omitempty"`
	// Cgroup is the container's group, which a cgroup mount shows.
	Cgroup       *cgroup.OCI `json:"cgroup,omitempty"`
	NewCgroupNS  bool        `json:"new_cgroupns,omitempty"`
	NewUserNS    bool        `json:"new_userns,omitempty"`
	NoPivot      bool        `json:"no_pivot,omitempty"`
	NoNewKeyring bool        `json:"no_new_keyring,omitempty"`
	PreserveFDs  int         `json:"preserve_fds,omitempty"`
	// ConsoleFD and FifoFD are descriptor numbers in the init, or -1.
	ConsoleFD int `json:"console_fd"`
	FifoFD    int `json:"fifo_fd"`
	// Hooks says whether the runtime wants to run createRuntime hooks between the mounts
	// and pivot_root.
	Hooks bool `json:"hooks,omitempty"`
	// Seccomp is the compiled filter of linux.seccomp (which is left out of Spec).
	Seccomp *seccompProgram `json:"seccomp,omitempty"`
}

// syncMsg is one message between the runtime and its init after the plan.
type syncMsg struct {
	// Type is "hooks" (init: mounts done, run createRuntime now), "resume" (runtime: done),
	// "ready" (init: all set up, waiting for start) or "error".
	Type  string `json:"type"`
	Error string `json:"error,omitempty"`
	// Code is the exit status the error stands for: 127 for a command that is not there,
	// 126 for one that cannot run, 125 for anything else.
	Code int `json:"code,omitempty"`
}

// initError is an error the init reported, with the exit status it stands for.
type initError struct {
	msg  string
	code int
}

// Error is the init's message.
func (e *initError) Error() string { return e.msg }

// ExitCode is the status a command that failed this way exits with.
func (e *initError) ExitCode() int { return e.code }

// IsInit reports whether this process is one the runtime started to become a container's
// process: nsenter's variable is set. A program that uses this package checks it first thing
// in main and then calls Init instead of doing its usual work.
func IsInit() bool {
	return os.Getenv(nsenter.Env) != ""
}

func init() {
	if IsInit() {
		// Capabilities, no_new_privs and seccomp filters belong to a thread, and execve keeps
		// those of the thread that calls it: the whole init runs on the main thread.
		goruntime.LockOSThread()
		_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte("labs-runc:init\x00")[0])), 0, 0, 0)
	}
}

// Init is the container side of `create` and `exec`, run by the runtime's own binary, which
// nsenter's constructor has already moved into the container's namespaces. It reads its
// instructions from the runtime, sets the container (or the joining process) up, and
// execs the command; it returns only when that failed, with the status to exit with. The
// error it returns is one the runtime could not be told (it had gone, or the container was
// already started): the caller prints it, on what is now the container's stderr.
func Init() (int, error) {
	fd, err := strconv.Atoi(os.Getenv(nsenter.Env))
	if err != nil {
		return 1, fmt.Errorf("%s=%q is not a descriptor", nsenter.Env, os.Getenv(nsenter.Env))
	}
	os.Unsetenv(nsenter.Env)
	sock := os.NewFile(uintptr(fd), "sync")
	if !nsenter.Available {
		fmt.Fprintf(sock, "error this binary was built without cgo: it cannot enter namespaces (build with CGO_ENABLED=1)\n")
		return 1, nil
	}
	unix.CloseOnExec(fd)
	s := &initSync{dec: json.NewDecoder(sock), enc: json.NewEncoder(sock)}
	var cfg initConfig
	if err := s.dec.Decode(&cfg); err != nil {
		return 1, fmt.Errorf("read the configuration: %w", err)
	}
	if cfg.Exec {
		err = initExec(&cfg)
	} else {
		err = initContainer(&cfg, s)
	}
	// Before "ready", the runtime waits for this message and reports it; after, nobody
	// reads it.
	if sendErr := s.enc.Encode(syncMsg{Type: "error", Error: err.Error(), Code: exitCodeFor(err)}); sendErr == nil && !s.ready {
		return exitCodeFor(err), nil
	}
	return exitCodeFor(err), err
}

type initSync struct {
	dec   *json.Decoder
	enc   *json.Encoder
	ready bool
}

// initContainer sets a new container up, in runc's order, and waits for `start`.
func initContainer(cfg *initConfig, s *initSync) error {
	spec := cfg.Spec
	if cfg.NewCgroupNS {
		// The runtime moved us into the container's cgroup before it sent the config, so
		// the new namespace's root is the container's own group. A namespace belongs to a
		// thread: this is the locked main thread, which also mounts and execs.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unshare the cgroup namespace: %w", err)
		}
	}
	if err := prepareRootfs(cfg); err != nil {
		return err
	}
	if cfg.Hooks {
		if err := s.enc.Encode(syncMsg{Type: "hooks"}); err != nil {
			return err
		}
		var m syncMsg
		if err := s.dec.Decode(&m); err != nil || m.Type != "resume" {
			return fmt.Errorf("wait for the runtime's createRuntime hooks: %v %s", err, m.Error)
		}
	}
	if spec.Hooks != nil {
		if err := runHooks("createContainer", spec.Hooks.CreateContainer, cfg.State); err != nil {
			return err
		}
	}
	// The host's /proc, opened before it goes out of reach: after pivot_root it is the one
	// way to reopen the exec fifo (through /proc/self/fd), whatever the container mounts.
	hostProc, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /proc: %w", err)
	}
	if err := switchRoot(cfg.NoPivot, spec.Linux.RootfsPropagation); err != nil {
		return err
	}
	if spec.Process.Terminal {
		console := ""
		if !devIsBindMounted(spec) {
			console = "/dev/console"
		}
		if err := setupConsole(cfg.ConsoleFD, spec.Process.ConsoleSize, console); err != nil {
			return err
		}
	}
	if spec.Root.Readonly {
		if err := remount("/", unix.MS_RDONLY); err != nil {
			return err
		}
	}
	if newNamespace(spec, specs.UTSNamespace) {
		if spec.Hostname != "" {
			if err := namespace.SetHostname(spec.Hostname); err != nil {
				return err
			}
		}
		if spec.Domainname != "" {
			if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
				return fmt.Errorf("set domain name %q: %w", spec.Domainname, err)
			}
		}
	}
	if err := writeSysctls(spec.Linux.Sysctl); err != nil {
		return err
	}
	if err := readonlyPaths(spec.Linux.ReadonlyPaths); err != nil {
		return err
	}
	if err := maskPaths(spec.Linux.MaskedPaths); err != nil {
		return err
	}
	if !cfg.NoNewKeyring {
		// Keys are not namespaced: without a session keyring of its own, the container
		// would share the caller's. ENOSYS: keyctl is filtered (a nested container).
		if _, err := unix.KeyctlJoinSessionKeyring("_ses." + cfg.State.ID); err != nil && !errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("make a session keyring: %w", err)
		}
	}
	// The last failure create can report: a command that is not in the image.
	if _, err := lookPath(spec.Process); err != nil {
		return err
	}
	if err := s.enc.Encode(syncMsg{Type: "ready"}); err != nil {
		return err
	}
	s.ready = true
	return finalizeProcess(spec.Process, cfg.Seccomp, cfg.PreserveFDs, func() error {
		// Blocks until `start` opens the fifo for reading.
		fifo, err := unix.Openat(hostProc, "self/fd/"+strconv.Itoa(cfg.FifoFD), unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open the exec fifo: %w", err)
		}
		if _, err := unix.Write(fifo, []byte("0")); err != nil {
			return fmt.Errorf("write the exec fifo: %w", err)
		}
		// The fifo stays open, close-on-exec: `start` waits for its end of file, which
		// comes with execve.
		unix.Close(hostProc)
		if spec.Hooks != nil {
			return runHooks("startContainer", spec.Hooks.StartContainer, cfg.State)
		}
		return nil
	})
}

// initExec sets up a process that joined a running container (nsenter joined the
// namespaces and entered the root) and execs it.
func initExec(cfg *initConfig) error {
	p := cfg.Spec.Process
	if p.Terminal {
		if err := setupConsole(cfg.ConsoleFD, p.ConsoleSize, ""); err != nil {
			return err
		}
	}
	return finalizeProcess(p, cfg.Seccomp, cfg.PreserveFDs, nil)
}

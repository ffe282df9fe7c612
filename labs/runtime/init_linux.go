package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/mount"
	"containerlabs/labs/namespace"
	"containerlabs/labs/process"
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
	// MountSources maps the index of a bind mount in Spec.Mounts to the detached copy of
	// its source that the runtime made on the host (see openMountSources): in the message,
	// the copy's place among the descriptors sent with it; in the init, its descriptor.
	MountSources map[int]int `json:"mount_sources,omitempty"`
	// Hooks says whether the runtime wants to run createRuntime hooks between the mounts
	// and pivot_root.
	Hooks bool `json:"hooks,omitempty"`
	// Seccomp is the compiled filter of linux.seccomp (which is left out of Spec).
	Seccomp *seccompProgram `json:"seccomp,omitempty"`
}

// syncMsg is one message between the runtime and its init after the plan.
type syncMsg struct {
	// Type is "hooks" (init: mounts done, run createRuntime now), "resume" (runtime: done),
	// "seccomp" (init: here is the seccomp listener, as SCM_RIGHTS), "seccomp-done"
	// (runtime: the agent has it), "ready" (init: all set up, waiting for start) or "error".
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
	s := &initSync{sock: sock, in: process.NewLineReader(fd), enc: json.NewEncoder(sock)}
	var cfg initConfig
	if err := s.receive(&cfg); err != nil {
		return 1, fmt.Errorf("read the configuration: %w", err)
	}
	// The descriptors that came with the configuration are the bind-mount sources, in the
	// order MountSources numbers them.
	var received []int
	for fd := s.in.TakeFD(); fd >= 0; fd = s.in.TakeFD() {
		received = append(received, fd)
	}
	for i, n := range cfg.MountSources {
		if n >= len(received) {
			return 1, fmt.Errorf("read the configuration: bind mount source %d of %d is missing", n+1, len(cfg.MountSources))
		}
		cfg.MountSources[i] = received[n]
	}
	if cfg.Exec {
		err = initExec(&cfg, s)
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
	sock  *os.File
	in    *process.LineReader
	enc   *json.Encoder
	ready bool
}

// receive reads the runtime's next message into v.
func (s *initSync) receive(v any) error {
	line, err := s.in.Line()
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(line), v)
}

// handOver sends a seccomp listener to the runtime, which passes it on to the seccomp agent,
// and waits until it has. The descriptor goes out with the message itself, in one sendmsg:
// once the filter is loaded, a call of this process that the filter notifies (a read, say)
// waits for the agent, so nothing may be read before the agent has the listener. Then this
// process closes its own copy, so that the agent holds the only one: if the agent dies,
// notified calls fail with ENOSYS instead of waiting forever.
func (s *initSync) handOver(listener int) error {
	msg, _ := json.Marshal(syncMsg{Type: "seccomp"})
	err := unix.Sendmsg(int(s.sock.Fd()), append(msg, '\n'), unix.UnixRights(listener), nil, 0)
	unix.Close(listener)
	if err != nil {
		return fmt.Errorf("send the seccomp listener to the runtime: %w", err)
	}
	var m syncMsg
	if err := s.receive(&m); err != nil || m.Type != "seccomp-done" {
		return fmt.Errorf("wait for the runtime to pass the seccomp listener on: %v %s", err, m.Error)
	}
	return nil
}

// initContainer sets a new container up, in runc's order, and waits for `start`.
//
// No descriptor of the host may be open when the init enters the working directory or runs
// anything the config's author or the container controls (hooks inside the container, the
// command): a directory descriptor there is a way out of the root (see verifyCwd). So the
// bind-mount sources are closed as soon as the mounts are made, the console socket once the
// terminal is sent, and the descriptors above the handed-over ones are marked close-on-exec
// before the first system call a seccomp profile could refuse. The exec fifo, which the
// init holds while it waits for `start`, is a FIFO, not a directory: no path leads through it.
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
	useMountSources(cfg)
	devFlags, readonlyDev := holdDevWritable(spec)
	err := prepareRootfs(cfg)
	closeMountSources(cfg)
	if err != nil {
		return err
	}
	if cfg.Hooks {
		if err := s.enc.Encode(syncMsg{Type: "hooks"}); err != nil {
			return err
		}
		var m syncMsg
		if err := s.receive(&m); err != nil || m.Type != "resume" {
			return fmt.Errorf("wait for the runtime's createRuntime hooks: %v %s", err, m.Error)
		}
	}
	if spec.Hooks != nil {
		if err := runHooks("createContainer", spec.Hooks.CreateContainer, cfg.State); err != nil {
			return fmt.Errorf("error running hook in the container's namespaces: %w", err)
		}
	}
	if cfg.NoPivot {
		if err := hideHostKernelFS(cfg.Rootfs); err != nil {
			return err
		}
	}
	if err := switchRoot(cfg.NoPivot, spec.Linux.RootfsPropagation); err != nil {
		return err
	}
	if spec.Process.Terminal {
		console := ""
		if !devIsBindMounted(spec) {
			console = "/dev/console"
		}
		if err := setupConsole(cfg.ConsoleFD, spec.Process.ConsoleSize, console, spec.Process.User.UID); err != nil {
			return err
		}
	}
	if readonlyDev {
		// /dev was mounted writable so that its nodes, /dev/pts and the console could be
		// made in it; now it gets the read-only flag its mount asked for.
		if err := remount("/dev", devFlags|unix.MS_RDONLY); err != nil {
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
	path, err := prepareProcess(spec.Process, cfg.Seccomp, cfg.PreserveFDs, s.handOver)
	if err != nil {
		return err
	}
	// Everything that can fail `create` is done: the runtime returns, the init waits.
	if err := s.enc.Encode(syncMsg{Type: "ready"}); err != nil {
		return err
	}
	s.ready = true
	if err := waitForStart(cfg.FifoFD); err != nil {
		return err
	}
	if spec.Hooks != nil {
		if err := runHooks("startContainer", spec.Hooks.StartContainer, cfg.State); err != nil {
			return fmt.Errorf("error running hook inside the container: %w", err)
		}
	}
	return execCommand(path, spec.Process)
}

// hideHostKernelFS removes, from the container's mount namespace, every procfs and sysfs
// mount of the host's tree, before a --no-pivot root is chrooted into. With pivot_root the
// old root goes and they with it; with chroot they stay in the namespace, out of sight but
// there, and the kernel lets a process that makes a user namespace mount a fresh procfs or
// sysfs (with nothing masked) only if a fully visible one already exists in its mount
// namespace: the host's would count. runc does the same for --no-pivot. A mount that cannot
// be detached is covered with an empty tmpfs instead.
//
// Equivalent to: `umount -l /proc /sys` (and every other proc and sysfs outside the root).
func hideHostKernelFS(rootfs string) error {
	table, err := mount.Table()
	if err != nil {
		return err
	}
	for _, m := range slices.Backward(table) {
		inside := m.Target == rootfs || strings.HasPrefix(m.Target, rootfs+"/")
		if inside || m.Root != "/" || (m.FSType != "proc" && m.FSType != "sysfs") {
			continue
		}
		err := mount.Unmount(m.Target)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) {
			err = mount.Mount{Source: "tmpfs", Target: m.Target, FSType: "tmpfs", Flags: unix.MS_RDONLY}.Apply()
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("hide the host's %s at %s before chroot: %w", m.FSType, m.Target, err)
		}
	}
	return nil
}

// waitForStart blocks until `start` writes its byte into the exec fifo, which the runtime
// opened for reading and writing and handed over (see Runtime.Start), and leaves it open.
//
// Equivalent to: `head -c1 ROOT/ID/exec.fifo`.
func waitForStart(fifo int) error {
	buf := make([]byte, 1)
	for {
		n, err := unix.Read(fifo, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		// The fifo stays open, close-on-exec: `start` waits until it has no reader left,
		// which comes with execve (see waitForExec).
		if n != 1 {
			return fmt.Errorf("wait for start on the exec fifo: %v", err)
		}
		return nil
	}
}

// useMountSources points each bind mount whose source the runtime copied on the host (see
// openMountSources) at that copy, /proc/self/fd/N, which the kernel follows to the copy's
// root: stat works on it, and attachMountSource recognises it.
func useMountSources(cfg *initConfig) {
	for i, fd := range cfg.MountSources {
		cfg.Spec.Mounts[i].Source = "/proc/self/fd/" + strconv.Itoa(fd)
	}
}

// attachMountSource attaches, at dest, the detached copy of a bind mount's source that src
// names (/proc/self/fd/N of one of cfg.MountSources), and reports whether src was one.
//
// Equivalent to: `move_mount(N, "", AT_FDCWD, DEST, MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_SYMLINKS)`.
func attachMountSource(cfg *initConfig, src, dest string) (bool, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(src, "/proc/self/fd/"))
	if err != nil || !strings.HasPrefix(src, "/proc/self/fd/") || !slices.Contains(slices.Collect(maps.Values(cfg.MountSources)), n) {
		return false, nil
	}
	// dest is /proc/self/fd/M of the destination, resolved inside the root (see mountOne):
	// move_mount follows that link, as mount(2) does, only when asked to.
	if err := unix.MoveMount(n, "", unix.AT_FDCWD, dest, unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_SYMLINKS); err != nil {
		return true, fmt.Errorf("attach the bind mount's source (copied on the host) at %s: %w", dest, err)
	}
	return true, nil
}

// closeMountSources closes the descriptors of the bind-mount sources: they are the host's,
// and must be gone before the init runs anything of the container's.
func closeMountSources(cfg *initConfig) {
	for _, fd := range cfg.MountSources {
		unix.Close(fd)
	}
}

// holdDevWritable takes the read-only flag off a tmpfs /dev in the config's mounts, so that
// the device nodes, /dev/pts and /dev/console can be made in it, and says whether to put it
// back once they are (with the mount's other flags).
func holdDevWritable(spec *specs.Spec) (flags uintptr, readonly bool) {
	for i, m := range spec.Mounts {
		if filepath.Clean(m.Destination) != "/dev" || m.Type != "tmpfs" {
			continue
		}
		o, err := parseMountOptions(m.Options)
		if err != nil || o.flags&unix.MS_RDONLY == 0 {
			return 0, false
		}
		var opts []string
		for _, opt := range m.Options {
			if opt != "ro" {
				opts = append(opts, opt)
			}
		}
		spec.Mounts[i].Options = opts
		return o.flags &^ unix.MS_RDONLY, true
	}
	return 0, false
}

// initExec sets up a process that joined a running container (nsenter joined the
// namespaces and entered the root) and execs it.
func initExec(cfg *initConfig, s *initSync) error {
	p := cfg.Spec.Process
	if p.Terminal {
		if err := setupConsole(cfg.ConsoleFD, p.ConsoleSize, "", p.User.UID); err != nil {
			return err
		}
	}
	path, err := prepareProcess(p, cfg.Seccomp, cfg.PreserveFDs, s.handOver)
	if err != nil {
		return err
	}
	return execCommand(path, p)
}

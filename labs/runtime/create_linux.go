package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"containerlabs/labs/namespace"
	"containerlabs/labs/process"
	"containerlabs/labs/runtime/nsenter"
)

// launch is a process the runtime started through nsenter: a container's init, or a process
// joining a running container. Its parent's end of the sync socket carries the plan and the
// uid/gid map handshake as lines (for the C constructor), then JSON messages, one a line
// (for the Go init).
type launch struct {
	// nsenter is the PID of the process nsenter's constructor runs in.
	nsenter int
	sock    *os.File
	in      *process.LineReader
	// pid is the process that goes on into the container, as the host numbers it.
	pid int
	// agent is the connection to the seccomp agent, which receives the process's seccomp
	// listener; metadata and state go with it. nil without one.
	agent         *os.File
	agentMetadata string
	agentState    specs.State
	log           *Logger
	// cinit says the process is the C init (see cinit_linux.go), which reads a program,
	// not the Go init's configuration.
	cinit bool
}

// launchOptions describe the process a launch starts.
type launchOptions struct {
	stdin, stdout, stderr *os.File
	preserveFDs           int
	// extra are descriptors the Go side needs (exec fifo, console socket); they follow the
	// preserved descriptors and the sync socket, in order.
	extra []*os.File
}

// fdAfterPreserved returns the descriptor number the i-th extra file gets in the launched
// process: after stdio, the preserved descriptors, and the sync socket.
func fdAfterPreserved(preserveFDs, i int) int { return 3 + preserveFDs + 1 + i }

// spawn starts the runtime's own binary with nsenter's variable set. Its constructor waits
// for the plan (see guide), so the runtime can start it first and work out the plan while
// the new process loads: on two cores, the two overlap.
func spawn(o launchOptions) (*launch, error) {
	if !nsenter.Available {
		return nil, errors.New("this binary was built without cgo, so it has no nsenter to enter namespaces with: build it with CGO_ENABLED=1")
	}
	// As a child subreaper, we inherit the process nsenter forks when nsenter's own process
	// exits, and it can be waited for; when we exit in turn, it goes to our nearest
	// subreaper, containerd's shim, which is the parent runc's processes have too.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("become a child subreaper: %w", err)
	}
	// Descriptors this process inherited from its caller without close-on-exec (a test
	// harness's pipe, a shell's redirection) would pass into the container's process, and
	// hold the caller's pipes open for the container's whole life. ForkExec below passes on
	// only the descriptors it lists, whatever their flag; every other one is marked here.
	if err := unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return nil, fmt.Errorf("mark inherited descriptors close-on-exec: %w", err)
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("make the sync socket: %w", err)
	}
	parent, child := os.NewFile(uintptr(pair[0]), "sync"), os.NewFile(uintptr(pair[1]), "sync")
	defer child.Close()
	// Descriptor i of the child is files[i]: stdio, the preserved ones at their own
	// numbers, the sync socket, then the extra files.
	files := []uintptr{o.stdin.Fd(), o.stdout.Fd(), o.stderr.Fd()}
	for i := 0; i < o.preserveFDs; i++ {
		files = append(files, uintptr(3+i))
	}
	files = append(files, child.Fd())
	for _, f := range o.extra {
		files = append(files, f.Fd())
	}
	// syscall.ForkExec rather than os/exec: the latter first probes, with a throwaway
	// process, whether the kernel has pidfds, which costs a container start a fork.
	// GODEBUG: since Go 1.25 the runtime sizes GOMAXPROCS from its cgroup's CPU limit and
	// keeps the host's cgroup files open to watch it; in the init they would be descriptors
	// of the host (the class of CVE-2024-21626), and the init needs no such tuning.
	self, started, err := initExecutable(len(files))
	if err != nil {
		parent.Close()
		return nil, err
	}
	defer started()
	pid, err := syscall.ForkExec(self, []string{"labs-runc", "init"}, &syscall.ProcAttr{
		Env:   initEnv(3 + o.preserveFDs),
		Files: files,
	})
	if err != nil {
		parent.Close()
		return nil, fmt.Errorf("start the init: %w", err)
	}
	return &launch{nsenter: pid, sock: parent, in: process.NewLineReader(int(parent.Fd()))}, nil
}

// initEnv is the environment of the init: the runtime's own, nsenter's variable, and
// GODEBUG (see spawn) in place of any the caller set.
func initEnv(syncFD int) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GODEBUG=") })
	return append(env, nsenter.Env+"="+strconv.Itoa(syncFD), "GODEBUG=containermaxprocs=0,updatemaxprocs=0")
}

// guide sends nsenter the plan and answers it until it names the PID of the process that
// goes on into the container; nsenter's own process then exits and is reaped here. That
// process is ours from then on (see spawn).
func (l *launch) guide(plan []string, uidMaps, gidMaps []specs.LinuxIDMapping) error {
	if err := l.sendPlan(plan); err != nil {
		return err
	}
	return l.awaitChild(uidMaps, gidMaps)
}

// sendPlan sends nsenter its plan, without waiting for it to act on it: create does its own
// work (the config, the seccomp filter, the cgroup) while nsenter enters the namespaces.
func (l *launch) sendPlan(plan []string) error {
	if _, err := io.WriteString(l.sock, strings.Join(plan, "\n")+"\n\n"); err != nil {
		return fmt.Errorf("send the plan to nsenter: %w", err)
	}
	return nil
}

// awaitChild answers nsenter (the ID maps of a new user namespace) until it names the PID
// of the process that goes on into the container, and reaps nsenter's own process.
func (l *launch) awaitChild(uidMaps, gidMaps []specs.LinuxIDMapping) error {
	err := l.converse(uidMaps, gidMaps)
	if err != nil && l.nsenter != 0 {
		// nsenter may be waiting for an answer that will not come (the maps could not be
		// written): end it, or the wait below would never return.
		_ = unix.Kill(l.nsenter, unix.SIGKILL)
	}
	if waitErr := l.reapNsenter(); err == nil && waitErr != nil {
		err = waitErr
	}
	return err
}

func (l *launch) converse(uidMaps, gidMaps []specs.LinuxIDMapping) error {
	for {
		line, err := l.in.Line()
		if err != nil {
			return fmt.Errorf("nsenter exited without reporting: %w", err)
		}
		word, rest, _ := strings.Cut(line, " ")
		switch word {
		case "userns":
			if err := writeIDMaps(l.nsenter, uidMaps, gidMaps); err != nil {
				return err
			}
			if _, err := io.WriteString(l.sock, "mapped\n"); err != nil {
				return err
			}
		case "pid":
			l.pid, err = strconv.Atoi(rest)
			return err
		case "error":
			return fmt.Errorf("nsenter: %s", rest)
		default:
			return fmt.Errorf("nsenter said %q", line)
		}
	}
}

// writeIDMaps writes the uid and gid maps of pid's new user namespace, from outside it, as
// the caller may (namespace.WriteIDMaps: an ordinary user's own IDs, or its subordinate
// ranges through newuidmap and newgidmap).
//
// Equivalent to: `echo "0 100000 65536" > /proc/PID/uid_map` (and gid_map).
func writeIDMaps(pid int, uids, gids []specs.LinuxIDMapping) error {
	convert := func(maps []specs.LinuxIDMapping) []namespace.IDMap {
		out := make([]namespace.IDMap, len(maps))
		for i, m := range maps {
			out[i] = namespace.IDMap{Inside: int(m.ContainerID), Outside: int(m.HostID), Size: int(m.Size)}
		}
		return out
	}
	return namespace.WriteIDMaps(pid, convert(uids), convert(gids))
}

// reapNsenter waits for nsenter's process, which exits once it has forked.
func (l *launch) reapNsenter() error {
	if l.nsenter == 0 {
		return nil
	}
	var ws unix.WaitStatus
	_, err := unix.Wait4(l.nsenter, &ws, 0, nil)
	for errors.Is(err, unix.EINTR) {
		_, err = unix.Wait4(l.nsenter, &ws, 0, nil)
	}
	l.nsenter = 0
	if err != nil {
		return fmt.Errorf("wait for nsenter: %w", err)
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return fmt.Errorf("nsenter failed (wait status %#x)", uint32(ws))
	}
	return nil
}

// kill ends a launch that will not be completed, and reaps it.
func (l *launch) kill() {
	l.close()
	if l.pid == 0 {
		// nsenter has not forked yet: its own process is the one to end.
		_ = unix.Kill(l.nsenter, unix.SIGKILL)
		_ = l.reapNsenter()
		return
	}
	if l.pid > 0 {
		_ = unix.Kill(l.pid, unix.SIGKILL)
		var ws unix.WaitStatus
		_, _ = unix.Wait4(l.pid, &ws, 0, nil)
	}
}

// send writes one message to the process, with descriptors as SCM_RIGHTS if any. A long
// message may go out in several pieces; the descriptors travel with the first.
func (l *launch) send(v any, fds ...int) error {
	msg, err := json.Marshal(v)
	if err != nil {
		return err
	}
	msg = append(msg, '\n')
	var rights []byte
	if len(fds) > 0 {
		rights = unix.UnixRights(fds...)
	}
	for len(msg) > 0 {
		n, err := unix.SendmsgN(int(l.sock.Fd()), msg, rights, nil, 0)
		if errors.Is(err, unix.EINTR) && n == 0 {
			continue
		}
		if err != nil {
			return err
		}
		msg, rights = msg[n:], nil
	}
	return nil
}

// close closes the runtime's end of the sync socket and the seccomp agent's connection.
func (l *launch) close() {
	l.sock.Close()
	l.in.Close()
	if l.agent != nil {
		l.agent.Close()
	}
}

// receive reads the process's next message; an "error" message becomes the error. A
// seccomp listener is passed on to the agent here, as soon as it arrives, whatever the
// caller waits for: the process's next system calls may wait for the agent.
func (l *launch) receive() (syncMsg, error) {
	for {
		var m syncMsg
		line, err := l.in.Line()
		if errors.Is(err, io.EOF) {
			return m, err
		}
		if err != nil {
			return m, fmt.Errorf("read from the init: %w", err)
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return m, fmt.Errorf("read from the init: %w", err)
		}
		switch m.Type {
		case "error":
			return m, &initError{m.Error, m.Code}
		case "seccomp":
			if err := l.passListener(); err != nil {
				return m, err
			}
			continue
		}
		return m, nil
	}
}

// passListener sends the seccomp listener that came with the last message to the agent,
// closes the runtime's copy, and tells the process.
func (l *launch) passListener() error {
	listener := l.in.TakeFD()
	if listener < 0 {
		return errors.New("the init announced a seccomp listener but sent no descriptor")
	}
	defer unix.Close(listener)
	if l.agent == nil {
		return errors.New("the init loaded a seccomp filter with a listener, but the profile has no agent")
	}
	if err := sendToSeccompAgent(l.agent, listener, l.pid, l.agentMetadata, l.agentState); err != nil {
		return err
	}
	l.log.Debugf("seccomp: passed the listener of PID %d to the agent at %s", l.pid, l.agent.Name())
	return l.send(syncMsg{Type: "seccomp-done"})
}

// Create creates a container from a bundle and leaves its init waiting for Start: every
// namespace, mount, limit and hardening measure is in place, but the command has not run.
//
// This is the parent's half of a container start; the init (Init) does the inside half.
//  1. Make the state directory with the exec fifo, and start the runtime's own binary.
//  2. Read and check the config; send nsenter (C, before Go starts) its plan: it moves the
//     process into the namespaces and forks the init.
//  3. Create the cgroup, write the resources and move the init in: the limits hold before
//     anything of the container runs.
//  4. Send the init its instructions; run the createRuntime hooks when it asks.
//  5. When the init reports ready, save the state and write the PID file.
//
// Equivalent to: `runc create --bundle BUNDLE ID`.
func (r *Runtime) Create(id string, opts CreateOptions) error {
	c, l, err := r.create(id, opts)
	if err != nil {
		return err
	}
	l.close()
	c.unlock()
	return nil
}

func (r *Runtime) create(id string, opts CreateOptions) (c *container, l *launch, err error) {
	if err := checkID(id); err != nil {
		return nil, nil, err
	}
	bundle, err := filepath.Abs(opts.Bundle)
	if err != nil {
		return nil, nil, err
	}
	c = &container{dir: r.dir(id), containerState: &containerState{ID: id, Bundle: bundle, NoPivot: opts.NoPivot}}
	if err := os.MkdirAll(r.root(), 0o711); err != nil {
		return nil, nil, fmt.Errorf("make the state root: %w", err)
	}
	if err := os.Mkdir(c.dir, 0o711); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, nil, fmt.Errorf("container with ID %q already exists", id)
		}
		return nil, nil, fmt.Errorf("make the state directory: %w", err)
	}
	if c.lock, err = lockDir(c.dir); err != nil {
		os.Remove(c.dir)
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			if l != nil {
				l.kill()
			}
			c.destroy(r.Log)
			c.unlock()
			c, l = nil, nil
		}
	}()
	// The init is started first: while it loads (exec, the dynamic loader, nsenter waiting
	// for its plan), this process reads and checks the config, and later makes the cgroup
	// while the init's Go runtime starts.
	// The init gets the fifo already open, for reading and writing (which, for a FIFO,
	// never blocks): it never has to reopen it by a path of the host, and only root, which
	// runs `start`, needs to reach it.
	fifoPath := filepath.Join(c.dir, fifoFile)
	if err := unix.Mkfifo(fifoPath, 0o600); err != nil {
		return c, nil, fmt.Errorf("make the exec fifo: %w", err)
	}
	fifo, err := os.OpenFile(fifoPath, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return c, nil, fmt.Errorf("open the exec fifo: %w", err)
	}
	defer fifo.Close()
	extra := []*os.File{fifo}
	if opts.ConsoleSocket != "" {
		sock, err := connectConsoleSocket(opts.ConsoleSocket)
		if err != nil {
			return c, nil, err
		}
		defer sock.Close()
		opts.console = sock
	}
	if opts.console != nil {
		extra = append(extra, opts.console)
	}
	o := launchOptions{preserveFDs: opts.PreserveFDs, extra: extra}
	o.stdin, o.stdout, o.stderr = stdio(opts.Stdin, opts.Stdout, opts.Stderr)
	if l, err = spawn(o); err != nil {
		return c, nil, err
	}
	l.log = r.Log
	// nsenter's plan first, so that the init's namespaces and its Go runtime start while
	// the rest of the config is decoded and checked here.
	data, err := readConfig(bundle)
	if err != nil {
		return c, l, err
	}
	early, err := earlyConfig(bundle, data)
	if err != nil {
		return c, l, err
	}
	plan := createPlan(early)
	if l.cinit = cinitCovers(early, opts); l.cinit {
		// The container's init stays in C: the Go runtime never starts in it.
		plan = append(plan, "stay")
	}
	r.Log.Debugf("nsexec container setup: nsenter (PID %d) has the plan %q", l.nsenter, plan)
	if err := l.sendPlan(plan); err != nil {
		return c, l, err
	}
	// While nsenter enters the namespaces and forks: the rest of the config, the seccomp
	// filter and the cgroup.
	spec, err := r.loadBundle(c, data, opts)
	if err != nil {
		return c, l, err
	}
	seccomp, err := r.seccomp(spec.Linux.Seccomp)
	if err != nil {
		return c, l, err
	}
	if l.agent, err = connectSeccompAgent(spec.Linux.Seccomp); err != nil {
		return c, l, err
	}
	if c.Cgroup, err = r.makeCgroup(spec, id); err != nil {
		return c, l, err
	}
	if err := l.awaitChild(early.Linux.UIDMappings, early.Linux.GIDMappings); err != nil {
		return c, l, err
	}
	r.Log.Debugf("child process in init(): PID %d is in the container's namespaces", l.pid)
	if c.Cgroup != nil {
		// A group that already holds processes is shared with something else (another
		// container given the same cgroupsPath): allowed, as runc allows it, but worth a
		// warning. A frozen one would freeze the init the moment it joined, and create
		// would wait forever.
		if pids, err := c.Cgroup.Pids(); err == nil && len(pids) > 0 {
			r.Log.Warnf("container's cgroup is not empty: %d process(es) found in it already", len(pids))
		}
		if frozen, err := c.Cgroup.Frozen(); err != nil {
			return c, l, err
		} else if frozen {
			return c, l, errors.New("container's cgroup unexpectedly frozen: thaw it, or choose another cgroupsPath")
		}
	}
	// The init has forked nothing yet, so moving it moves the whole container.
	if c.Cgroup != nil {
		if err := c.Cgroup.Add(l.pid); err != nil {
			return c, l, err
		}
	}
	if err := setOOMScoreAdj(l.pid, spec.Process.OOMScoreAdj); err != nil {
		return c, l, err
	}
	if err := raiseHardRlimits(l.pid, spec.Process.Rlimits); err != nil {
		return c, l, err
	}
	if c.StartTime, err = startTimeOf(l.pid); err != nil {
		return c, l, err
	}
	c.Pid = l.pid
	if err := r.initContainer(c, l, opts, seccomp); err != nil {
		return c, l, err
	}
	c.Created = time.Now().UTC()
	if err := c.keepConfig(data); err != nil {
		return c, l, err
	}
	if err := c.save(); err != nil {
		return c, l, err
	}
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, l.pid); err != nil {
			return c, l, err
		}
	}
	return c, l, nil
}

// loadBundle parses and checks the config, and records it and the root's path.
func (r *Runtime) loadBundle(c *container, data []byte, opts CreateOptions) (*specs.Spec, error) {
	spec, err := parseConfig(c.Bundle, data)
	if err != nil {
		return nil, err
	}
	if err := Validate(spec); err != nil {
		return nil, err
	}
	if spec.Process.Terminal && opts.console == nil {
		return nil, errors.New("process.terminal is set, so a --console-socket is needed to receive the terminal")
	}
	rootfsPath := spec.Root.Path
	if !filepath.IsAbs(rootfsPath) {
		rootfsPath = filepath.Join(c.Bundle, rootfsPath)
	}
	if c.Rootfs, err = filepath.EvalSymlinks(rootfsPath); err != nil {
		return nil, fmt.Errorf("root.path: %w", err)
	}
	c.spec, c.Annotations = spec, spec.Annotations
	if h := spec.Hooks; h != nil && (len(h.Poststart) > 0 || len(h.Poststop) > 0) {
		c.Hooks = &specs.Hooks{Poststart: h.Poststart, Poststop: h.Poststop}
	}
	return spec, nil
}

// initContainer sends the init its instructions and takes it to "ready", running the
// createRuntime hooks when it asks.
func (r *Runtime) initContainer(c *container, l *launch, opts CreateOptions, seccomp *seccompProgram) error {
	spec := c.spec
	// The init needs neither the resources (the cgroup has them), nor the annotations
	// (they travel in State), nor the seccomp profile (it gets the compiled filter): every
	// type less is less for its cold JSON decoder to learn.
	initSpec, linux := *spec, *spec.Linux
	initSpec.Annotations, linux.Resources, linux.Seccomp, initSpec.Linux = nil, nil, nil, &linux
	cfg := &initConfig{
		Spec: &initSpec, Rootfs: c.Rootfs, Bundle: c.Bundle, Cgroup: c.Cgroup,
		NewCgroupNS:  newNamespace(spec, specs.CgroupNamespace),
		NewUserNS:    newNamespace(spec, specs.UserNamespace),
		NoPivot:      opts.NoPivot,
		NoNewKeyring: opts.NoNewKeyring,
		PreserveFDs:  opts.PreserveFDs,
		FifoFD:       fdAfterPreserved(opts.PreserveFDs, 0),
		ConsoleFD:    -1,
		Hooks:        spec.Hooks != nil && len(spec.Hooks.Prestart)+len(spec.Hooks.CreateRuntime) > 0,
		// The hooks of create see "created": the container exists, its command has not run.
		State:   c.ociState(specs.StateCreated),
		Seccomp: seccomp,
	}
	if opts.console != nil {
		cfg.ConsoleFD = fdAfterPreserved(opts.PreserveFDs, 1)
	}
	sources, err := openMountSources(c, cfg)
	if err != nil {
		return err
	}
	defer closeAll(sources)
	if spec.Linux.Seccomp != nil {
		l.agentMetadata, l.agentState = spec.Linux.Seccomp.ListenerMetadata, cfg.State.State
	}
	if l.cinit {
		program, err := cinitPlan(cfg)
		if err != nil {
			return err
		}
		if _, err := l.sock.Write(program.bytes()); err != nil {
			return fmt.Errorf("send the init its program: %w", err)
		}
	} else if err := l.send(cfg, sources...); err != nil {
		return fmt.Errorf("send the init its configuration: %w", err)
	}
	for {
		m, err := l.receive()
		if errors.Is(err, io.EOF) {
			return errors.New("the init exited without reporting")
		}
		if err != nil {
			return err
		}
		switch m.Type {
		case "ready":
			r.Log.Debugf("init: closing the pipe to signal completion: PID %d is ready and waits for start", l.pid)
			return nil
		case "hooks":
			for _, hooks := range []struct {
				kind string
				list []specs.Hook
			}{{"prestart", spec.Hooks.Prestart}, {"createRuntime", spec.Hooks.CreateRuntime}} {
				if err := runHooks(hooks.kind, hooks.list, cfg.State); err != nil {
					return err
				}
			}
			if err := l.send(syncMsg{Type: "resume"}); err != nil {
				return err
			}
		}
	}
}

// openMountSources makes, on the host, a detached copy of the source of each bind mount of
// a container with a new user namespace, and records in cfg which descriptor is whose. The
// init, root in its user namespace but an unprivileged uid on the host, may be refused a
// source by its path (a directory only its owner may enter); the runtime is not. It cannot
// hand over a plain descriptor of the source, though: the kernel binds only from the
// caller's own mount namespace, and the init's is another. open_tree(2) with
// OPEN_TREE_CLONE makes a mount of the source that belongs to no namespace yet, which the
// init then attaches at the destination with move_mount(2) (see attachMountSource). runc
// (since 1.2) does the same. The descriptors go to the init with its configuration, and
// are closed there once attached. A rootless runtime may not clone mounts: its init binds
// by path, as the runtime's own user could.
//
// Equivalent to: `open_tree(AT_FDCWD, SOURCE, OPEN_TREE_CLONE [|AT_RECURSIVE])` for each
// bind mount, passed over the sync socket.
func openMountSources(c *container, cfg *initConfig) ([]int, error) {
	if !cfg.NewUserNS {
		return nil, nil
	}
	var fds []int
	for i, m := range c.spec.Mounts {
		o, err := parseMountOptions(m.Options)
		if err != nil || !(o.bind || m.Type == "bind") {
			continue
		}
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(c.Bundle, src)
		}
		flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
		if o.recursive {
			flags |= unix.AT_RECURSIVE
		}
		fd, err := unix.OpenTree(unix.AT_FDCWD, src, flags)
		if errors.Is(err, unix.EPERM) {
			// A runtime without CAP_SYS_ADMIN over its own mount namespace (an ordinary
			// user's, rootless) may not clone a mount; its init binds by path, with the
			// same access to the source as the runtime's user.
			continue
		}
		if err != nil {
			closeAll(fds)
			return nil, fmt.Errorf("bind mount %s on %s: %w", src, m.Destination, err)
		}
		if cfg.MountSources == nil {
			cfg.MountSources = map[int]int{}
		}
		cfg.MountSources[i] = len(fds)
		fds = append(fds, fd)
	}
	return fds, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// createPlan is nsenter's plan for a new container: join the namespaces the config names by
// path (user first), create the others. A new cgroup namespace is left to the Go init: its
// root is the cgroup its creator is in at that moment, and the init is moved into the
// container's cgroup only after nsenter is done.
func createPlan(spec *specs.Spec) []string {
	var plan []string
	var flags int
	for _, typ := range namespaceOrder {
		ns, ok := namespaceOf(spec, typ)
		if !ok {
			continue
		}
		switch {
		case ns.Path != "":
			plan = append(plan, fmt.Sprintf("join %s %s", typ, ns.Path))
		case typ == specs.UserNamespace:
			plan = append(plan, "userns")
		case typ == specs.CgroupNamespace:
		default:
			flags |= namespaceFlags[typ].flag
		}
	}
	if flags != 0 {
		plan = append(plan, fmt.Sprintf("unshare %#x", flags))
	}
	for clock, offset := range spec.Linux.TimeOffsets {
		plan = append(plan, fmt.Sprintf("timens %s %d %d", clock, offset.Secs, offset.Nanosecs))
	}
	return plan
}

// withDefaultDevices appends, to a config's device rules, the devices every container may use
// whatever the rules say: the ones the runtime creates in /dev, its terminals, and mknod of
// any device (creating a node is harmless; opening it is what the rules guard). runc appends
// the same list, so that a config that denies everything still has a working /dev/null.
func withDefaultDevices(r *specs.LinuxResources) *specs.LinuxResources {
	if r == nil || len(r.Devices) == 0 {
		return r
	}
	out := *r
	out.Devices = append([]specs.LinuxDeviceCgroup(nil), r.Devices...)
	number := func(n int64) *int64 { return &n }
	for _, d := range []struct {
		typ          string
		major, minor int64
		access       string
	}{
		{"c", -1, -1, "m"}, {"b", -1, -1, "m"},
		{"c", 1, 3, "rwm"}, {"c", 1, 5, "rwm"}, {"c", 1, 7, "rwm"}, {"c", 1, 8, "rwm"}, {"c", 1, 9, "rwm"},
		{"c", 5, 0, "rwm"}, {"c", 5, 1, "rwm"}, {"c", 5, 2, "rwm"}, {"c", 136, -1, "rwm"},
	} {
		out.Devices = append(out.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: d.typ,
			Major: number(d.major), Minor: number(d.minor), Access: d.access})
	}
	return &out
}

// setOOMScoreAdj sets how eagerly the OOM killer picks the process, from outside (lowering
// it needs CAP_SYS_RESOURCE, which the runtime has and the container may not).
//
// Equivalent to: `echo N > /proc/PID/oom_score_adj`.
func setOOMScoreAdj(pid int, adj *int) error {
	if adj == nil {
		return nil
	}
	path := fmt.Sprintf("/proc/%d/oom_score_adj", pid)
	if err := os.WriteFile(path, []byte(strconv.Itoa(*adj)), 0); err != nil {
		return fmt.Errorf("set oomScoreAdj %d: %w", *adj, err)
	}
	return nil
}

func startTimeOf(pid int) (uint64, error) {
	_, start, err := procStat(pid)
	if err != nil {
		return 0, fmt.Errorf("read the init's start time: %w", err)
	}
	return start, nil
}

// writePidFile writes pid to path atomically, so that a reader never sees an empty file.
func writePidFile(path string, pid int) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("write the PID file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write the PID file: %w", err)
	}
	return nil
}

func stdio(in, out, errOut *os.File) (stdin, stdout, stderr *os.File) {
	pick := func(f, def *os.File) *os.File {
		if f == nil {
			return def
		}
		return f
	}
	return pick(in, os.Stdin), pick(out, os.Stdout), pick(errOut, os.Stderr)
}

// Start releases a created container's init: it writes one byte into the exec fifo, which
// the init, blocked reading it, receives; the init then runs the startContainer hooks and
// execs the command. The fifo is removed, which is how later commands know the container
// has started. Start returns once the command runs (see waitForExec); poststart hooks run
// then, and their failures are logged, not returned, as the container already runs.
//
// runc invented the fifo; its init blocks opening it for writing and reopens it through
// /proc/self/fd. Here the runtime hands the init the fifo already open (see create), so the
// init needs no path of the host and no /proc to wait, and `start` is the writer. The open
// does not block: with O_NONBLOCK it fails with ENXIO when no process has the fifo open for
// reading, which means the init is gone.
//
// Equivalent to: `runc start ID` (or `echo > ROOT/ID/exec.fifo`).
func (r *Runtime) Start(id string) error {
	c, err := r.open(id)
	if err != nil {
		return err
	}
	defer c.unlock()
	return r.start(c)
}

func (r *Runtime) start(c *container) error {
	switch status := c.status(); status {
	case specs.StateCreated:
	case specs.StateStopped:
		return fmt.Errorf("cannot start a container that has stopped")
	default:
		return fmt.Errorf("cannot start an already %s container", status)
	}
	pidfd, err := c.pidfd()
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	path := filepath.Join(c.dir, fifoFile)
	fifo, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENXIO) {
		return errors.New("cannot start a container whose init has exited")
	}
	if err != nil {
		return fmt.Errorf("open the exec fifo: %w", err)
	}
	defer unix.Close(fifo)
	if _, err = unix.Write(fifo, []byte("0")); err != nil {
		return fmt.Errorf("write the exec fifo: %w", err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove the exec fifo: %w", err)
	}
	r.Log.Debugf("start: released the init (PID %d) through the exec fifo", c.Pid)
	if err := waitForExec(fifo, pidfd); err != nil {
		return err
	}
	if c.Hooks != nil {
		runHooksLogged(r.Log, "poststart", c.Hooks.Poststart, c.ociState(specs.StateRunning))
	}
	return nil
}

// waitForExec waits until the init has replaced itself with the command (or died trying).
// The init keeps its end of the exec fifo open, close-on-exec, after reading the byte, so
// the fifo loses its last reader exactly at execve, and the kernel then reports an error
// condition (POLLERR) on start's end, the writing one. Only then does `start` return and
// the poststart hooks run: a `kill` right after `start` reaches the command, not the init
// (whose Go runtime would die of a SIGTERM before the command could install a handler), as
// with runc.
func waitForExec(fifo, pidfd int) error {
	fds := []unix.PollFd{{Fd: int32(fifo), Events: 0}, {Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("wait for the command to start: %w", err)
		}
		if fds[0].Revents&unix.POLLERR != 0 || fds[1].Revents != 0 {
			return nil
		}
	}
}

// destroy removes what create made for a container whose processes are gone: its cgroup and
// its state directory; then it runs the poststop hooks, whose failures are logged.
func (c *container) destroy(log *Logger) {
	if c.Cgroup != nil {
		if pids, err := c.Cgroup.Pids(); err == nil && len(pids) > 0 {
			// Without a PID namespace, the container's other processes outlive its init.
			_ = c.Cgroup.Signal(unix.SIGKILL)
		}
		if err := c.Cgroup.Destroy(); err != nil {
			log.Warnf("%v", err)
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		log.Warnf("remove the state of %s: %v", c.ID, err)
	}
	if c.Hooks != nil && c.Pid > 0 {
		runHooksLogged(log, "poststop", c.Hooks.Poststop, c.ociState(specs.StateStopped))
	}
}

package runtime

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/runtime/nsenter"
)

// launch is a process the runtime started through nsenter: a container's init, or a process
// joining a running container. Its parent's end of the sync socket carries the plan and the
// uid/gid map handshake as lines (for the C constructor), then JSON messages (for the Go
// init).
type launch struct {
	// nsenter is the PID of the process nsenter's constructor runs in.
	nsenter int
	sock    *os.File
	in      *bufio.Reader
	dec     *json.Decoder
	enc     *json.Encoder
	// pid is the process that goes on into the container, as the host numbers it.
	pid int
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
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"labs-runc", "init"}, &syscall.ProcAttr{
		Env:   append(os.Environ(), nsenter.Env+"="+strconv.Itoa(3+o.preserveFDs)),
		Files: files,
	})
	if err != nil {
		parent.Close()
		return nil, fmt.Errorf("start the init: %w", err)
	}
	return &launch{nsenter: pid, sock: parent, in: bufio.NewReader(parent)}, nil
}

// guide sends nsenter the plan and answers it until it names the PID of the process that
// goes on into the container; nsenter's own process then exits and is reaped here. That
// process is ours from then on (see spawn).
func (l *launch) guide(plan []string, uidMaps, gidMaps []specs.LinuxIDMapping) error {
	err := l.converse(plan, uidMaps, gidMaps)
	if waitErr := l.reapNsenter(); err == nil && waitErr != nil {
		err = waitErr
	}
	if err != nil {
		return err
	}
	l.dec = json.NewDecoder(l.in)
	l.enc = json.NewEncoder(l.sock)
	return nil
}

func (l *launch) converse(plan []string, uidMaps, gidMaps []specs.LinuxIDMapping) error {
	if _, err := io.WriteString(l.sock, strings.Join(plan, "\n")+"\n\n"); err != nil {
		return fmt.Errorf("send the plan to nsenter: %w", err)
	}
	for {
		line, err := l.in.ReadString('\n')
		if err != nil {
			return fmt.Errorf("nsenter exited without reporting: %w", err)
		}
		line = strings.TrimSuffix(line, "\n")
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

// writeIDMaps writes the uid and gid maps of pid's new user namespace. Only a process outside
// the namespace may, and only once.
//
// Equivalent to: `echo "0 100000 65536" > /proc/PID/uid_map` (and gid_map).
func writeIDMaps(pid int, uids, gids []specs.LinuxIDMapping) error {
	for file, maps := range map[string][]specs.LinuxIDMapping{"uid_map": uids, "gid_map": gids} {
		var b strings.Builder
		for _, m := range maps {
			fmt.Fprintf(&b, "%d %d %d\n", m.ContainerID, m.HostID, m.Size)
		}
		path := fmt.Sprintf("/proc/%d/%s", pid, file)
		if err := os.WriteFile(path, []byte(b.String()), 0); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
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
	l.sock.Close()
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

// receive reads the init's next message; an "error" message becomes the error.
func (l *launch) receive() (syncMsg, error) {
	var m syncMsg
	if err := l.dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return m, errors.New("the init exited without reporting")
		}
		return m, fmt.Errorf("read from the init: %w", err)
	}
	if m.Type == "error" {
		return m, &initError{m.Error, m.Code}
	}
	return m, nil
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
	l.sock.Close()
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
	fifoPath := filepath.Join(c.dir, fifoFile)
	if err := unix.Mkfifo(fifoPath, 0o622); err != nil {
		return c, nil, fmt.Errorf("make the exec fifo: %w", err)
	}
	// Only the init writes to the fifo; the umask must not take that right away.
	if err := unix.Chmod(fifoPath, 0o622); err != nil {
		return c, nil, fmt.Errorf("make the exec fifo: %w", err)
	}
	fifo, err := os.OpenFile(fifoPath, unix.O_PATH|unix.O_CLOEXEC, 0)
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
	// nsenter's plan first, so that the init's namespaces and its Go runtime start while
	// the rest of the config is decoded and checked here.
	data, err := readConfig(bundle)
	if err != nil {
		return c, l, err
	}
	early, err := namespacesOf(bundle, data)
	if err != nil {
		return c, l, err
	}
	if err := l.guide(createPlan(early), early.Linux.UIDMappings, early.Linux.GIDMappings); err != nil {
		return c, l, err
	}
	spec, err := r.loadBundle(c, data, opts)
	if err != nil {
		return c, l, err
	}
	// In a user namespace the init is its root, which is some other uid on the host: the
	// fifo becomes that uid's, as runc does, so that the init may open it.
	if uid, gid := hostID(spec.Linux.UIDMappings, 0), hostID(spec.Linux.GIDMappings, 0); uid != 0 || gid != 0 {
		if err := unix.Chown(fifoPath, uid, gid); err != nil {
			return c, l, fmt.Errorf("give the exec fifo to the container's root: %w", err)
		}
	}
	seccomp, err := r.seccomp(spec.Linux.Seccomp)
	if err != nil {
		return c, l, err
	}
	if c.Cgroup, err = cgroup.NewOCI(spec.Linux.CgroupsPath, id, spec.Linux.Resources); err != nil {
		return c, l, err
	}
	if err := c.Cgroup.Create(withDefaultDevices(spec.Linux.Resources)); err != nil {
		return c, l, err
	}
	// The init has forked nothing yet, so moving it moves the whole container.
	if err := c.Cgroup.Add(l.pid); err != nil {
		return c, l, err
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
	c.Spec = spec
	return spec, nil
}

// initContainer sends the init its instructions and takes it to "ready", running the
// createRuntime hooks when it asks.
func (r *Runtime) initContainer(c *container, l *launch, opts CreateOptions, seccomp *seccompProgram) error {
	spec := c.Spec
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
	if err := l.enc.Encode(cfg); err != nil {
		return fmt.Errorf("send the init its configuration: %w", err)
	}
	for {
		m, err := l.receive()
		if err != nil {
			return err
		}
		switch m.Type {
		case "ready":
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
			if err := l.enc.Encode(syncMsg{Type: "resume"}); err != nil {
				return err
			}
		}
	}
}

// hostID is the host's ID for id inside a user namespace with maps (id itself without).
func hostID(maps []specs.LinuxIDMapping, id uint32) int {
	for _, m := range maps {
		if id >= m.ContainerID && id < m.ContainerID+m.Size {
			return int(m.HostID + id - m.ContainerID)
		}
	}
	return int(id)
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

// Start releases a created container's init: it opens the exec fifo for reading, which lets
// the init's blocked open for writing return; the init writes one byte and execs the command.
// The fifo is then removed, which is how later commands know the container has started.
// poststart hooks run afterwards; their failures are logged, not returned, as the
// container already runs.
//
// Equivalent to: `runc start ID` (or `cat ROOT/ID/exec.fifo`).
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
	// Non-blocking, so that an init that died cannot leave us waiting for a writer forever:
	// we wait in poll for the fifo's byte or the init's exit, whichever comes first.
	fifo, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the exec fifo: %w", err)
	}
	defer unix.Close(fifo)
	fds := []unix.PollFd{{Fd: int32(fifo), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("wait for the init: %w", err)
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			break
		}
		if fds[1].Revents != 0 {
			return errors.New("cannot start a container whose init has exited")
		}
	}
	buf := make([]byte, 1)
	if n, err := unix.Read(fifo, buf); n != 1 {
		return fmt.Errorf("read the exec fifo: the init closed it without starting (%v)", err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove the exec fifo: %w", err)
	}
	if err := waitForExec(fifo, pidfd); err != nil {
		return err
	}
	if c.Spec.Hooks != nil {
		runHooksLogged(r.Log, "poststart", c.Spec.Hooks.Poststart, c.ociState(specs.StateRunning))
	}
	return nil
}

// waitForExec waits until the init has replaced itself with the command (or died trying):
// it keeps its end of the exec fifo open, close-on-exec, after writing its byte, so the end
// of file comes exactly at execve. Only then does `start` return and the poststart hooks
// run: a `kill` right after `start` reaches the command, not the init (whose Go runtime
// would die of a SIGTERM before the command could install a handler), as with runc.
func waitForExec(fifo, pidfd int) error {
	fds := []unix.PollFd{{Fd: int32(fifo), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
	buf := make([]byte, 16)
	for {
		if _, err := unix.Poll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("wait for the command to start: %w", err)
		}
		if fds[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0 {
			if n, err := unix.Read(fifo, buf); n == 0 || (err != nil && !errors.Is(err, unix.EAGAIN)) {
				return nil
			}
		}
		if fds[1].Revents != 0 {
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
	if c.Spec != nil && c.Spec.Hooks != nil && c.Pid > 0 {
		runHooksLogged(log, "poststop", c.Spec.Hooks.Poststop, c.ociState(specs.StateStopped))
	}
}

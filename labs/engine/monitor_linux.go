package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"containerlabs/labs/engine/sparemonitor"
	"containerlabs/labs/image"
	"containerlabs/labs/network"
	"containerlabs/labs/process"
	"containerlabs/labs/runtime"
)

// envMonitor marks the re-executed monitor. Its value is "-" until the hand-over, then the
// engine's state root, for the idle monitor and the clean-up it executes.
const envMonitor = "CONTAINERLABS_MONITOR"

// Attach connects a starting container to the caller's terminal or pipes. A nil *Attach
// starts the container detached.
type Attach struct {
	Stdin, Stdout, Stderr *os.File
}

// handover is what Start sends a monitor first, on the monitor's descriptor 3: which
// container, and the engine's settings. When attached, the caller's standard input, output
// and error travel with it, as SCM_RIGHTS.
type handover struct {
	ID       string `json:"id"`
	Root     string `json:"root"`
	Bridge   string `json:"bridge,omitempty"`
	Subnet   string `json:"subnet,omitempty"`
	Attached bool   `json:"attached,omitempty"`
}

// readiness is what the monitor answers, once the container runs or could not be started;
// attached, a second one with Ended set follows once the container has ended and is torn
// down (removed, with --rm).
type readiness struct {
	Error string `json:"error,omitempty"`
	Code  int    `json:"code,omitempty"`
	// AlreadyRunning says another start won the race for the container's lock.
	AlreadyRunning bool `json:"alreadyRunning,omitempty"`
	Ended          bool `json:"ended,omitempty"`
}

// Start starts a created or exited container. Its monitor is this program executed again,
// in a session of its own so that the terminal's signals do not reach it: the spare one
// this command line started as it started (labs/engine/sparemonitor), or a new one. Start
// hands it the container and waits until it reports that the container runs, or why it
// could not. Detached, it returns then; attached, it waits for the container to end and
// returns its exit status, passing SIGINT and SIGTERM on to the container meanwhile.
//
// Equivalent to: `docker start [-a]`.
func (e *Engine) Start(ref string, attach *Attach) (int, error) {
	c, err := e.Store.Get(ref)
	if err != nil {
		return process.ExitSetupFailed, err
	}
	if c.State.Running() {
		return process.ExitSetupFailed, fmt.Errorf("%w: %s", ErrAlreadyRunning, c.Name)
	}
	if err := checkAttachable(c, attach); err != nil {
		return process.ExitSetupFailed, err
	}
	signals := make(chan os.Signal, 8)
	if attach != nil && !c.Config.Tty {
		signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
		defer signal.Stop(signals)
	}
	mon, err := startMonitor(c.ID)
	if err != nil {
		return process.ExitSetupFailed, fmt.Errorf("start the monitor of %s: %w", c.Name, err)
	}
	defer mon.conn.Close()
	h := handover{ID: c.ID, Root: e.Root, Bridge: e.Bridge, Subnet: e.Subnet, Attached: attach != nil}
	if err := mon.handOver(h, attach); err != nil {
		_ = mon.proc.Kill()
		_, _ = mon.proc.Wait()
		return process.ExitSetupFailed, fmt.Errorf("hand %s over to its monitor: %w", c.Name, err)
	}
	answers := json.NewDecoder(mon.conn)
	var ready readiness
	if err := answers.Decode(&ready); err != nil {
		_, _ = mon.proc.Wait()
		return process.ExitSetupFailed, fmt.Errorf("the monitor of %s ended before the container ran", c.Name)
	}
	if ready.Error != "" {
		_, _ = mon.proc.Wait()
		if ready.AlreadyRunning {
			return ready.Code, fmt.Errorf("%w: %s", ErrAlreadyRunning, c.Name)
		}
		return ready.Code, errors.New(ready.Error)
	}
	if attach == nil {
		// The monitor lives on; release it from being our child.
		_ = mon.proc.Release()
		return 0, nil
	}
	go func() {
		for sig := range signals {
			_ = e.Runtime.Kill(c.ID, sig.(syscall.Signal), false)
		}
	}()
	// The container's status comes as soon as it is torn down: the monitor's own exit,
	// a millisecond or two more, is reaped meanwhile rather than waited for.
	var end readiness
	if err := answers.Decode(&end); err == nil && end.Ended {
		go func() { _, _ = mon.proc.Wait() }()
		return end.Code, nil
	}
	state, _ := mon.proc.Wait()
	return process.ExitCode(state), nil
}

// monitorProcess is a monitor Start talks to: the process, and Start's end of the socket
// pair at the monitor's descriptor 3.
type monitorProcess struct {
	proc *os.Process
	conn *os.File
}

// startMonitor takes this program's spare monitor, or executes a new one as
// `PROGRAM container-monitor ID`, in a session of its own, its streams on /dev/null.
func startMonitor(id string) (*monitorProcess, error) {
	if pid, conn, ok := sparemonitor.Take(); ok {
		if proc, err := os.FindProcess(pid); err == nil {
			return &monitorProcess{proc: proc, conn: conn}, nil
		}
		conn.Close()
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket pair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "monitor"), os.NewFile(uintptr(pair[1]), "start")
	defer theirs.Close()
	cmd := exec.Command("/proc/self/exe", "container-monitor", id)
	cmd.Env = append(os.Environ(), envMonitor+"=-")
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		ours.Close()
		return nil, err
	}
	return &monitorProcess{proc: cmd.Process, conn: ours}, nil
}

// handOver sends the monitor h, and the caller's streams if attach is set.
func (m *monitorProcess) handOver(h handover, attach *Attach) error {
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	var rights []byte
	if attach != nil {
		fds := make([]int, 3)
		for i, f := range []*os.File{attach.Stdin, attach.Stdout, attach.Stderr} {
			if f == nil {
				if f, err = os.Open(os.DevNull); err != nil {
					return err
				}
				defer f.Close()
			}
			fds[i] = int(f.Fd())
		}
		rights = unix.UnixRights(fds...)
	}
	return unix.Sendmsg(int(m.conn.Fd()), append(data, '\n'), rights, nil, 0)
}

// receiveHandover is the monitor's half of handOver. It returns io.EOF if the command line
// ended without handing anything over (a spare monitor that was not needed).
func receiveHandover(conn *os.File) (handover, *Attach, error) {
	var h handover
	in := process.NewLineReader(int(conn.Fd()))
	defer in.Close()
	line, err := in.Line()
	if errors.Is(err, io.EOF) {
		return h, nil, io.EOF
	}
	if err != nil {
		return h, nil, fmt.Errorf("receive the hand-over: %w", err)
	}
	if err := json.Unmarshal([]byte(line), &h); err != nil {
		return h, nil, fmt.Errorf("receive the hand-over: %w", err)
	}
	if !h.Attached {
		return h, nil, nil
	}
	var streams [3]*os.File
	for i, name := range []string{"stdin", "stdout", "stderr"} {
		fd := in.TakeFD()
		if fd < 0 {
			return h, nil, fmt.Errorf("receive the hand-over: %d descriptors for the caller's 3 streams", i)
		}
		streams[i] = os.NewFile(uintptr(fd), name)
	}
	if fd := in.TakeFD(); fd >= 0 {
		unix.Close(fd)
		return h, nil, errors.New("receive the hand-over: more descriptors than the caller's 3 streams")
	}
	return h, &Attach{Stdin: streams[0], Stdout: streams[1], Stderr: streams[2]}, nil
}

// cleanupCommand is the command line the idle monitor executes when the container has
// ended: PROGRAM container-cleanup ID STATUS.
const cleanupCommand = "container-cleanup"

func init() {
	// A monitor executes itself again to become the idle monitor. It does so from the main
	// thread, the one whose ID is the PID: an execve from another thread makes the main
	// thread exit first, and for that moment /proc/PID/stat shows the monitor as a zombie,
	// which the network's lease sweep and Reconcile take for a dead monitor.
	if IsMonitor() {
		goruntime.LockOSThread()
	}
}

// IsMonitor reports whether this process is a container monitor started by Start, or the
// clean-up its idle half runs at the end. A program that uses the engine checks it first
// thing in main and then calls RunMonitor.
func IsMonitor() bool {
	if os.Getenv(envMonitor) == "" {
		return false
	}
	args := os.Args
	return len(args) == 3 && (args[1] == "container-monitor" || args[1] == healthCommand) ||
		len(args) == 4 && args[1] == cleanupCommand
}

// RunMonitor is the monitor: the one process that stays with a running container. It sets
// the container up (root file system, network, bundle), creates and starts it with the
// runtime, writes its output to the json-file log (and to the terminal it was started
// from, if any), waits for it, records how it ended, and undoes what it set up. It returns
// the container's exit status, which the monitor exits with.
//
// It is the container's init's parent (a child subreaper: the runtime's intermediate
// processes exit and the init is re-parented to it), so it alone can wait for the exit.
//
// A detached container's monitor does not stay a Go program: once the container runs it
// becomes the idle monitor (labs/engine/idlemonitor), which executes this program again as
// the clean-up when the container ends; RunMonitor is then that clean-up.
func RunMonitor() int {
	switch id := os.Args[2]; os.Args[1] {
	case cleanupCommand:
		return cleanUp(id, os.Args[3])
	case healthCommand:
		return runHealthCheck(id)
	}
	// Descriptor 3 is Start's socket; nothing this monitor executes may inherit it.
	conn := os.NewFile(3, "start")
	defer conn.Close()
	unix.CloseOnExec(3)
	// While it waits, the monitor learns the two types it will write: encoding/json works
	// out a type's fields on its first use, about 2.5 ms for an OCI config, and a spare
	// monitor is usually started before its command line needs it.
	go func() {
		_, _ = json.Marshal(&specs.Spec{})
		_, _ = json.Marshal(&Container{})
	}()
	h, caller, err := receiveHandover(conn)
	if errors.Is(err, io.EOF) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "monitor:", err)
		return process.ExitSetupFailed
	}
	// The idle monitor and the clean-up it executes find the engine as Start's monitors did.
	_ = os.Setenv(envMonitor, h.Root)
	_ = os.Setenv(EnvBridge, h.Bridge)
	_ = os.Setenv(EnvSubnet, h.Subnet)
	answer := func(r readiness) { _ = json.NewEncoder(conn).Encode(r) }
	e, err := Open(h.Root)
	if err != nil {
		answer(readiness{Error: err.Error(), Code: process.ExitSetupFailed})
		return process.ExitSetupFailed
	}
	m := &monitor{e: e, caller: caller}
	code, err := m.setUp(h.ID)
	if err != nil {
		m.tearDown()
		answer(readiness{Error: err.Error(), Code: code, AlreadyRunning: errors.Is(err, ErrAlreadyRunning)})
		return code
	}
	answer(readiness{})
	if caller == nil {
		conn.Close()
		code = m.run()
	} else {
		code = m.run()
		answer(readiness{Ended: true, Code: code})
	}
	_ = e.Store.clearTombs()
	return code
}

// becomeIdle replaces this Go program by the idle monitor, in this same process: the
// container's streams, its stdin and the attach socket are inherited across execve(2), and
// the container's init stays our child. It returns only if the execve failed.
func (m *monitor) becomeIdle() {
	tty := "0"
	if m.c.Config.Tty {
		tty = "1"
	}
	args := []string{os.Args[0], "container-monitor", m.c.ID, "idle",
		"pid=" + strconv.Itoa(m.c.State.Pid),
		"dir=" + m.e.Store.Dir(m.c.ID),
		"tty=" + tty,
		"max-size=" + strconv.FormatInt(m.log.MaxSize, 10),
		"max-file=" + strconv.Itoa(m.log.MaxFile),
	}
	args = append(args, m.idleHealthArgs()...)
	inherit := func(name string, fd uintptr) {
		if _, err := unix.FcntlInt(fd, unix.F_SETFD, 0); err == nil {
			args = append(args, name+"="+strconv.Itoa(int(fd)))
		}
	}
	if m.stdout != nil {
		inherit("stdout", m.stdout.Fd())
	}
	if m.stderr != nil {
		inherit("stderr", m.stderr.Fd())
	}
	// The attach clients' input goes where setUp pointed m.attach.input.
	input := m.keepOpen
	if m.c.Config.Tty && m.c.Config.OpenStdin {
		input = m.stdout
	}
	if input != nil {
		inherit("input", input.Fd())
	}
	if raw, err := m.attach.sock.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) { inherit("attach", fd) })
	}
	_ = syscall.Exec("/proc/self/exe", args, os.Environ())
}

// cleanUp is the end of a monitor that went idle: the idle monitor has waited for the
// container and drained its output, and passes the init's wait status. What to undo is
// rebuilt from the container's record and the network's leases.
func cleanUp(id, status string) int {
	ws, err := strconv.Atoi(status)
	if err != nil {
		fmt.Fprintf(os.Stderr, "monitor: wait status %q: %v\n", status, err)
		return process.ExitSetupFailed
	}
	e, err := Open(os.Getenv(envMonitor))
	if err != nil {
		fmt.Fprintln(os.Stderr, "monitor:", err)
		return process.ExitSetupFailed
	}
	c, err := e.Store.load(id)
	if err != nil {
		fmt.Fprintln(os.Stderr, "monitor:", err)
		return process.ExitSetupFailed
	}
	// What to undo is in the record: the runtime created the container and mounted its
	// root, and its networks name the veths and the leases (detach).
	m := &monitor{e: e, c: c, created: true, mounted: true}
	code := m.carryOn(m.finish(syscall.WaitStatus(ws)))
	_ = e.Store.clearTombs()
	return code
}

// monitor is one container's monitor, and what it set up, so that tearDown undoes exactly that.
type monitor struct {
	e *Engine
	c *Container
	// caller is the terminal or pipes of the command that started an attached container,
	// from the hand-over; nil for a detached one.
	caller *Attach
	// attachments are the container's networks, as setUp connects them.
	attachments []*attachment
	// slirp connects a rootless container (slirp4netns), as setUp starts it.
	slirp   *network.Slirp
	created bool
	// mounted is set once this monitor has mounted the root: a start that lost the race
	// to another must not unmount the winner's.
	mounted bool
	// restarting is set when the restart policy, not a command, starts the container.
	restarting bool
	// health runs the container's health checks, when it has them (health.go).
	health   *healthChecker
	log      *LogFile
	stdout   *os.File // the container's stdout (or terminal), read here
	stderr   *os.File
	keepOpen *os.File // the write end of a detached container's stdin pipe
	done     sync.WaitGroup
	// console delivers the master end of the container's terminal (-t).
	console         chan *os.File
	restoreTerminal func()
	// attach serves the attach socket: the container's stdio for `attach`.
	attach *attachHub
}

// setUp prepares and starts the container, under its lock. The steps are those of lab 07's
// parent, with the runtime doing the child's half from the bundle.
func (m *monitor) setUp(id string) (int, error) {
	fail := func(err error) (int, error) { return process.ExitSetupFailed, err }
	unlock, err := m.e.Store.Lock(id)
	if err != nil {
		return fail(err)
	}
	defer unlock()
	c, err := m.e.Store.load(id)
	if err != nil {
		return fail(err)
	}
	m.c = c
	if err := m.startable(c); err != nil {
		return fail(err)
	}
	dir := m.e.Store.Dir(c.ID)
	// A container started before leaves the runtime's state of its last run behind.
	_ = m.e.Runtime.Delete(c.ID, true)

	// 1. The root file system: the image's layers under the container's upper directory.
	if err := m.e.mountRootfs(c); err != nil {
		return fail(err)
	}
	m.mounted = true

	// 2. What to run: the image's config with the command line's changes, and the user
	//    looked up in the container's own /etc/passwd.
	details, err := m.e.Images.Inspect(c.Image)
	if err != nil {
		return fail(fmt.Errorf("image %s of container %s: %w", c.Image, c.Name, err))
	}
	proc, err := resolveProcess(c, details.Config)
	if err != nil {
		return fail(err)
	}
	user, err := image.ResolveUser(filepath.Join(dir, "rootfs"), proc.User)
	if err != nil {
		return fail(err)
	}
	if m.e.Rootless != nil {
		if err := m.e.Rootless.checkUser(user.UID, user.GID); err != nil {
			return fail(err)
		}
	}

	// 3. The networks (lab 06): an address on each, and the files that name it.
	addr := netip.MustParseAddr("127.0.0.1")
	if err := m.allocate(); err != nil {
		return fail(err)
	}
	if len(m.attachments) > 0 {
		addr = m.attachments[0].lease.Address
	}
	if c.Config.NetworkMode == NetworkSlirp {
		addr = network.SlirpAddress
		c.Network.IPAddress, c.Network.Gateway = addr.String(), network.SlirpGateway.String()
	}
	if c.Config.NetworkMode != "host" {
		if err := m.e.writeEtcFiles(c, addr); err != nil {
			return fail(err)
		}
	}

	// 4. The bundle: config.json beside rootfs.
	spec, err := BuildSpec(c, Process{Args: proc.Args, Env: withHome(proc.Env, user.Home), WorkingDir: proc.WorkingDir,
		UID: uint32(user.UID), GID: uint32(user.GID)}, dir)
	if err != nil {
		return fail(err)
	}
	if m.e.Rootless != nil {
		m.e.Rootless.adjustSpec(spec, c)
	}
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		return fail(err)
	}

	// 5. The output: the json-file log, and the container's stdio.
	if m.log, err = OpenLog(filepath.Join(dir, "logs"), c.Config.LogMaxSize, c.Config.LogMaxFile); err != nil {
		return fail(err)
	}
	opts := runtime.CreateOptions{Bundle: dir}
	if c.Config.Tty {
		console, err := m.consoleSocket(dir)
		if err != nil {
			return fail(err)
		}
		defer console.Close()
		opts.ConsoleSocket = console.Path
		go m.receiveConsole(console.UnixListener)
	} else if err := m.pipes(&opts); err != nil {
		return fail(err)
	}
	if m.attach, err = listenAttach(dir, c.Config.Tty); err != nil {
		return fail(err)
	}

	// 6. Create the container: namespaces, mounts, cgroup, hardening; its init waits.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fail(fmt.Errorf("become a subreaper: %w", err))
	}
	if err := m.e.Runtime.Create(c.ID, opts); err != nil {
		return exitCodeOf(err), err
	}
	m.created = true
	if opts.Stdin != os.Stdin {
		closeAll(opts.Stdin)
	}
	closeAll(opts.Stdout, opts.Stderr)
	if c.Config.Tty {
		if err := m.useConsole(); err != nil {
			return fail(err)
		}
		m.attach.console = m.stdout
		if c.Config.OpenStdin {
			m.attach.input = m.stdout
		}
	} else if m.keepOpen != nil {
		m.attach.input = m.keepOpen
	}
	state, err := m.e.Runtime.State(c.ID)
	if err != nil {
		return fail(err)
	}
	c.State.Pid = state.Pid

	// 7. Plug the networks in now that the container's network namespace exists, before
	//    its command runs (lab 06's step 5, and Docker's through a prestart hook).
	if err := m.connect(state.Pid); err != nil {
		return fail(err)
	}
	if c.Config.NetworkMode == NetworkSlirp {
		if err := m.connectSlirp(state.Pid); err != nil {
			return fail(err)
		}
	}

	// 8. Start: the init execs the command.
	if err := m.e.Runtime.Start(c.ID); err != nil {
		return exitCodeOf(err), err
	}
	c.State.PidStart, _ = StartTime(c.State.Pid)
	c.State.MonitorPid = os.Getpid()
	c.State.MonitorStart, _ = StartTime(os.Getpid())
	c.State.Status = StatusRunning
	m.noteStart(c)
	c.State.StartedAt = time.Now().UTC()
	c.State.ExitCode, c.State.OOMKilled, c.State.Error = 0, false, ""
	c.State.FinishedAt = time.Time{}
	return 0, m.e.Store.Save(c)
}

// inNetNS runs f on a thread that has joined the network namespace of process pid. The
// thread is given back to the Go runtime only if it could return to its own namespace.
func inNetNS(pid int, f func() error) error {
	goruntime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		goruntime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromPid(pid)
	if err != nil {
		goruntime.UnlockOSThread()
		return fmt.Errorf("open the network namespace of %d: %w", pid, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		goruntime.UnlockOSThread()
		return fmt.Errorf("enter the network namespace of %d: %w", pid, err)
	}
	ferr := f()
	if err := netns.Set(orig); err == nil {
		goruntime.UnlockOSThread()
	}
	return ferr
}

// pipes gives the container pipes for its output, which the monitor copies into the log,
// and a standard input: the caller's own for an attached -i, a pipe kept open for a
// detached -i (so a shell waits for input instead of ending), /dev/null otherwise.
func (m *monitor) pipes(opts *runtime.CreateOptions) error {
	var err error
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		return err
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		return err
	}
	m.stdout, m.stderr = stdoutR, stderrR
	opts.Stdout, opts.Stderr = stdoutW, stderrW
	switch {
	case m.c.Config.OpenStdin && m.caller != nil:
		opts.Stdin = m.caller.Stdin
	case m.c.Config.OpenStdin:
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		opts.Stdin, m.keepOpen = r, w
	default:
		if opts.Stdin, err = os.Open(os.DevNull); err != nil {
			return err
		}
	}
	return nil
}

// watch copies the container's output to the log until it ends, waits for its init, and
// records how it ended; then it undoes the set-up.
func (m *monitor) watch() int {
	go m.attach.serve()
	stdout, stderr := m.attach.stream(1), m.attach.stream(2)
	if m.caller != nil {
		stdout, stderr = io.MultiWriter(stdout, m.caller.Stdout), io.MultiWriter(stderr, m.caller.Stderr)
	}
	if m.stdout != nil {
		m.copy(m.stdout, m.log.Stream("stdout", stdout))
	}
	if m.stderr != nil {
		m.copy(m.stderr, m.log.Stream("stderr", stderr))
	}
	status := waitFor(m.c.State.Pid)
	m.health.stop()
	// The output may still be in the pipes: copy it out before the record says "exited".
	m.done.Wait()
	m.attach.close()
	return m.finish(status)
}

// finish reads whether the OOM killer struck, undoes the set-up and records how the
// container ended (or removes it, for --rm). It returns the container's exit status.
func (m *monitor) finish(status syscall.WaitStatus) int {
	code := process.StatusCode(status)
	oom := oomKills(m.e.cgroupPathOf(m.c.ID))
	m.tearDown()

	unlock, err := m.e.Store.Lock(m.c.ID)
	if err == nil {
		defer unlock()
	}
	fresh, err := m.e.Store.load(m.c.ID)
	if err != nil {
		// Removed meanwhile (rm -f won the race): nothing to record; what --rm promised
		// still holds for its anonymous volumes.
		if m.c.Config.AutoRemove {
			m.e.removeAnonymousVolumes(m.c)
		}
		return code
	}
	m.c = fresh
	m.c.State.Status = StatusExited
	m.c.State.ExitCode = code
	m.c.State.OOMKilled = oom > 0
	m.c.State.FinishedAt = time.Now().UTC()
	m.c.Network = NetworkState{}
	m.planRestart()
	if m.c.Config.AutoRemove {
		m.e.removeAnonymousVolumes(m.c)
		// The files go after the command line has its answer (RunMonitor, cleanUp).
		_ = m.e.Store.bury(m.c)
	} else {
		_ = m.e.Store.Save(m.c)
	}
	return code
}

func (m *monitor) copy(from *os.File, to io.Writer) {
	m.done.Add(1)
	go func() {
		defer m.done.Done()
		_, _ = io.Copy(to, from)
		_ = Flush(to)
		from.Close()
	}()
}

// waitFor waits for process pid, the container's init, which is our child (we are a
// subreaper), reaping any other orphan on the way, and returns its wait status.
func waitFor(pid int) syscall.WaitStatus {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			// Not our child (a monitor restarted?): poll until it is gone.
			for unix.Kill(pid, 0) == nil {
				time.Sleep(100 * time.Millisecond)
			}
			return syscall.WaitStatus(255 << 8)
		}
		if got == pid {
			return syscall.WaitStatus(ws)
		}
	}
}

// tearDown undoes what setUp did, in reverse: the runtime's container (its cgroup and state),
// the network, the root file system mount.
func (m *monitor) tearDown() {
	if m.created {
		_ = m.e.Runtime.Delete(m.c.ID, true)
	}
	if m.c != nil {
		m.e.detach(m.c)
	}
	if m.slirp != nil {
		m.slirp.Stop()
	}
	if m.attach != nil {
		m.attach.close()
	}
	if m.keepOpen != nil {
		m.keepOpen.Close()
	}
	if m.log != nil {
		m.log.Close()
	}
	if m.restoreTerminal != nil {
		m.restoreTerminal()
	}
	if m.mounted {
		_ = m.e.unmountRootfs(m.c)
	}
}

// withHome adds HOME, from the user's /etc/passwd entry, unless the environment sets it.
func withHome(env []string, home string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "HOME=") {
			return env
		}
	}
	return append(env, "HOME="+home)
}

// exitCodeOf maps a runtime error to Docker's exit statuses: 127 for a command that does
// not exist, 126 for one that cannot be run, 125 for anything else.
func exitCodeOf(err error) int {
	var reported interface{ ExitCode() int }
	if errors.As(err, &reported) {
		return reported.ExitCode()
	}
	return process.ExitCodeFor(err)
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// oomKills reads how many processes the OOM killer killed in the cgroup at path (under
// every hierarchy it may be in): memory.events on v2, memory.oom_control on v1.
func oomKills(path string) uint64 {
	for _, file := range []string{
		filepath.Join("/sys/fs/cgroup", path, "memory.events"),
		filepath.Join("/sys/fs/cgroup/memory", path, "memory.oom_control"),
	} {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
				n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
				return n
			}
		}
	}
	return 0
}

// consoleSocket listens on a Unix socket in the container's directory, through which the
// runtime hands over the master end of the container's terminal (SCM_RIGHTS), as runc
// hands it to containerd's shim.
func (m *monitor) consoleSocket(dir string) (*dirSocket, error) {
	sock, err := listenInDir(dir, "console.sock")
	if err != nil {
		return nil, fmt.Errorf("listen on the console socket: %w", err)
	}
	m.console = make(chan *os.File, 1)
	return sock, nil
}

// receiveConsole accepts the runtime's connection and takes the terminal's master end.
func (m *monitor) receiveConsole(l *net.UnixListener) {
	defer close(m.console)
	conn, err := l.AcceptUnix()
	if err != nil {
		return
	}
	defer conn.Close()
	buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return
	}
	m.console <- os.NewFile(uintptr(fds[0]), "console")
}

// useConsole makes the terminal's master end the container's output (a terminal merges
// stdout and stderr), feeds it the caller's input when attached with -i, and gives it the
// caller's window size and raw mode, so that the container's shell edits lines itself.
func (m *monitor) useConsole() error {
	var master *os.File
	select {
	case master = <-m.console:
	case <-time.After(10 * time.Second):
	}
	if master == nil {
		return errors.New("the runtime did not hand over the container's terminal")
	}
	m.stdout = master
	if m.caller == nil {
		return nil
	}
	if ws, err := unix.IoctlGetWinsize(int(m.caller.Stdin.Fd()), unix.TIOCGWINSZ); err == nil {
		_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
	}
	if restore, err := process.RawTerminal(m.caller.Stdin); err == nil {
		m.restoreTerminal = restore
	}
	if m.c.Config.OpenStdin {
		go func() { _, _ = io.Copy(master, m.caller.Stdin) }()
	}
	return nil
}

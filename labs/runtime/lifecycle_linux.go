package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"containerlabs/labs/process"
)

// killTimeout bounds how long delete waits for a killed init to exit.
const killTimeout = 10 * time.Second

// relayedSignals are the signals `run` and a foreground `exec` pass on to the container's
// process instead of dying of them. SIGCHLD is the runtime's own business, and SIGURG is the
// Go runtime's (it preempts goroutines with it).
var relayedSignals = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGWINCH, unix.SIGCONT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGALRM,
}

// Run creates a container, starts it, waits for its init to exit (passing on the signals the
// runtime receives), deletes it, and returns the exit status as a shell reports it. With
// opts.Detach it returns once the command runs; with opts.Keep it leaves the stopped
// container for Delete.
//
// Equivalent to: `runc run [--detach] [--keep] --bundle BUNDLE ID`.
func (r *Runtime) Run(id string, opts CreateOptions) (int, error) {
	// Signals are caught from the start, so that a Ctrl-C during the create cannot kill the
	// runtime between making things and removing them.
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, relayedSignals...)
	defer signal.Stop(signals)
	var relay *consoleRelay
	if opts.ConsoleSocket == "" && !opts.Detach {
		// In case the process has a terminal: then this runtime is its user.
		var err error
		if relay, err = newConsoleRelay(); err != nil {
			return exitCodeFor(err), err
		}
		defer relay.close()
		opts.console = relay.theirs
	}
	c, l, err := r.create(id, opts)
	if err != nil {
		return exitCodeFor(err), err
	}
	l.close()
	defer c.unlock()
	var onWinch func()
	if relay != nil && c.spec.Process.Terminal {
		in, out, _ := stdio(opts.Stdin, opts.Stdout, opts.Stderr)
		if err := relay.start(in, out); err != nil {
			_ = unix.Kill(c.Pid, unix.SIGKILL)
			_, _ = reap(c.Pid, nil, nil)
			c.destroy(r.Log)
			return exitCodeFor(err), err
		}
		onWinch = relay.resize
	}
	if err := r.start(c); err != nil {
		_ = unix.Kill(c.Pid, unix.SIGKILL)
		status, _ := reap(c.Pid, nil, nil)
		c.destroy(r.Log)
		return status, err
	}
	if opts.Detach {
		return 0, nil
	}
	// While the container runs, other commands (kill, exec, pause, state) must be able to
	// lock it; the lock is taken again to delete it, unless someone already has.
	c.unlock()
	status, err := reap(c.Pid, signals, onWinch)
	if !opts.Keep {
		if again, openErr := r.open(id); openErr == nil {
			if again.Pid == c.Pid && again.StartTime == c.StartTime {
				again.destroy(r.Log)
			}
			again.unlock()
		}
	}
	return status, err
}

// reap waits for pid, our child, to exit, relaying signals to it, and also reaps any other
// child handed to us as a subreaper (processes of a container without a PID namespace).
// With onWinch, a change of the caller's terminal size resizes the container's terminal
// instead (the kernel then signals the container itself).
func reap(pid int, signals chan os.Signal, onWinch func()) (int, error) {
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case sig := <-signals:
				if sig == unix.SIGWINCH && onWinch != nil {
					onWinch()
					continue
				}
				_ = unix.Kill(pid, sig.(syscall.Signal))
			case <-done:
				return
			}
		}
	}()
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return process.ExitSetupFailed, fmt.Errorf("wait for the container: %w", err)
		}
		if got == pid {
			return process.StatusCode(syscall.WaitStatus(ws)), nil
		}
	}
}

// State reports a container's state: its status worked out from the kernel, its init's PID
// (0 once stopped), its bundle and annotations.
//
// Equivalent to: `runc state ID`.
func (r *Runtime) State(id string) (*State, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	dir := r.dir(id)
	st, err := readState(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("container %q %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	c := &container{containerState: st, dir: dir}
	s := c.ociState(c.status())
	return &s, nil
}

// List reports the state of every container under the root, ordered by ID.
//
// Equivalent to: `runc list`.
func (r *Runtime) List() ([]State, error) {
	entries, err := os.ReadDir(r.root())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var states []State
	for _, e := range entries {
		if !e.IsDir() || e.Name() == seccompCache {
			continue
		}
		s, err := r.State(e.Name())
		if errors.Is(err, ErrNotExist) {
			continue // being created, or half-deleted
		}
		if err != nil {
			return nil, err
		}
		states = append(states, *s)
	}
	sort.Slice(states, func(i, j int) bool { return states[i].ID < states[j].ID })
	return states, nil
}

// ParseSignal reads a signal as kill(1) takes it: a number, or a name with or without "SIG"
// ("TERM", "SIGKILL", "usr1").
func ParseSignal(s string) (syscall.Signal, error) {
	if num, err := strconv.Atoi(s); err == nil {
		if num < 0 || num > 64 {
			return 0, fmt.Errorf("signal %d out of range: want 0 (check only) to 64", num)
		}
		return syscall.Signal(num), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// Kill sends sig to the container's init, or with all to every process in its cgroup. The
// init is signalled through a pidfd, so a PID reused after the init exited is never hit.
// A signal to the init of a PID namespace has effect only if the init handles it (SIGKILL
// and SIGSTOP excepted, which the kernel delivers from outside).
//
// Equivalent to: `runc kill [--all] ID SIGNAL`.
func (r *Runtime) Kill(id string, sig syscall.Signal, all bool) error {
	c, err := r.open(id)
	if err != nil {
		return err
	}
	defer c.unlock()
	if all {
		// As runc's: signalling every process of a container that has none left succeeds.
		return c.signalAll(sig)
	}
	if c.status() == specs.StateStopped {
		return errors.New("container not running")
	}
	pidfd, err := c.pidfd()
	if err != nil {
		return errors.New("container not running")
	}
	defer unix.Close(pidfd)
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return errors.New("container not running")
		}
		return fmt.Errorf("signal the init: %w", err)
	}
	return nil
}

// Delete removes a container: its cgroup and state, after its processes are gone. A created
// container (its command never ran) is killed first; a running or paused one only with
// force. Deleting a container that does not exist succeeds with force, so that cleaning up
// twice is harmless.
//
// Equivalent to: `runc delete [--force] ID`.
func (r *Runtime) Delete(id string, force bool) error {
	c, err := r.open(id)
	if err != nil {
		if force && errors.Is(err, ErrNotExist) {
			// A create interrupted before writing state.json leaves a bare directory.
			if checkID(id) == nil {
				_ = os.RemoveAll(r.dir(id))
			}
			return nil
		}
		return err
	}
	defer c.unlock()
	switch status := c.status(); status {
	case specs.StateStopped:
	case specs.StateCreated:
		if err := c.killInit(); err != nil {
			return err
		}
	default:
		if !force {
			return fmt.Errorf("cannot delete container %s that is not stopped: %s", id, status)
		}
		if err := c.killInit(); err != nil {
			return err
		}
	}
	c.destroy(r.Log)
	return nil
}

// killInit kills the container's processes, the init last, and waits for the init to exit.
func (c *container) killInit() error {
	pidfd, err := c.pidfd()
	if err != nil {
		return nil // already gone
	}
	defer unix.Close(pidfd)
	if err := c.signalAll(unix.SIGKILL); err != nil {
		return err
	}
	if err := unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill the init: %w", err)
	}
	return waitExit(pidfd, killTimeout)
}

// Ps lists the PIDs (as the host numbers them) of the container's processes: the members of
// its cgroup.
//
// Equivalent to: `runc ps --format json ID` (or `cat .../cgroup.procs`).
func (r *Runtime) Ps(id string) ([]int, error) {
	c, err := r.open(id)
	if err != nil {
		return nil, err
	}
	defer c.unlock()
	pids, err := c.members()
	if pids == nil && err == nil {
		pids = []int{}
	}
	return pids, err
}

// Pause freezes every process of a running container (the freezer cgroup): they stop where
// they are, without a signal they could catch or notice.
//
// Equivalent to: `runc pause ID`.
func (r *Runtime) Pause(id string) error {
	c, err := r.open(id)
	if err != nil {
		return err
	}
	defer c.unlock()
	if status := c.status(); status != specs.StateRunning {
		return fmt.Errorf("cannot pause a container that is %s", status)
	}
	if c.Cgroup == nil {
		return fmt.Errorf("cannot pause: %w", errNoCgroup)
	}
	return c.Cgroup.Freeze()
}

// Resume thaws a paused container.
//
// Equivalent to: `runc resume ID`.
func (r *Runtime) Resume(id string) error {
	c, err := r.open(id)
	if err != nil {
		return err
	}
	defer c.unlock()
	if status := c.status(); status != StatePaused {
		return fmt.Errorf("cannot resume a container that is %s", status)
	}
	if c.Cgroup == nil {
		return fmt.Errorf("cannot resume: %w", errNoCgroup)
	}
	return c.Cgroup.Thaw()
}

// Update writes new resource limits into a container's cgroup and records them in its state.
// Fields left out keep their values.
//
// Equivalent to: `runc update --resources FILE ID`.
func (r *Runtime) Update(id string, res *specs.LinuxResources) error {
	c, err := r.open(id)
	if err != nil {
		return err
	}
	defer c.unlock()
	if status := c.status(); status == specs.StateStopped {
		return fmt.Errorf("cannot update a container that is %s", status)
	}
	if c.Cgroup == nil {
		return fmt.Errorf("cannot update: %w", errNoCgroup)
	}
	spec, err := c.config()
	if err != nil {
		return err
	}
	if err := c.Cgroup.Apply(res); err != nil {
		return err
	}
	spec.Linux.Resources = mergeResources(spec.Linux.Resources, res)
	return c.keepConfig(nil)
}

// mergeResources overlays the sections an update sets onto the recorded resources.
func mergeResources(old, update *specs.LinuxResources) *specs.LinuxResources {
	if old == nil {
		return update
	}
	merged := *old
	if update.Memory != nil {
		merged.Memory = update.Memory
	}
	if update.CPU != nil {
		merged.CPU = update.CPU
	}
	if update.Pids != nil {
		merged.Pids = update.Pids
	}
	if update.BlockIO != nil {
		merged.BlockIO = update.BlockIO
	}
	if update.Devices != nil {
		merged.Devices = update.Devices
	}
	if update.HugepageLimits != nil {
		merged.HugepageLimits = update.HugepageLimits
	}
	if update.Network != nil {
		merged.Network = update.Network
	}
	if update.Unified != nil {
		merged.Unified = update.Unified
	}
	return &merged
}

// ProcessTable renders `ps` output for the container's processes: PID, state and command
// line read from /proc, for the default (non-JSON) format.
func ProcessTable(pids []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %-5s %s\n", "PID", "STAT", "CMD")
	for _, pid := range pids {
		cmdline, _ := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "cmdline"))
		state, _, _ := procStat(pid)
		fmt.Fprintf(&b, "%-8d %-5c %s\n", pid, state, strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")))
	}
	return b.String()
}

// Config returns the configuration a container was created with (resources as updated
// since): `exec` without --process starts from its process section, as runc's does.
func (r *Runtime) Config(id string) (*specs.Spec, error) {
	c, err := r.open(id)
	if err != nil {
		return nil, err
	}
	defer c.unlock()
	return c.config()
}

package runtime

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/procfs"
)

// Exec runs another process in a running (or created) container: it joins every namespace
// of the container's init and its cgroup, enters its root, and applies the process's own
// user, capabilities, rlimits and no_new_privs, and the container's seccomp profile.
// Joining the mount and user namespaces is what needs nsenter's C constructor: the kernel
// refuses both to a multi-threaded process, and a Go program is one from its start.
//
// In the foreground, Exec waits for the process, passing signals on, and returns its exit
// status. Detached, it returns once the process runs; the process's parent is then the
// caller's subreaper, as containerd's shim expects.
//
// Equivalent to: `runc exec [--detach] [--pid-file F] ID COMMAND` or
// `nsenter --all --target PID COMMAND` plus the cgroup and the process's hardening.
func (r *Runtime) Exec(id string, p *specs.Process, opts ExecOptions) (int, error) {
	if err := ValidateProcess(p); err != nil {
		return exitCodeFor(err), err
	}
	if p.Terminal && opts.ConsoleSocket == "" && opts.Detach {
		return exitCodeFor(nil), errors.New("process.terminal is set and the process is detached, so a --console-socket is needed to receive the terminal")
	}
	signals := make(chan os.Signal, 16)
	if !opts.Detach {
		signal.Notify(signals, relayedSignals...)
		defer signal.Stop(signals)
	}
	var relay *consoleRelay
	if p.Terminal && opts.ConsoleSocket == "" {
		var err error
		if relay, err = newConsoleRelay(); err != nil {
			return exitCodeFor(err), err
		}
		defer relay.close()
	}
	c, err := r.open(id)
	if err != nil {
		return exitCodeFor(err), err
	}
	l, err := r.launchExec(c, p, opts, relay)
	c.unlock()
	if err != nil {
		return exitCodeFor(err), err
	}
	var onWinch func()
	if relay != nil {
		in, out, _ := stdio(opts.Stdin, opts.Stdout, opts.Stderr)
		if err := relay.start(in, out); err != nil {
			_ = unix.Kill(l.pid, unix.SIGKILL)
			_, _ = reap(l.pid, nil, nil)
			return exitCodeFor(err), err
		}
		onWinch = relay.resize
	}
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, l.pid); err != nil {
			return exitCodeFor(err), err
		}
	}
	if opts.Detach {
		return 0, nil
	}
	return reap(l.pid, signals, onWinch)
}

func (r *Runtime) launchExec(c *container, p *specs.Process, opts ExecOptions, relay *consoleRelay) (*launch, error) {
	switch status := c.status(); status {
	case specs.StateRunning, specs.StateCreated:
	case StatePaused:
		if !opts.IgnorePaused {
			return nil, errors.New("cannot exec in a paused container (use --ignore-paused to override)")
		}
	default:
		return nil, fmt.Errorf("cannot exec in a %s container", status)
	}
	plan, err := execPlan(c)
	if err != nil {
		return nil, err
	}
	spec, err := c.config()
	if err != nil {
		return nil, err
	}
	cinit := cinitCoversExec(p, spec)
	if cinit {
		plan = append(plan, "stay")
	}
	seccomp, err := r.seccomp(spec.Linux.Seccomp)
	if err != nil {
		return nil, err
	}
	agent, err := connectSeccompAgent(spec.Linux.Seccomp)
	if err != nil {
		return nil, err
	}
	// The process gets the container's seccomp filter, compiled here; of the config it
	// needs only its own process.
	if p.Capabilities == nil {
		// A process section without capabilities (exec --process of a short JSON) gets the
		// container's, as runc's does, not all of root's.
		withCaps := *p
		withCaps.Capabilities = spec.Process.Capabilities
		p = &withCaps
	}
	cfg := &initConfig{Exec: true, Spec: &specs.Spec{Process: p}, State: c.ociState(specs.StateRunning),
		PreserveFDs: opts.PreserveFDs, ConsoleFD: -1, FifoFD: -1, Seccomp: seccomp}
	var extra []*os.File
	switch {
	case relay != nil:
		extra = append(extra, relay.theirs)
	case p.Terminal:
		sock, err := connectConsoleSocket(opts.ConsoleSocket)
		if err != nil {
			return nil, err
		}
		defer sock.Close()
		extra = append(extra, sock)
	}
	if len(extra) > 0 {
		cfg.ConsoleFD = fdAfterPreserved(opts.PreserveFDs, 0)
	}
	o := launchOptions{preserveFDs: opts.PreserveFDs, extra: extra}
	o.stdin, o.stdout, o.stderr = stdio(opts.Stdin, opts.Stdout, opts.Stderr)
	l, err := spawn(o)
	if err != nil {
		if agent != nil {
			agent.Close()
		}
		return nil, err
	}
	l.log, l.agent, l.cinit = r.Log, agent, cinit
	if agent != nil {
		l.agentMetadata, l.agentState = spec.Linux.Seccomp.ListenerMetadata, cfg.State.State
	}
	r.Log.Debugf("nsexec container setup: nsenter (PID %d) joins the container with the plan %q", l.nsenter, plan)
	if err := l.guide(plan, nil, nil); err != nil {
		l.kill()
		return nil, err
	}
	r.Log.Debugf("child process in init(): PID %d is in the container's namespaces", l.pid)
	if err := joinCgroup(c.Cgroup, l.pid, opts.SubCgroups); err != nil {
		l.kill()
		return nil, err
	}
	// The process is in the container now, and the container's lock is not needed to
	// finish: release it, so that a resume can thaw a paused container this process
	// (exec --ignore-paused) has just frozen in.
	c.unlock()
	if err := setOOMScoreAdj(l.pid, p.OOMScoreAdj); err != nil {
		l.kill()
		return nil, err
	}
	if err := raiseHardRlimits(l.pid, p.Rlimits); err != nil {
		l.kill()
		return nil, err
	}
	if l.cinit {
		if _, err := l.sock.Write(cinitExecPlan(cfg).bytes()); err != nil {
			l.kill()
			return nil, fmt.Errorf("send the process its program: %w", err)
		}
	} else if err := l.send(cfg); err != nil {
		l.kill()
		return nil, fmt.Errorf("send the process its configuration: %w", err)
	}
	r.Log.Debugf("setns_init: about to exec %q: PID %d has its configuration", p.Args[0], l.pid)
	// The socket is close-on-exec in the process: end of file means execve succeeded.
	m, err := l.receive()
	if errors.Is(err, io.EOF) {
		l.close()
		return l, nil
	}
	l.kill()
	if err == nil {
		err = fmt.Errorf("the process said %q instead of exec'ing", m.Type)
	}
	return nil, err
}

// execPlan is nsenter's plan for joining the container: every namespace of the init that
// differs from ours, the user namespace first, and then the init's root directory.
func execPlan(c *container) ([]string, error) {
	theirs, err := procfs.Namespaces(c.Pid)
	if err != nil {
		return nil, err
	}
	ours, err := procfs.Namespaces(os.Getpid())
	if err != nil {
		return nil, err
	}
	inode := func(nss []procfs.Namespace, typ string) uint64 {
		for _, ns := range nss {
			if ns.Type == typ {
				return ns.Inode
			}
		}
		return 0
	}
	var plan []string
	for _, typ := range namespaceOrder {
		file := namespaceFlags[typ].file
		if theirs := inode(theirs, file); theirs != 0 && theirs != inode(ours, file) {
			plan = append(plan, fmt.Sprintf("join %s /proc/%d/ns/%s", typ, c.Pid, file))
		}
	}
	return append(plan, fmt.Sprintf("root /proc/%d/root", c.Pid)), nil
}

// joinCgroup adds an exec'd process to the container's cgroup or, with sub, to groups below
// it: sub maps a controller ("" for all) to a path relative to the container's group in
// that controller's hierarchy. The path may not climb out of the container's group.
//
// Equivalent to: `echo PID > /sys/fs/cgroup/CONTROLLER/CONTAINER/SUB/cgroup.procs`.
func joinCgroup(g *cgroup.OCI, pid int, sub map[string]string) error {
	if g == nil {
		if len(sub) > 0 {
			return errors.New("exec --cgroup: the container has no cgroup (a rootless container where the user may create none)")
		}
		return nil
	}
	if len(sub) == 0 {
		return g.Add(pid)
	}
	for controller, rel := range sub {
		if _, ok := g.Paths[controller]; !ok && controller != "" {
			return fmt.Errorf("--cgroup %s:%s: unknown controller %q (the container's are %s)", controller, rel, controller, strings.Join(slices.Sorted(maps.Keys(g.Paths)), ", "))
		}
		if clean := filepath.Clean(rel); clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("--cgroup: %s is not a sub cgroup path of the container's group", rel)
		}
	}
	targets := map[string]string{}
	for controller, dir := range g.Paths {
		rel, ok := sub[controller]
		if !ok {
			rel, ok = sub[""]
		}
		if _, set := targets[dir]; set && !ok {
			continue // a hierarchy of several controllers, another of which names a group
		}
		targets[dir] = filepath.Join(dir, filepath.Join("/", rel))
	}
	for _, dir := range slices.Sorted(maps.Keys(targets)) {
		if err := os.WriteFile(filepath.Join(targets[dir], "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("exec: adding pid %d to its cgroup: %w", pid, err)
		}
	}
	return nil
}

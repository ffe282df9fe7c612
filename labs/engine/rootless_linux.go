package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/engine/userns"
	"containerlabs/labs/namespace"
	"containerlabs/labs/network"
	"containerlabs/labs/runtime"
)

// rootlessHere describes the user namespace this process runs in, or is nil outside one.
func rootlessHere() (*Rootless, error) {
	if !namespace.InUserNamespace() {
		return nil, nil
	}
	uids, err := namespace.OwnIDMaps("uid_map")
	if err != nil {
		return nil, err
	}
	gids, err := namespace.OwnIDMaps("gid_map")
	if err != nil {
		return nil, err
	}
	r := &Rootless{UID: hostID(uids), GID: hostID(gids), UIDs: uids, GIDs: gids}
	if r.RuntimeDir, err = userRuntimeDir(r.UID); err != nil {
		return nil, err
	}
	return r, nil
}

// hostID is the host's ID of root in a namespace with maps.
func hostID(maps []namespace.IDMap) int {
	for _, m := range maps {
		if m.Inside == 0 {
			return m.Outside
		}
	}
	return -1
}

// userRuntimeDir is where a rootless engine keeps what lasts no longer than the user's
// session (the pause's PID): $XDG_RUNTIME_DIR/containerlabs, or containerlabs-UID in the
// temporary directory. It is made private (0700), and refused if someone else made it first:
// in a shared /tmp another user could otherwise hand us a PID file of their choosing.
func userRuntimeDir(uid int) (string, error) {
	dir := filepath.Join(os.TempDir(), "containerlabs-"+strconv.Itoa(uid))
	if base := os.Getenv(EnvXDGRuntime); filepath.IsAbs(base) {
		if info, err := os.Stat(base); err == nil && info.IsDir() {
			dir = filepath.Join(base, "containerlabs")
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("make the runtime directory: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return "", fmt.Errorf("runtime directory %s: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 {
		return "", fmt.Errorf("runtime directory %s is not a private directory of yours (owner %d, mode %04o): remove it, or set %s", dir, st.Uid, st.Mode&0o7777, EnvXDGRuntime)
	}
	return dir, nil
}

// Files in the runtime directory.
const (
	pauseFile = "pause.pid"
	pauseLock = "pause.lock"
)

// EnterUserNamespace makes the command of an ordinary user a rootless engine's: it joins
// the user's engine namespaces (starting the pause that holds them, if none runs) by
// executing this program again with the namespaces' descriptors for package userns. It
// returns only if it could not; for root, and for a process already in a user namespace,
// it returns nil at once and the command runs as it is. A new namespace that can map only
// the user's own ID comes with a note, written to notes, of what its containers lack.
//
// Equivalent to: `nsenter --user --mount --preserve-credentials -t PAUSE 08-engine ...`.
func EnterUserNamespace(notes io.Writer) error {
	if os.Geteuid() == 0 || namespace.InUserNamespace() {
		return nil
	}
	if !userns.Available {
		return errors.New("rootless: this binary was built without cgo, so it cannot join the engine's user namespace: build it with CGO_ENABLED=1")
	}
	dir, err := userRuntimeDir(os.Geteuid())
	if err != nil {
		return fmt.Errorf("rootless: %w", err)
	}
	unlock, err := lockFile(filepath.Join(dir, pauseLock))
	if err != nil {
		return fmt.Errorf("rootless: %w", err)
	}
	defer unlock()
	pid, start, err := readPause(dir)
	if err != nil || !Alive(pid, start) {
		if pid, start, err = startPause(dir, notes); err != nil {
			return fmt.Errorf("rootless: %w", err)
		}
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var fds []string
	for _, ns := range []string{"user", "mnt"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		if err != nil {
			return fmt.Errorf("rootless: open the %s namespace of the pause (PID %d): %w", ns, pid, err)
		}
		files = append(files, f)
		// Left open across execve, for the constructor; it closes them.
		if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFD, 0); err != nil {
			return fmt.Errorf("rootless: %w", err)
		}
		fds = append(fds, strconv.Itoa(int(f.Fd())))
	}
	// Opened while the pause was the same process (a PID can be reused, a start time not).
	if !Alive(pid, start) {
		return fmt.Errorf("rootless: the pause (PID %d) ended while joining it: run the command again", pid)
	}
	env := append(os.Environ(), userns.EnvJoin+"="+strings.Join(fds, ","))
	// The files stay referenced (the deferred close) until execve has run, so that no
	// finalizer closes their descriptors first.
	err = syscall.Exec("/proc/self/exe", os.Args, env)
	return fmt.Errorf("rootless: execute %s again: %w", os.Args[0], err)
}

// startPause starts the pause in a new user and mount namespace, maps the namespace, and
// records the pause's PID and start time.
func startPause(dir string, notes io.Writer) (int, uint64, error) {
	uids, gids, note := rootlessMaps(os.Geteuid(), os.Getegid())
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"labs-pause"}
	cmd.Env = append(os.Environ(), userns.EnvPause+"=1")
	// Out of the terminal's session (Ctrl-C must not end it), and not holding the
	// caller's current directory busy.
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS, Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("start the pause in a new user namespace: %w", err)
	}
	pid := cmd.Process.Pid
	fail := func(err error) (int, uint64, error) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, 0, err
	}
	if err := namespace.WriteIDMaps(pid, uids, gids); err != nil {
		return fail(fmt.Errorf("map the engine's user namespace: %w", err))
	}
	start, err := StartTime(pid)
	if err != nil {
		return fail(err)
	}
	tmp := filepath.Join(dir, "."+pauseFile)
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", pid, start), 0o600); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, pauseFile)); err != nil {
		return fail(err)
	}
	// A new namespace, perhaps on a new kernel: its storage driver is probed afresh.
	_ = os.Remove(filepath.Join(dir, driverFile))
	if note != "" {
		fmt.Fprintln(notes, "08-engine:", note)
	}
	_ = cmd.Process.Release()
	return pid, start, nil
}

// rootlessMaps is the map of a new engine namespace for the user uid (group gid): with
// subordinate ranges and the helpers to write them, RootlessMap's; otherwise the single
// line the kernel allows anyone, and a note saying what the containers then lack.
func rootlessMaps(uid, gid int) (uids, gids []namespace.IDMap, note string) {
	subUIDs, subGIDs, err := namespace.UserSubIDs(uid, gid)
	_, errU := exec.LookPath(namespace.NewUIDMap)
	_, errG := exec.LookPath(namespace.NewGIDMap)
	switch {
	case err != nil:
		note = err.Error()
	case len(subUIDs) == 0 || len(subGIDs) == 0:
		note = fmt.Sprintf("%s or %s gives uid %d no range", namespace.SubUIDFile, namespace.SubGIDFile, uid)
	case errU != nil || errG != nil:
		note = "newuidmap and newgidmap are missing (Debian package uidmap)"
	default:
		return namespace.RootlessMap(uid, subUIDs), namespace.RootlessMap(gid, subGIDs), ""
	}
	note = "rootless with a single ID: " + note + ". Only root (you) exists in containers: " +
		"images whose files belong to other users cannot be unpacked, and chown, -u and su to " +
		"other users fail. An administrator adds a range with: usermod --add-subuids " +
		"100000-165535 --add-subgids 100000-165535 USER"
	return namespace.RootlessMap(uid, nil), namespace.RootlessMap(gid, nil), note
}

func readPause(dir string) (int, uint64, error) {
	data, err := os.ReadFile(filepath.Join(dir, pauseFile))
	if err != nil {
		return 0, 0, err
	}
	var pid int
	var start uint64
	if _, err := fmt.Sscanf(string(data), "%d %d", &pid, &start); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", pauseFile, err)
	}
	return pid, start, nil
}

// stopPause ends the pause once nothing of the engine runs any more: its namespaces go
// with their last process. A command started later makes new ones. It returns what it
// removed, for system prune to print.
func (r *Rootless) stopPause() []string {
	unlock, err := lockFile(filepath.Join(r.RuntimeDir, pauseLock))
	if err != nil {
		return nil
	}
	defer unlock()
	pid, start, err := readPause(r.RuntimeDir)
	os.Remove(filepath.Join(r.RuntimeDir, pauseFile))
	os.Remove(filepath.Join(r.RuntimeDir, driverFile))
	if err != nil || !Alive(pid, start) {
		return nil
	}
	if err := unix.Kill(pid, unix.SIGTERM); err != nil {
		return nil
	}
	return []string{fmt.Sprintf("user namespace held by pause PID %d", pid)}
}

// lockFile takes an exclusive flock on path, made if missing.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// checkRootless refuses, before anything is made, what a rootless engine cannot give a
// container, and says why: a bridge, a published port below the unprivileged ones, and a
// cgroup limit where no cgroup is delegated to the user (never a limit silently dropped).
func (e *Engine) checkRootless(c *Container) error {
	if e.Rootless == nil {
		return nil
	}
	cfg := c.Config
	if cfg.NetworkMode == DefaultNetwork || !builtin(cfg.NetworkMode) || len(cfg.Networks) > 0 {
		return fmt.Errorf("--network %s needs root (bridges, veths and NAT rules live in the host's network namespace): a rootless container uses %s (the default), host or none", cfg.NetworkMode, NetworkSlirp)
	}
	if cfg.NetworkMode == NetworkSlirp {
		if _, err := network.SlirpUsable(); err != nil {
			return err
		}
	}
	if len(cfg.Publish) > 0 {
		lowest := unprivilegedPortStart()
		for _, p := range cfg.Publish {
			port, err := network.ParsePort(p)
			if err != nil {
				return fmt.Errorf("-p %s: %w", p, err)
			}
			if int(port.Host) < lowest {
				return fmt.Errorf("-p %s: a rootless engine listens as its user, who may not use host ports below %d (net.ipv4.ip_unprivileged_port_start): pick a host port from %d up", p, lowest, lowest)
			}
		}
	}
	if limits := limitsAsked(cfg); len(limits) > 0 {
		var options, controllers []string
		for _, l := range limits {
			options, controllers = append(options, l.option), append(controllers, l.controller)
		}
		parent, err := e.Rootless.cgroupParent()
		if err != nil {
			return fmt.Errorf("%s: a rootless container gets no cgroup here, so no limit could apply: %w", strings.Join(options, ", "), err)
		}
		if err := enableForChildren(filepath.Dir(parent), controllers); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(options, ", "), err)
		}
	}
	return nil
}

// unprivilegedPortStart is the lowest port an ordinary user may listen on.
func unprivilegedPortStart() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return 1024
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 1024
	}
	return n
}

// cgroupParent is the group, in the cgroup v2 hierarchy, under which a rootless engine
// makes its containers' groups: CgroupParent in the group delegated to the user.
func (r *Rootless) cgroupParent() (string, error) {
	delegated, err := cgroup.Delegated()
	if err != nil {
		return "", err
	}
	return filepath.Join(delegated, CgroupParent), nil
}

// enableForChildren makes sure the delegated group dir lets its children use controllers:
// it was given them (cgroup.controllers, the administrator's part), and enables them in
// its cgroup.subtree_control (the user's part, refused while dir holds processes itself).
func enableForChildren(dir string, controllers []string) error {
	missing, err := cgroup.MissingControllers(dir, controllers)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("the delegated cgroup %s was not given the %s controller: the administrator enables it in its parent's cgroup.subtree_control", dir, strings.Join(missing, ", "))
	}
	var add []string
	for _, c := range controllers {
		add = append(add, "+"+c)
	}
	control := filepath.Join(cgroup.DefaultRoot, dir, "cgroup.subtree_control")
	if err := os.WriteFile(control, []byte(strings.Join(add, " ")), 0); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("enable %s in %s: the delegated group holds processes itself, and cgroup v2 lets only a group without processes give controllers to its children: move them into a child group such as %s/session", strings.Join(controllers, ", "), control, dir)
		}
		return fmt.Errorf("enable %s in %s: %w", strings.Join(controllers, ", "), control, err)
	}
	return nil
}

// adjustSpec changes a container's configuration for the engine's user namespace.
func (r *Rootless) adjustSpec(spec *specs.Spec, c *Container) {
	// No device rules: a cgroup's (v1) or an eBPF program's (v2) need privileges the user
	// lacks, and mknod of a device is refused in the user namespace anyway.
	spec.Linux.Resources.Devices = nil
	if parent, err := r.cgroupParent(); err == nil {
		spec.Linux.CgroupsPath = filepath.Join(parent, c.ID)
	}
	// ping_group_range may name only groups of the namespace that owns the network
	// namespace: the engine's, with its mapped GIDs.
	if _, ok := spec.Linux.Sysctl[pingGroupRange]; ok {
		spec.Linux.Sysctl[pingGroupRange] = fmt.Sprintf("0 %d", namespace.MappedSize(r.GIDs)-1)
	}
	runtime.RootlessMounts(spec, r.SingleID())
}

const pingGroupRange = "net.ipv4.ping_group_range"

// cgroupPathOf is where container id's group is in the cgroup hierarchy.
func (e *Engine) cgroupPathOf(id string) string {
	if e.Rootless != nil {
		if parent, err := e.Rootless.cgroupParent(); err == nil {
			return filepath.Join(parent, id)
		}
	}
	return "/" + CgroupParent + "/" + id
}

// connectSlirp connects the container's network namespace through slirp4netns and
// publishes its ports (the rootless counterpart of connect). slirp4netns is the monitor's
// child and ends with it, also when the monitor, gone idle, ends after the container.
func (m *monitor) connectSlirp(pid int) error {
	var ports []network.Port
	for _, p := range m.c.Config.Publish {
		port, err := network.ParsePort(p)
		if err != nil {
			return err
		}
		ports = append(ports, port)
	}
	var err error
	if m.slirp, err = network.StartSlirp(pid, m.e.Store.Dir(m.c.ID), ports); err != nil {
		return err
	}
	for _, p := range ports {
		m.c.Network.Ports = append(m.c.Network.Ports, p.String())
	}
	return nil
}

package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// killTimeout bounds how long Remove waits for killed processes to leave the group.
const killTimeout = 10 * time.Second

// Options choose where a Manager creates groups. The zero value is the host's real
// cgroupfs with DefaultParent; tests use a parent of their own so they never touch
// anybody else's groups.
type Options struct {
	// Root is the cgroupfs mount point; "" means DefaultRoot.
	Root string
	// Parent is the name of the group that holds the containers' groups, directly under
	// Root (under Root/CONTROLLER on v1); "" means DefaultParent.
	Parent string
	// Mode forces a driver; 0 means Detect it.
	Mode Mode
}

// Manager creates and cleans up containers' groups under one parent group.
type Manager struct {
	parent string
	mode   Mode
	driver driver
	// hierarchies are the trees a container's group is made in: one per v1 hierarchy
	// in use, or the single unified tree of v2. The first holds the group's lock.
	hierarchies []hierarchy
	host        host
}

// hierarchy is one cgroup tree: its root directory and, on v1, the controllers attached
// to it (v2 has them all in its one tree).
type hierarchy struct {
	dir         string
	controllers []string
}

// host is what the manager asks of the kernel besides reading and writing files: in
// cgroupfs, mkdir and rmdir create and destroy groups, which a plain directory cannot
// imitate (the kernel fills a new group with its interface files). Tests swap in an
// emulation over a temp dir.
type host struct {
	mkdir, rmdir func(path string) error
	// swapOn reports whether the host has swap space that processes could page to.
	swapOn func() (bool, error)
}

var kernel = host{
	mkdir:  func(path string) error { return os.Mkdir(path, 0o755) },
	rmdir:  unix.Rmdir,
	swapOn: swapOn,
}

// driver is what differs between cgroup v1 and v2.
type driver interface {
	// hierarchies finds the trees the driver uses under root.
	hierarchies(root string) ([]hierarchy, error)
	// prepare readies dir, the root or the parent group, so that groups created beneath it
	// get the controllers they need.
	prepare(c *Cgroup, dir string) error
	// apply writes the limits into the container's group.
	apply(c *Cgroup, l Limits) error
	// stats reads the container's usage.
	stats(c *Cgroup) (Stats, error)
	// killFile names the file that kills every process in a group at once, or "".
	killFile() string
}

// Detect reports how this host mounts its cgroups at DefaultRoot.
//
// Equivalent to: `stat -fc %T /sys/fs/cgroup /sys/fs/cgroup/unified` (cgroup2fs means v2).
func Detect() (Mode, error) {
	return detect(DefaultRoot)
}

func detect(root string) (Mode, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return 0, fmt.Errorf("detect cgroup mode: %w", err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return V2, nil
	}
	if err := unix.Statfs(filepath.Join(root, "unified"), &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return Hybrid, nil
	}
	if err := unix.Statfs(filepath.Join(root, "memory"), &st); err == nil && st.Type == unix.CGROUP_SUPER_MAGIC {
		return V1, nil
	}
	return 0, fmt.Errorf("detect cgroup mode: no cgroup file system at %s: mount cgroup2 there, or the v1 controllers beneath it", root)
}

// NewManager returns a manager for opts, having detected the host's mode if opts does not
// force one.
func NewManager(opts Options) (*Manager, error) {
	m := &Manager{parent: opts.Parent, mode: opts.Mode, host: kernel}
	root := opts.Root
	if root == "" {
		root = DefaultRoot
	}
	if m.parent == "" {
		m.parent = DefaultParent
	}
	if err := checkName(m.parent); err != nil {
		return nil, fmt.Errorf("parent group: %w", err)
	}
	if m.mode == 0 {
		mode, err := detect(root)
		if err != nil {
			return nil, err
		}
		m.mode = mode
	}
	switch m.mode {
	case V1, Hybrid:
		m.driver = v1{}
	case V2:
		m.driver = v2{}
	default:
		return nil, fmt.Errorf("unknown cgroup mode %d", m.mode)
	}
	var err error
	if m.hierarchies, err = m.driver.hierarchies(root); err != nil {
		return nil, err
	}
	return m, nil
}

// Mode is the host's cgroup mode, which decided the driver.
func (m *Manager) Mode() Mode { return m.mode }

// New creates a container's group under the default manager's parent and applies limits.
// See (*Manager).New.
func New(name string, limits Limits) (*Cgroup, error) {
	m, err := NewManager(Options{})
	if err != nil {
		return nil, err
	}
	return m.New(name, limits)
}

// RemoveStale removes the default parent's stale groups. See (*Manager).RemoveStale.
func RemoveStale() ([]string, error) {
	m, err := NewManager(Options{})
	if err != nil {
		return nil, err
	}
	return m.RemoveStale()
}

// Cgroup is one container's group, in every hierarchy the driver uses.
type Cgroup struct {
	m    *Manager
	name string
	// dirs are the group's directories, one per hierarchy, in the manager's order.
	dirs []string
	// lock is held from New to Remove: it tells RemoveStale that a live process still
	// owns the group, even before any process has been added to it.
	lock     *os.File
	settings []Setting
}

func (m *Manager) group(name string) *Cgroup {
	c := &Cgroup{m: m, name: name}
	for _, h := range m.hierarchies {
		c.dirs = append(c.dirs, filepath.Join(h.dir, m.parent, name))
	}
	return c
}

// New creates the group NAME under the manager's parent (in every hierarchy on v1), and
// writes the limits into it. If anything fails, what was made is removed again; a limit
// the host cannot apply is an error wrapping ErrUnsupported. The caller adds the
// container's first process with Add, and ends with Remove.
//
// Equivalent to: `mkdir /sys/fs/cgroup/containerlabs/NAME` and an `echo VALUE > FILE`
// for each limit (Settings lists them).
func (m *Manager) New(name string, limits Limits) (*Cgroup, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if err := limits.Validate(); err != nil {
		return nil, err
	}
	c := m.group(name)
	// Another container's Remove may take the shared parent away while we make it ready
	// and make the group in it: the group's mkdir then fails with ENOENT, and a write to
	// the parent's cgroup.subtree_control with ENODEV (the group is dying: it existed when
	// our mkdir found it, and rmdir has taken it since). Trying again makes the parent anew.
	var err error
	for range 5 {
		if err = c.create(); !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENODEV) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err := m.driver.apply(c, limits); err != nil {
		if rmErr := c.Remove(); rmErr != nil {
			return nil, fmt.Errorf("%w (and cleaning up: %v)", err, rmErr)
		}
		return nil, err
	}
	return c, nil
}

// create makes the parent where missing and the group in every hierarchy, the lock
// directory first so that the group is never unlocked while it exists.
func (c *Cgroup) create() error {
	for _, h := range c.m.hierarchies {
		parent := filepath.Join(h.dir, c.m.parent)
		err := c.m.driver.prepare(c, h.dir)
		if err == nil {
			if err = c.m.host.mkdir(parent); errors.Is(err, fs.ErrExist) {
				err = nil
			} else if err != nil {
				err = fmt.Errorf("make parent cgroup %s: %w", parent, err)
			}
		}
		if err == nil {
			err = c.m.driver.prepare(c, parent)
		}
		if err != nil {
			c.m.removeParent()
			return err
		}
	}
	for i, dir := range c.dirs {
		if err := c.m.host.mkdir(dir); err != nil {
			c.discard(c.dirs[:i])
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("make cgroup %s: it already exists: another container has the name %s, or a dead one left it (RemoveStale removes those)", dir, c.name)
			}
			return fmt.Errorf("make cgroup %s: %w", dir, err)
		}
		if i == 0 {
			// Blocking: a RemoveStale that got the lock first, between mkdir and here,
			// finds the group empty and removes it; then the Stat below fails with
			// ENOENT and New tries again.
			lock, err := lockDir(dir, unix.LOCK_EX)
			if err == nil {
				_, err = os.Stat(dir)
			}
			if err != nil {
				if lock != nil {
					lock.Close()
				}
				c.discard(c.dirs[:1])
				return fmt.Errorf("lock cgroup %s: %w", dir, err)
			}
			c.lock = lock
		}
	}
	return nil
}

// discard removes the directories of a group that New made only in part, and the parent
// if that leaves it empty. Errors are ignored: New is already failing with a better one.
func (c *Cgroup) discard(made []string) {
	for _, dir := range slices.Backward(made) {
		_ = c.m.host.rmdir(dir)
	}
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
	c.m.removeParent()
}

// lockDir opens dir and takes an flock on it (how: LOCK_EX, with LOCK_NB not to wait). The
// kernel drops the lock when the process that holds it dies, however it dies, which makes
// the lock a reliable sign that a live manager owns the group.
func lockDir(dir string, how int) (*os.File, error) {
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Name is the container's name, the last element of the group's path.
func (c *Cgroup) Name() string { return c.name }

// Path is the group's path inside each hierarchy, as /proc/PID/cgroup shows it for a
// member process: /containerlabs/NAME.
//
// Equivalent to: `cat /proc/PID/cgroup`.
func (c *Cgroup) Path() string { return "/" + c.m.parent + "/" + c.name }

// Dirs are the group's directories on the host: one per v1 hierarchy
// (/sys/fs/cgroup/memory/containerlabs/NAME, ...), or the single v2 one.
func (c *Cgroup) Dirs() []string { return slices.Clone(c.dirs) }

// dir is the group's directory in the hierarchy that holds controller, or "" if none does.
func (c *Cgroup) dir(controller string) string {
	for i, h := range c.m.hierarchies {
		if h.controllers == nil || slices.Contains(h.controllers, controller) {
			return c.dirs[i]
		}
	}
	return ""
}

// Settings lists the writes New and Add made, in order, for the walkthrough to show.
func (c *Cgroup) Settings() []Setting { return slices.Clone(c.settings) }

// Add moves the process pid, with all its threads, into the group in every hierarchy.
// Its future children are born in the group. Add it before it runs the container's
// command, or the command runs unlimited until then.
//
// Equivalent to: `echo PID > /sys/fs/cgroup/containerlabs/NAME/cgroup.procs`.
func (c *Cgroup) Add(pid int) error {
	// lab:04 begin: write pid into cgroup.procs in each of the group's directories (c.dirs, c.write)
	for _, dir := range c.dirs {
		if err := c.write(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("add process %d to cgroup: %w", pid, err)
		}
	}
	return nil
	// lab:04 end
}

// Stats reads what the group has used so far. It can be read after the container's
// processes have exited, until Remove.
//
// Equivalent to: `cat memory.current memory.peak memory.events cpu.stat pids.current` (v2).
func (c *Cgroup) Stats() (Stats, error) {
	st, err := c.m.driver.stats(c)
	if err != nil {
		return Stats{}, fmt.Errorf("read stats of cgroup %s: %w", c.Path(), err)
	}
	return st, nil
}

// Remove kills every process still in the group, waits until the group is empty and
// removes its directories, and then the parent group if no other container uses it.
// It kills only processes in this group: on v2 by writing cgroup.kill, which the kernel
// applies to exactly the group's members, including any forked meanwhile; elsewhere by
// sending SIGKILL to each PID listed in cgroup.procs through a pidfd, after checking that
// the PID still belongs to the group, so a PID reused by an unrelated process in the
// meantime is never hit. Removing a group that is already gone is not an error.
//
// Equivalent to: `echo 1 > cgroup.kill` (or `kill -9 $(cat cgroup.procs)` until it is
// empty), then `rmdir /sys/fs/cgroup/containerlabs/NAME`.
func (c *Cgroup) Remove() error {
	if err := c.killAll(); err != nil {
		return err
	}
	if err := c.removeDirs(); err != nil {
		return err
	}
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
	c.m.removeParent()
	return nil
}

func (c *Cgroup) killAll() error {
	if f := c.m.driver.killFile(); f != "" {
		path := filepath.Join(c.dirs[0], f)
		if _, err := os.Stat(path); err == nil {
			if err := writeFile(path, "1"); err != nil {
				return fmt.Errorf("kill the processes of cgroup %s: %w", c.Path(), err)
			}
		}
	}
	deadline := time.Now().Add(killTimeout)
	for {
		pids, err := c.procs()
		if err != nil || len(pids) == 0 {
			return err
		}
		for _, pid := range pids {
			if err := c.kill(pid); err != nil {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v of cgroup %s are still there %v after SIGKILL", pids, c.Path(), killTimeout)
		}
		// A killed process leaves the group only once it has exited; that takes a moment.
		time.Sleep(10 * time.Millisecond)
	}
}

// procs lists the PIDs in the group, in any of its hierarchies.
func (c *Cgroup) procs() ([]int, error) {
	var pids []int
	for _, dir := range c.dirs {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list the processes of cgroup %s: %w", dir, err)
		}
		for _, f := range strings.Fields(string(data)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("list the processes of cgroup %s: bad PID %q", dir, f)
			}
			if !slices.Contains(pids, pid) {
				pids = append(pids, pid)
			}
		}
	}
	return pids, nil
}

// kill sends SIGKILL to pid if it is still a member of the group. The pidfd pins the
// process: once it is open, the PID cannot be reused under it, so the membership check
// and the signal are about the same process.
func (c *Cgroup) kill(pid int) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if errors.Is(err, unix.ENOSYS) {
		// Linux before 5.3 has no pidfds; a plain kill has a tiny window for PID reuse.
		err = unix.Kill(pid, unix.SIGKILL)
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return err
	}
	if err != nil {
		return fmt.Errorf("open process %d: %w", pid, err)
	}
	defer unix.Close(fd)
	member, err := c.isMember(pid)
	if err != nil || !member {
		return err
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill process %d of cgroup %s: %w", pid, c.Path(), err)
	}
	return nil
}

// isMember reports whether /proc/PID/cgroup places pid in this group, in any hierarchy.
func (c *Cgroup) isMember(pid int) (bool, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// "4:memory:/containerlabs/NAME" on v1, "0::/containerlabs/NAME" on v2.
		if parts := strings.SplitN(s.Text(), ":", 3); len(parts) == 3 && parts[2] == c.Path() {
			return true, nil
		}
	}
	if err := s.Err(); err != nil && !errors.Is(err, unix.ESRCH) {
		return false, err
	}
	// A process that is exiting (cgroup.kill got it first) still opens, but its cgroup file
	// reads ESRCH: it is leaving the group, which is what the caller wants.
	return false, nil
}

// removeDirs removes the group's directories, the lock directory last. The kernel refuses
// (EBUSY) while a killed process has not quite left yet, so it retries for a while.
func (c *Cgroup) removeDirs() error {
	for _, dir := range slices.Backward(c.dirs) {
		deadline := time.Now().Add(killTimeout)
		for {
			err := c.m.host.rmdir(dir)
			if err == nil || errors.Is(err, fs.ErrNotExist) {
				break
			}
			if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
				return fmt.Errorf("remove cgroup %s: %w", dir, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// removeParent removes the parent group in every hierarchy if it is empty: the host is
// left as it was found once the last container is gone. A parent still in use fails with
// EBUSY or ENOTEMPTY and stays.
func (m *Manager) removeParent() {
	for _, h := range m.hierarchies {
		_ = m.host.rmdir(filepath.Join(h.dir, m.parent))
	}
}

// RemoveStale removes the groups under the manager's parent that no live process uses:
// those left behind by containers whose manager died (kill -9) before it could call
// Remove. A group is in use while a process is in it, or while a live Cgroup holds it
// (from New to Remove, before any process has been added). It returns the names of the
// groups it removed.
//
// Equivalent to: `rmdir` of each group under /sys/fs/cgroup/containerlabs whose
// cgroup.procs is empty.
func (m *Manager) RemoveStale() ([]string, error) {
	var names []string
	for _, h := range m.hierarchies {
		entries, err := os.ReadDir(filepath.Join(h.dir, m.parent))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list stale cgroups: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() && checkName(e.Name()) == nil && !slices.Contains(names, e.Name()) {
				names = append(names, e.Name())
			}
		}
	}
	slices.Sort(names)
	var removed []string
	for _, name := range names {
		c := m.group(name)
		stale, err := c.lockIfStale()
		if err != nil {
			return removed, err
		}
		if !stale {
			continue
		}
		err = c.removeDirs()
		if c.lock != nil {
			c.lock.Close()
		}
		if err != nil {
			return removed, err
		}
		removed = append(removed, name)
	}
	m.removeParent()
	return removed, nil
}

// lockIfStale takes the group's lock if nobody holds it, and reports whether the group is
// stale: unlocked and without processes. A group whose lock directory is missing is not
// stale: it is being made or removed right now. New makes the lock directory first and
// removes it last (so does Remove), so only a live manager leaves a group without it, for
// a moment: a New that lost its parent to another container's Remove, discarded what it had
// made and is making it again. Removing the group's other directories then took them from
// under that New, whose container failed to join its memory group (ENOENT), once, in ten
// concurrent starts of lab 06.
func (c *Cgroup) lockIfStale() (bool, error) {
	lock, err := lockDir(c.dirs[0], unix.LOCK_EX|unix.LOCK_NB)
	switch {
	case errors.Is(err, unix.EWOULDBLOCK), errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("check cgroup %s: %w", c.dirs[0], err)
	}
	c.lock = lock
	pids, err := c.procs()
	if err == nil && len(pids) == 0 {
		return true, nil
	}
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
	return false, err
}

// write writes value to a cgroup file and records it among the settings.
func (c *Cgroup) write(path, value string) error {
	if err := writeFile(path, value); err != nil {
		return err
	}
	c.settings = append(c.settings, Setting{File: path, Value: value})
	return nil
}

// writeFile writes value to a cgroup file in one write(2), which is how the kernel wants
// it. The file must exist: in cgroupfs only the kernel creates files, and a missing one
// means a controller is not there.
func writeFile(path, value string) error {
	// unix.Open rather than os.OpenFile: a cgroup file never blocks for long, and os would
	// register each one with the Go runtime's poller, four more system calls for each of
	// the dozens of files a container's start writes. What os does and unix does not is
	// retry EINTR, which a write can return: lowering a memory limit reclaims memory, and
	// the kernel gives up with EINTR when a signal arrives meanwhile (the Go runtime sends
	// its threads SIGURG to preempt goroutines), whatever SA_RESTART says.
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0)
	for errors.Is(err, unix.EINTR) {
		fd, err = unix.Open(path, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, path, err)
	}
	_, err = unix.Write(fd, []byte(value))
	for errors.Is(err, unix.EINTR) {
		_, err = unix.Write(fd, []byte(value))
	}
	if closeErr := unix.Close(fd); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, path, err)
	}
	return nil
}

// writeOptional writes value to the first of files that exists in dir, and reports
// ErrUnsupported naming what it means (what) if none does.
func (c *Cgroup) writeOptional(dir, what, value string, files ...string) error {
	for _, f := range files {
		path := filepath.Join(dir, f)
		if _, err := os.Stat(path); err == nil {
			return c.write(path, value)
		}
	}
	return fmt.Errorf("%w: %s: none of %s in %s", ErrUnsupported, what, strings.Join(files, ", "), dir)
}

// limitSwap makes the memory limit include swap by writing value to file, where the
// kernel accounts swap. Where it does not (the file is missing), the limit still holds
// if there is no swap to page to; with swap on, it would not, and that is an error.
func (c *Cgroup) limitSwap(file, value string) error {
	if _, err := os.Stat(file); err == nil {
		return c.write(file, value)
	}
	on, err := c.m.host.swapOn()
	if err != nil {
		return err
	}
	if on {
		return fmt.Errorf("%w: the memory limit cannot include swap: %s is missing (the kernel does not account swap; boot it with swapaccount=1) and swap is on", ErrUnsupported, file)
	}
	return nil
}

// swapOn reports whether any swap area is active.
//
// Equivalent to: `swapon --show`.
func swapOn() (bool, error) {
	data, err := os.ReadFile("/proc/swaps")
	if err != nil {
		return false, fmt.Errorf("check for swap: %w", err)
	}
	// The first line is a header.
	return len(strings.Split(strings.TrimSpace(string(data)), "\n")) > 1, nil
}

// readUint reads a file that holds one number, such as memory.current.
func readUint(path string) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return v, nil
}

// readKeyed reads a file of "key value" lines, such as memory.events or cpu.stat.
func readKeyed(path string) (map[string]uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	values := map[string]uint64{}
	for line := range strings.SplitSeq(string(data), "\n") {
		if key, value, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			if v, err := strconv.ParseUint(strings.TrimSpace(value), 10, 64); err == nil {
				values[key] = v
			}
		}
	}
	return values, nil
}

package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"containerlabs/labs/cgroup"
)

// Rootless containers, and containers without a cgroup.
//
// A runtime run by an ordinary user, or by root of a user namespace (a rootless engine),
// may create a cgroup only where the directory is the user's: on cgroup v2, a subtree an
// administrator or systemd delegated to it. On cgroup v1, and on v2 without delegation,
// mkdir under /sys/fs/cgroup fails with EACCES. runc's --rootless answers that the way
// this runtime does with Runtime.Rootless: a container that asks for no limit then runs
// without a group of its own, staying in its creator's; one that asks for a limit is
// refused, because a limit that silently does not apply is worse than an error.
//
// Without a group, what the runtime would read from it comes from elsewhere: the
// container's processes are the members of its PID namespace; signals to "all" go to
// each of them. Pause, resume and update need a group and say so. Device rules are not
// needed to keep devices out: in a user namespace the kernel refuses mknod of a device,
// so only the nodes the runtime bind-mounts from the host exist in the container.

// errNoCgroup is returned by the commands that need a cgroup from a container without one.
var errNoCgroup = errors.New("the container has no cgroup of its own (a rootless container on a host that delegates none to its user)")

// makeCgroup creates the container's cgroup with its resources. A rootless runtime that
// may not create it returns nil for a config that asks for no limit.
func (r *Runtime) makeCgroup(spec *specs.Spec, id string) (*cgroup.OCI, error) {
	g, err := cgroup.NewOCI(spec.Linux.CgroupsPath, id, spec.Linux.Resources)
	if err != nil {
		return nil, err
	}
	err = g.Create(withDefaultDevices(spec.Linux.Resources))
	if err == nil {
		return g, nil
	}
	if !r.Rootless || !(errors.Is(err, fs.ErrPermission) || errors.Is(err, unix.EROFS)) {
		return nil, err
	}
	if limits := askedLimits(spec.Linux.Resources); len(limits) > 0 {
		return nil, fmt.Errorf("%w: a rootless container's %s limit needs a cgroup its user may create (cgroup v2, with a subtree delegated to the user)", err, strings.Join(limits, ", "))
	}
	r.Log.Debugf("rootless: running %s without a cgroup of its own: %v", id, err)
	return nil, nil
}

// askedLimits names the kinds of limit r sets. Device rules are left out (see above).
func askedLimits(r *specs.LinuxResources) []string {
	if r == nil {
		return nil
	}
	var names []string
	for _, l := range []struct {
		name string
		set  bool
	}{
		{"memory", r.Memory != nil},
		{"cpu", r.CPU != nil},
		{"pids", r.Pids != nil},
		{"blkio", r.BlockIO != nil},
		{"hugetlb", len(r.HugepageLimits) > 0},
		{"network", r.Network != nil},
		{"rdma", len(r.Rdma) > 0},
		{"unified", len(r.Unified) > 0},
	} {
		if l.set {
			names = append(names, l.name)
		}
	}
	return names
}

// members lists the container's processes as the host numbers them: its cgroup's, or
// without one, the processes in its init's PID namespace (only the init, if it shares
// the host's).
func (c *container) members() ([]int, error) {
	if c.Cgroup != nil {
		return c.Cgroup.Pids()
	}
	if c.Pid <= 0 {
		return nil, nil
	}
	if !newNamespace(c.Spec, specs.PIDNamespace) {
		if _, err := os.Stat("/proc/" + strconv.Itoa(c.Pid)); err != nil {
			return nil, nil
		}
		return []int{c.Pid}, nil
	}
	own, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", c.Pid))
	if err != nil {
		return nil, nil // the init is gone, and with it the namespace's processes
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && ns == own {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// signalAll sends sig to every process of the container: through its cgroup, or to each
// member of its PID namespace.
func (c *container) signalAll(sig syscall.Signal) error {
	if c.Cgroup != nil {
		return c.Cgroup.Signal(sig)
	}
	pids, err := c.members()
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signal %d: %w", pid, err)
		}
	}
	return nil
}

package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/namespace"
	"containerlabs/labs/procfs"
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
	spec, err := c.config()
	if err != nil {
		return nil, err
	}
	if !newNamespace(spec, specs.PIDNamespace) {
		if _, err := os.Stat("/proc/" + strconv.Itoa(c.Pid)); err != nil {
			return nil, nil
		}
		return []int{c.Pid}, nil
	}
	own, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", c.Pid))
	if err != nil {
		return nil, nil // the init is gone, and with it the namespace's processes
	}
	all, err := procfs.PIDs()
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, pid := range all {
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

// ParseRootless reads runc's --rootless value: "true", "false", or "auto", which is true
// for an ordinary user and for root of a user namespace (a rootless engine's runtime).
func ParseRootless(value string) (bool, error) {
	switch value {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "auto", "":
		return os.Geteuid() != 0 || namespace.InUserNamespace(), nil
	}
	return false, fmt.Errorf("--rootless %q: want true, false or auto", value)
}

// DefaultRootFor is the state root when the caller names none: DefaultRoot for root, and
// for an ordinary user $XDG_RUNTIME_DIR/labs-runc (runc keeps $XDG_RUNTIME_DIR/runc), as
// /run is root's.
func DefaultRootFor() string {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); os.Geteuid() != 0 && filepath.IsAbs(dir) {
		return filepath.Join(dir, "labs-runc")
	}
	return DefaultRoot
}

// RootlessSpec turns spec into one an ordinary user can run without help, as
// `runc spec --rootless` writes it: a user namespace mapping the user's own uid and gid
// to root (the one line the kernel lets anyone write), the host's network (a new network
// namespace would have nothing but lo, which an ordinary user cannot connect), no cgroup
// namespace and no resources (no cgroup can be created), and RootlessMounts.
//
// Equivalent to: `runc spec --rootless`.
func RootlessSpec(spec *specs.Spec, uid, gid int) {
	spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(uid), Size: 1}}
	spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(gid), Size: 1}}
	spec.Linux.Namespaces = slices.DeleteFunc(spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
		return ns.Type == specs.NetworkNamespace || ns.Type == specs.CgroupNamespace || ns.Type == specs.UserNamespace
	})
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	spec.Linux.Resources = nil
	spec.Linux.Sysctl = nil
	RootlessMounts(spec, true)
}

// RootlessMounts adapts the mounts of a spec that runs in a user namespace whose root is
// an ordinary user: sysfs, which the kernel lets a user namespace mount only for a network
// namespace it owns, becomes a read-only bind of the host's /sys when the container keeps
// the host's network; and with singleID (no subordinate IDs), devpts's gid=5 (tty), which
// does not exist in the namespace, is dropped.
func RootlessMounts(spec *specs.Spec, singleID bool) {
	hostNetwork := !slices.ContainsFunc(spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
		return ns.Type == specs.NetworkNamespace
	})
	for i, m := range spec.Mounts {
		switch {
		case m.Type == "sysfs" && hostNetwork:
			spec.Mounts[i] = specs.Mount{Destination: m.Destination, Type: "bind", Source: "/sys",
				Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
		case m.Type == "devpts" && singleID:
			spec.Mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return strings.HasPrefix(o, "gid=") })
		}
	}
}

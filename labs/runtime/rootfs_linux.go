package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/mount"
	"containerlabs/labs/namespace"
	"containerlabs/labs/procfs"
	"containerlabs/labs/rootfs"
)

// prepareRootfs builds the container's file tree inside its new mount namespace, before the
// root is switched: propagation, the root itself, every mount of the config, and the device
// nodes. All paths are resolved inside the root (rootfs.Resolve), so a symlink in the image
// ("/dev -> /") cannot redirect a mount onto the host.
func prepareRootfs(cfg *initConfig) error {
	spec := cfg.Spec
	// Mount events must not travel back to the host. Unless the config asks otherwise, "/"
	// and everything beneath become slaves: they still receive the host's new mounts (a CD
	// inserted later), but the container's mounts stay in the container.
	propagation := rootPropagation(spec)
	if err := (mount.Mount{Target: "/", Flags: propagation}).Apply(); err != nil {
		return err
	}
	if propagation&(unix.MS_SHARED|unix.MS_UNBINDABLE) != 0 {
		// pivot_root refuses a new root whose parent mount is shared, and a bind of the root
		// (below) is refused under an unbindable one. The propagation asked for is given to
		// the container's own root after pivot_root (see switchRoot).
		if err := makeParentPrivate(cfg.Rootfs); err != nil {
			return err
		}
	}
	// pivot_root needs the new root to be a mount point; the bind makes it one.
	if err := namespace.EnterRoot(cfg.Rootfs); err != nil {
		return err
	}
	for _, m := range spec.Mounts {
		if err := mountOne(cfg, m); err != nil {
			return err
		}
	}
	if !devIsBindMounted(spec) {
		if err := createDevices(cfg); err != nil {
			return err
		}
	}
	return nil
}

// rootPropagation is the propagation "/" gets before the container's mounts are made: the
// config's rootfsPropagation, else recursive slave.
func rootPropagation(spec *specs.Spec) uintptr {
	if p := spec.Linux.RootfsPropagation; p != "" {
		return propagationFlags[p]
	}
	return unix.MS_SLAVE | unix.MS_REC
}

// makeParentPrivate makes the mount that holds dir private (not recursively).
func makeParentPrivate(dir string) error {
	parent, err := mountHolding(dir)
	if err != nil {
		return err
	}
	return mount.Mount{Target: parent, Flags: unix.MS_PRIVATE}.Apply()
}

// mountHolding returns the mount point of the mount that holds dir.
func mountHolding(dir string) (string, error) {
	table, err := mount.Table()
	if err != nil {
		return "", err
	}
	parent := "/"
	for _, m := range table {
		if (dir == m.Target || strings.HasPrefix(dir, strings.TrimSuffix(m.Target, "/")+"/")) && len(m.Target) > len(parent) {
			parent = m.Target
		}
	}
	return parent, nil
}

func devIsBindMounted(spec *specs.Spec) bool {
	for _, m := range spec.Mounts {
		if filepath.Clean(m.Destination) == "/dev" {
			o, _ := parseMountOptions(m.Options)
			return o.bind || m.Type == "bind"
		}
	}
	return false
}

// mountOne performs one entry of the config's mounts.
//
// The destination is looked up inside the root by the kernel (rootfs.CreateInRoot: openat2
// with RESOLVE_IN_ROOT), created if missing, and mounted on through its descriptor
// (/proc/self/fd/N), never through its path again: between a lookup by path and a mount
// by path, a process that shares a volume with this container could swap a directory for
// a symlink and have the mount land anywhere on the host (CVE-2021-30465). A symlink in the
// image is followed, but inside the root only; procfs and sysfs (and the /dev tmpfs) must
// go on real directories (runc's error says "must be mounted on ordinary directory", and
// so does this one), and nothing but procfs may cover anything in /proc.
func mountOne(cfg *initConfig, m specs.Mount) error {
	o, err := parseMountOptions(m.Options)
	if err != nil {
		return err
	}
	root, err := rootfs.OpenRoot(cfg.Rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	bind := o.bind || m.Type == "bind"
	dir := true
	if bind {
		if dir, err = bindSourceIsDir(cfg, m); err != nil {
			return err
		}
	} else if err := checkRealDirectory(root, m); err != nil {
		return err
	}
	target, err := rootfs.CreateInRoot(root, m.Destination, dir)
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w", m.Source, m.Destination, err)
	}
	defer target.Close()
	inside, err := rootfs.PathInRoot(root, target)
	if err != nil {
		return err
	}
	if err := checkProcDestination(cfg, m, bind, inside); err != nil {
		return err
	}
	// Once mounted on, the descriptor still names the directory underneath; what follows
	// (remounts, propagation, the cgroup tree) needs the new mount, opened again.
	var reopened []*os.File
	defer func() {
		for _, f := range reopened {
			f.Close()
		}
	}()
	mounted := func() (string, error) {
		f, err := rootfs.OpenInRoot(root, inside, unix.O_PATH)
		if err != nil {
			return "", fmt.Errorf("open %s after mounting on it: %w", m.Destination, err)
		}
		if again, err := rootfs.PathInRoot(root, f); err != nil || again != inside {
			f.Close()
			return "", fmt.Errorf("%s moved while it was mounted on (now %q)", m.Destination, again)
		}
		reopened = append(reopened, f)
		return rootfs.FdPath(f), nil
	}
	dest := rootfs.FdPath(target)
	switch {
	case bind:
		err = bindMount(cfg, m, o, dest, mounted)
	case m.Type == "cgroup":
		err = mountCgroup(cfg, o, dest, mounted)
	default:
		err = mountFS(m, o, dest, mounted)
	}
	if err != nil {
		// The errors name the target as the kernel got it, /proc/self/fd/N: say which.
		return fmt.Errorf("%s in the container (%s): %w", m.Destination, dest, err)
	}
	if len(o.propagation) == 0 && o.attrSet == 0 && o.attrClear == 0 {
		return nil
	}
	if dest, err = mounted(); err != nil {
		return err
	}
	for _, p := range o.propagation {
		if err := (mount.Mount{Target: dest, Flags: p}).Apply(); err != nil {
			return err
		}
	}
	if o.attrSet != 0 || o.attrClear != 0 {
		attr := unix.MountAttr{Attr_set: o.attrSet, Attr_clr: o.attrClear}
		if err := unix.MountSetattr(-1, dest, unix.AT_RECURSIVE, &attr); err != nil {
			return fmt.Errorf("set recursive attributes %#x (clear %#x) on %s: %w", o.attrSet, o.attrClear, m.Destination, err)
		}
	}
	return nil
}

// bindSourceIsDir says whether a bind mount's source is a directory (else a file).
func bindSourceIsDir(cfg *initConfig, m specs.Mount) (bool, error) {
	src := m.Source
	if !filepath.IsAbs(src) {
		src = filepath.Join(cfg.Bundle, src)
	}
	info, err := os.Stat(src)
	if err != nil {
		return false, fmt.Errorf("bind mount %s on %s: %w", src, m.Destination, err)
	}
	return info.IsDir(), nil
}

// checkRealDirectory refuses to mount procfs or sysfs (or the tmpfs of /dev) where the
// image has a symlink or a file: an image whose /proc is a symlink to /tmp would otherwise
// get the container's procfs at /tmp, and an empty /proc, which tools take for no procfs
// at all; the masked and read-only paths would then hide nothing. runc refuses the same.
func checkRealDirectory(root *os.File, m specs.Mount) error {
	if m.Type != "proc" && m.Type != "sysfs" && filepath.Clean(m.Destination) != "/dev" {
		return nil
	}
	clean := filepath.Clean("/" + m.Destination)
	parent, err := rootfs.OpenInRoot(root, filepath.Dir(clean), unix.O_PATH|unix.O_DIRECTORY)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w", m.Type, m.Destination, err)
	}
	defer parent.Close()
	var st unix.Stat_t
	err = unix.Fstatat(int(parent.Fd()), filepath.Base(clean), &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case err != nil:
		return fmt.Errorf("mount %s on %s: %w", m.Type, m.Destination, err)
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		buf := make([]byte, 4096)
		n, _ := unix.Readlinkat(int(parent.Fd()), filepath.Base(clean), buf)
		return fmt.Errorf("mount %s on %s: the image's %s is a symlink (to %q): refused, %s must be mounted on ordinary directory", m.Type, m.Destination, clean, buf[:n], m.Type)
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("mount %s on %s: the image's %s is not a directory: refused, %s must be mounted on ordinary directory", m.Type, m.Destination, clean, m.Type)
	}
	return nil
}

// isProcfs reports whether a bind mount's source is a procfs.
//
// Equivalent to: `stat -f -c %T SOURCE` printing "proc".
func isProcfs(cfg *initConfig, source string) bool {
	if !filepath.IsAbs(source) {
		source = filepath.Join(cfg.Bundle, source)
	}
	var st unix.Statfs_t
	return unix.Statfs(source, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
}

// procFiles are the files of /proc that a mount may replace: the ones lxcfs serves with a
// container's own figures (runc allows the same list). Anything else under /proc is the
// kernel's, and a mount over, say, /proc/self/attr or /proc/sys would hide or replace
// what the hardening relies on (CVE-2019-19921).
var procFiles = []string{
	"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
	"/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
}

// checkProcDestination refuses a mount that would land in /proc, where the destination
// ended up (inside) after every symlink was followed: only procfs itself goes at /proc,
// mounted fresh or bound from a procfs of the host (a container that shares the host's PID
// namespace may be given the host's /proc, as runc allows).
func checkProcDestination(cfg *initConfig, m specs.Mount, bind bool, inside string) error {
	if inside != "/proc" && !strings.HasPrefix(inside, "/proc/") {
		return nil
	}
	if inside == "/proc" && (m.Type == "proc" || (bind && isProcfs(cfg, m.Source))) {
		return nil
	}
	if inside != "/proc" && slices.Contains(procFiles, inside) {
		return nil
	}
	if inside != filepath.Clean(m.Destination) {
		return fmt.Errorf("mount %s on %s: it leads to %s, inside /proc: refused", m.Source, m.Destination, inside)
	}
	return fmt.Errorf("mount %s on %s: nothing but procfs may be mounted inside /proc", m.Source, m.Destination)
}

// mountFS mounts a file system (proc, tmpfs, sysfs, devpts, mqueue, or a device).
func mountFS(m specs.Mount, o mountOptions, dest string, mounted func() (string, error)) error {
	err := mount.Mount{Source: m.Source, Target: dest, FSType: m.Type, Flags: o.flags, Data: o.data}.Apply()
	if errors.Is(err, unix.EPERM) && (m.Type == "sysfs" || m.Type == "mqueue") {
		// A user namespace that shares the host's network (or IPC) namespace may not mount a
		// fresh sysfs (or mqueue): the kernel only allows it to the namespace's owner. The
		// host's is bind-mounted instead, with the same flags.
		host := map[string]string{"sysfs": "/sys", "mqueue": "/dev/mqueue"}[m.Type]
		if err := (mount.Mount{Source: host, Target: dest, Flags: unix.MS_BIND | unix.MS_REC}).Apply(); err != nil {
			return err
		}
		if dest, err = mounted(); err != nil {
			return err
		}
		return remount(dest, o.flags)
	}
	return err
}

// bindMount makes a host file or directory visible at dest. Flags such as ro cannot be given
// with the bind itself (the kernel ignores them), so a second call remounts the bind.
//
// Equivalent to: `mount --bind SRC DEST && mount -o remount,bind,ro DEST`.
func bindMount(cfg *initConfig, m specs.Mount, o mountOptions, dest string, mounted func() (string, error)) error {
	src := m.Source
	if !filepath.IsAbs(src) {
		src = filepath.Join(cfg.Bundle, src)
	}
	flags := uintptr(unix.MS_BIND)
	if o.recursive {
		flags |= unix.MS_REC
	}
	if attached, err := attachMountSource(cfg, src, dest); err != nil {
		return err
	} else if !attached {
		if err := (mount.Mount{Source: src, Target: dest, Flags: flags}).Apply(); err != nil {
			return err
		}
	}
	if o.flags&^unix.MS_REMOUNT != 0 {
		dest, err := mounted()
		if err != nil {
			return err
		}
		return remount(dest, o.flags)
	}
	return nil
}

// makeMountPoint creates what a mount needs at dest: a directory, or an empty file for a
// file bind-mounted over it.
func makeMountPoint(dest string, dir bool) error {
	if dir {
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return fmt.Errorf("make mount point %s: %w", dest, err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return fmt.Errorf("make mount point %s: %w", dest, err)
	}
	f, err := os.OpenFile(dest, os.O_CREATE|os.O_RDONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("make mount point %s: %w", dest, err)
	}
	return f.Close()
}

// remount changes the flags of the bind mount at dest. Inside a user namespace, the kernel
// locks the flags a mount came with (nosuid, nodev, noexec, atime ones): a remount that
// drops one is refused with EPERM, so then the existing ones are kept and it is tried again.
func remount(dest string, flags uintptr) error {
	m := mount.Mount{Target: dest, Flags: unix.MS_BIND | unix.MS_REMOUNT | flags}
	err := m.Apply()
	if !errors.Is(err, unix.EPERM) {
		return err
	}
	var st unix.Statfs_t
	if statErr := unix.Statfs(dest, &st); statErr != nil {
		return err
	}
	for _, f := range []struct{ st, ms uintptr }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if uintptr(st.Flags)&f.st != 0 {
			m.Flags |= f.ms
		}
	}
	return m.Apply()
}

// mountCgroup gives the container its view of the cgroup file system at dest (usually
// /sys/fs/cgroup). With a cgroup namespace, a fresh mount shows the container's own group as
// the root, because the namespace was made once the init was in its group. Without one, the
// container's group directories are bind-mounted from the host, so it still sees only its
// own. On v1, each hierarchy gets a directory in a small tmpfs, as on a host.
func mountCgroup(cfg *initConfig, o mountOptions, dest string, mounted func() (string, error)) error {
	g := cfg.Cgroup
	if g == nil {
		// No group of its own (a rootless container, see rootless_linux.go): an empty
		// read-only directory, rather than a view of its creator's groups.
		return mount.Mount{Source: "tmpfs", Target: dest, FSType: "tmpfs", Flags: o.flags | unix.MS_RDONLY, Data: "mode=755"}.Apply()
	}
	flags := o.flags &^ unix.MS_RDONLY
	if cfg.Cgroup.Mode == cgroup.V2 {
		if cfg.NewCgroupNS {
			return mount.Mount{Source: "cgroup2", Target: dest, FSType: "cgroup2", Flags: o.flags}.Apply()
		}
		if err := (mount.Mount{Source: g.Paths[""], Target: dest, Flags: unix.MS_BIND}).Apply(); err != nil {
			return err
		}
		dest, err := mounted()
		if err != nil {
			return err
		}
		return remount(dest, o.flags)
	}
	if err := (mount.Mount{Source: "tmpfs", Target: dest, FSType: "tmpfs", Flags: flags, Data: "mode=755"}).Apply(); err != nil {
		return err
	}
	// The hierarchies go into the tmpfs just mounted, which a fresh descriptor names.
	dest, err := mounted()
	if err != nil {
		return err
	}
	hierarchies := cgroupHierarchies(g)
	for _, dir := range slices.Sorted(maps.Keys(hierarchies)) {
		controllers := hierarchies[dir]
		name := strings.Join(controllers, ",")
		sub := filepath.Join(dest, name)
		if err := os.Mkdir(sub, 0o755); err != nil {
			return fmt.Errorf("make mount point %s: %w", sub, err)
		}
		if cfg.NewCgroupNS {
			if err := (mount.Mount{Source: "cgroup", Target: sub, FSType: "cgroup", Flags: o.flags, Data: name}).Apply(); err != nil {
				return err
			}
		} else {
			if err := (mount.Mount{Source: dir, Target: sub, Flags: unix.MS_BIND}).Apply(); err != nil {
				return err
			}
			if err := remount(sub, o.flags); err != nil {
				return err
			}
		}
		if len(controllers) > 1 {
			for _, c := range controllers {
				if err := os.Symlink(name, filepath.Join(dest, c)); err != nil {
					return fmt.Errorf("link cgroup controller %s: %w", c, err)
				}
			}
		}
	}
	if o.flags&unix.MS_RDONLY != 0 {
		return mount.Mount{Target: dest, Flags: unix.MS_REMOUNT | o.flags}.Apply()
	}
	return nil
}

// cgroupHierarchies groups a v1 container's controllers by the hierarchy (the directory)
// they share, each list sorted: cpu and cpuacct are usually one.
func cgroupHierarchies(g *cgroup.OCI) map[string][]string {
	hierarchies := map[string][]string{}
	for controller, dir := range g.Paths {
		if controller != "" { // a hybrid host's unified tree, which has no controller
			hierarchies[dir] = append(hierarchies[dir], controller)
		}
	}
	for _, controllers := range hierarchies {
		slices.Sort(controllers)
	}
	return hierarchies
}

// createDevices makes the device nodes in the container's /dev: those the config lists, and
// the ones the OCI specification says every container has (null, zero, full, random,
// urandom, tty). Only these exist: the devices cgroup is the second fence, for a process
// that would mknod another. Inside a user namespace (the container's own, or the rootless
// engine's the runtime runs in) mknod is refused, so the host's node is bind-mounted over
// an empty file instead.
//
// Equivalent to: `mknod -m 666 ROOT/dev/null c 1 3` and so on, and the /dev/fd symlinks.
func createDevices(cfg *initConfig) error {
	for _, d := range containerDevices(cfg.Spec) {
		if err := createDevice(cfg, d); err != nil {
			return err
		}
	}
	dev, err := rootfs.Resolve(cfg.Rootfs, "/dev")
	if err != nil {
		return err
	}
	for name, target := range devLinks {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("link /dev/%s: %w", name, err)
		}
	}
	return nil
}

// containerDevices are the device nodes of a container's /dev: the config's, and those of
// procfs.Devices the config does not list.
func containerDevices(spec *specs.Spec) []specs.LinuxDevice {
	devices := slices.Clone(spec.Linux.Devices)
	for _, d := range procfs.Devices {
		path := "/dev/" + d.Name
		if !slices.ContainsFunc(devices, func(x specs.LinuxDevice) bool { return x.Path == path }) {
			mode := os.FileMode(0o666)
			devices = append(devices, specs.LinuxDevice{Path: path, Type: "c", Major: int64(d.Major), Minor: int64(d.Minor), FileMode: &mode})
		}
	}
	return devices
}

// devLinks are the symlinks of a container's /dev, by name, and where they lead.
var devLinks = map[string]string{
	"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
	"stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx",
}

func createDevice(cfg *initConfig, d specs.LinuxDevice) error {
	path, err := rootfs.Resolve(cfg.Rootfs, d.Path)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("make device %s: %w", d.Path, err)
	}
	kind, mode, uid, gid, err := deviceNode(d)
	if err != nil {
		return err
	}
	if cfg.NewUserNS || namespace.InUserNamespace() {
		if err := makeMountPoint(path, false); err != nil {
			return err
		}
		return mount.Mount{Source: d.Path, Target: path, Flags: unix.MS_BIND}.Apply()
	}
	_ = os.Remove(path)
	if err := unix.Mknod(path, kind|mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil {
		return fmt.Errorf("mknod %s (%s %d:%d): %w", d.Path, d.Type, d.Major, d.Minor, err)
	}
	// mknod's mode was filtered by the umask.
	if err := unix.Chmod(path, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", d.Path, err)
	}
	if uid >= 0 || gid >= 0 {
		if err := unix.Chown(path, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", d.Path, err)
		}
	}
	return nil
}

// deviceNode is what mknod needs for d: the node's type (S_IFCHR, ...), its permission bits
// (0666 unless the config says), and its owner (-1 for one the config leaves as it is).
func deviceNode(d specs.LinuxDevice) (kind, mode uint32, uid, gid int, err error) {
	if kind, err = deviceType(d.Type); err != nil {
		return 0, 0, 0, 0, err
	}
	mode, uid, gid = 0o666, -1, -1
	if d.FileMode != nil {
		mode = uint32(d.FileMode.Perm())
	}
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	return kind, mode, uid, gid, nil
}

// switchRoot makes the container's root (the current directory, see namespace.EnterRoot) the
// root of the process. With pivot_root the old root is detached from the mount namespace
// entirely; it is made a slave first so that detaching it cannot propagate to the host, even
// when the config asked for shared propagation. With noPivot (a root on a ramdisk, where
// pivot_root is refused), the root is moved over "/" and chrooted into, which leaves the old
// root reachable to a process that escapes the chroot.
//
// Then the container's root gets the config's rootfsPropagation, as crun gives it: set on
// the host's "/" before the bind, it could not reach the root, which is a bind made under a
// private parent. "shared" starts a peer group of the container's own (a bind of "/" inside
// sees mounts made later, and nothing reaches the host); "unbindable" forbids binding it.
//
// Equivalent to: `pivot_root . . && cd OLDROOT && mount --make-rslave . && umount -l .`, or
// `mount --move . / && chroot .`; then `mount --make-shared /` (or the propagation asked).
func switchRoot(noPivot bool, rootfsPropagation string) error {
	if noPivot {
		if err := (mount.Mount{Source: ".", Target: "/", Flags: unix.MS_MOVE}).Apply(); err != nil {
			return err
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chroot into the container's root: %w", err)
		}
	} else {
		oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open the old root: %w", err)
		}
		defer unix.Close(oldRoot)
		if err := unix.PivotRoot(".", "."); err != nil {
			return fmt.Errorf("pivot_root into the container's root: %w", err)
		}
		// The old root now sits on top of the new one, at ".". A propagation change
		// names the mount whose root the path is, and "." from the new root's directory is
		// the new root: changing into the old root first makes the rslave below reach the
		// old root alone. Made on the new root, it would also cut the container's own
		// mounts off from the host's peer groups (a volume with rshared propagation
		// would no longer show the container's mounts on the host).
		if err := unix.Fchdir(oldRoot); err != nil {
			return fmt.Errorf("change into the old root: %w", err)
		}
		if err := (mount.Mount{Target: ".", Flags: unix.MS_SLAVE | unix.MS_REC}).Apply(); err != nil {
			return err
		}
		if err := mount.Unmount("."); err != nil {
			return fmt.Errorf("detach the old root: %w", err)
		}
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	if rootfsPropagation != "" {
		return mount.Mount{Target: "/", Flags: propagationFlags[rootfsPropagation]}.Apply()
	}
	return nil
}

// maskPaths hides paths under /dev/null (a file) or an empty read-only tmpfs (a directory).
// Paths that do not exist are skipped: there is nothing to hide.
//
// Equivalent to: `mount --bind /dev/null PATH` or `mount -t tmpfs -o ro tmpfs PATH`.
func maskPaths(paths []string) error {
	for _, p := range paths {
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
		m := mount.Mount{Source: "/dev/null", Target: p, Flags: unix.MS_BIND}
		if info.IsDir() {
			m = mount.Mount{Source: "tmpfs", Target: p, FSType: "tmpfs", Flags: unix.MS_RDONLY}
		}
		if err := m.Apply(); err != nil {
			return err
		}
	}
	return nil
}

// readonlyPaths remounts paths read-only, each with everything mounted beneath it.
//
// Equivalent to: `mount --rbind PATH PATH && mount -o remount,bind,ro PATH`.
func readonlyPaths(paths []string) error {
	for _, p := range paths {
		err := mount.Mount{Source: p, Target: p, Flags: unix.MS_BIND | unix.MS_REC}.Apply()
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return err
		}
		if err := remount(p, unix.MS_RDONLY|unix.MS_REC); err != nil {
			return err
		}
	}
	return nil
}

// sysctlPath is the file of a sysctl: kernel.shmmni is /proc/sys/kernel/shmmni.
func sysctlPath(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

// writeSysctls sets the config's sysctls, which Validate checked to be namespaced.
//
// Equivalent to: `sysctl -w KEY=VALUE`.
func writeSysctls(sysctls map[string]string) error {
	for key, value := range sysctls {
		path := sysctlPath(key)
		if err := os.WriteFile(path, []byte(value), 0); err != nil {
			return fmt.Errorf("set sysctl %s=%s: %w", key, value, err)
		}
	}
	return nil
}

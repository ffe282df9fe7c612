package runtime

import (
	"errors"
	"fmt"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"containerlabs/labs/namespace"
)

// initExecutable is the path the runtime starts a container's init from, in a ForkExec given
// files descriptors, and what to do once it has started: its own binary, seen through a
// read-only bind mount of it that belongs to no mount namespace.
//
// Why not /proc/self/exe: until it execs the command, the init is the runtime's binary, and
// so, for a moment, is anything the container has the init run. A container whose /bin/sh
// is a script starting "#!/proc/self/exe" gets the runtime's binary executed inside it by
// the next `exec ... /bin/sh`; a process of the container opens that process's
// /proc/PID/exe, waits for it to exit, and opens the file again for writing: the host's
// runtime binary, which root runs next time. That is CVE-2019-5736, against runc. runc
// answered first with a sealed memfd copy of itself (a copy of the whole binary per start),
// later with a read-only mount of it; this is the second: open_tree(2) clones a bind mount of
// the binary file alone, detached from every namespace, mount_setattr(2) makes it read-only,
// and the init is executed through that descriptor. Its /proc/PID/exe then names a file on a
// read-only mount: opening it for writing fails with EROFS, for root too.
//
// A rootless runtime uses /proc/self/exe: in a user namespace the kernel refuses it a clone of
// the host's mounts (they are locked to it: EINVAL), and an ordinary user outside one may not
// clone mounts at all (EPERM). Its containers' root is an ordinary user of the host, who
// could write the binary only if it were the user's own. So does a runtime on a kernel
// without open_tree (before 5.2).
//
// Equivalent to: `mount --bind -o ro /proc/self/exe PRIVATE && exec PRIVATE init`, without
// the mount point.
func initExecutable(files int) (path string, done func(), err error) {
	fd, err := readOnlySelf()
	if err != nil || fd < 0 {
		return "/proc/self/exe", func() {}, err
	}
	// The kernel finds the file through /proc/self/fd/N in the child, after ForkExec has put
	// the child's descriptors in place: it dup2s the files onto 0 to files-1, and may first
	// move some of them out of the way to numbers from files up. A number above all of
	// those is left alone.
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 2*files+8)
	if err != nil {
		return "", nil, fmt.Errorf("copy the descriptor of the runtime's binary: %w", err)
	}
	return "/proc/self/fd/" + strconv.Itoa(high), func() { unix.Close(high) }, nil
}

// readOnlySelf is the descriptor of the read-only bind mount of the runtime's binary, made
// once per process, or -1 where the runtime starts from /proc/self/exe.
var readOnlySelf = sync.OnceValues(func() (int, error) {
	if namespace.InUserNamespace() {
		return -1, nil
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/proc/self/exe", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSYS) {
		// An ordinary user's runtime (rootless labs-runc), or an old kernel.
		return -1, nil
	}
	if err != nil {
		return -1, fmt.Errorf("clone a bind mount of the runtime's binary: %w", err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("make the runtime's binary read-only for its containers: %w", err)
	}
	return fd, nil
})

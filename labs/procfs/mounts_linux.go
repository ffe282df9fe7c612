package procfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"containerlabs/labs/mount"
)

// Targets are the mount points MountAll manages inside a root, in mount order.
var Targets = []string{"proc", "dev", "sys"}

// Mounted records what MountAll mounted, so that Unmount undoes exactly that.
type Mounted struct {
	root string
}

// MountAll gives the root directory root the three pseudo file systems programs expect:
//
//   - /proc, a fresh procfs: the kernel's view of processes, as seen from the caller's PID
//     namespace (on the host, that is every process);
//   - /dev, a small tmpfs with only the harmless devices (null, zero, full, random, urandom,
//     tty), a private /dev/pts for terminals and a /dev/shm for shared memory, never the
//     host's /dev with its disks;
//   - /sys, sysfs mounted read-only.
//
// Whatever an earlier, killed run left mounted at those places is unmounted first, so a
// crash never stacks mounts.
//
// Equivalent to: `mount -t proc proc ROOT/proc; mount -t tmpfs tmpfs ROOT/dev; mknod ...;
// mount -t sysfs -o ro sysfs ROOT/sys`.
func MountAll(root string) (*Mounted, error) {
	m := &Mounted{root: root}
	if err := m.Unmount(); err != nil {
		return nil, fmt.Errorf("clean up stale mounts in %s: %w", root, err)
	}
	for _, step := range []func(string) error{MountProc, MountDev, MountSys} {
		if err := step(root); err != nil {
			_ = m.Unmount()
			return nil, err
		}
	}
	return m, nil
}

// Unmount removes everything MountAll mounted (and anything mounted beneath it since),
// deepest first. It is safe to call more than once.
func (m *Mounted) Unmount() error {
	var errs []error
	for i := len(Targets) - 1; i >= 0; i-- {
		errs = append(errs, mount.UnmountAll(filepath.Join(m.root, Targets[i])))
	}
	return errors.Join(errs...)
}

// MountProc mounts a procfs at root/proc. nosuid, nodev and noexec: nothing in /proc is
// meant to be run or opened as a device.
func MountProc(root string) error {
	// lab:02 begin: make root/proc and mount a procfs there (mount.Mount{...}.Apply), with MS_NOSUID, MS_NODEV and MS_NOEXEC
	target := filepath.Join(root, "proc")
	if err := os.MkdirAll(target, 0o555); err != nil {
		return fmt.Errorf("make %s: %w", target, err)
	}
	return mount.Mount{Source: "proc", Target: target, FSType: "proc",
		Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC}.Apply()
	// lab:02 end
}

// MountSys mounts sysfs read-only at root/sys. Read-only because writes under /sys reach
// the host's devices and kernel settings, whatever namespace the writer is in.
func MountSys(root string) error {
	// lab:02 begin: make root/sys and mount sysfs there read-only (MS_RDONLY), with MS_NOSUID, MS_NODEV and MS_NOEXEC
	target := filepath.Join(root, "sys")
	if err := os.MkdirAll(target, 0o555); err != nil {
		return fmt.Errorf("make %s: %w", target, err)
	}
	return mount.Mount{Source: "sysfs", Target: target, FSType: "sysfs",
		Flags: unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC}.Apply()
	// lab:02 end
}

// Device is a character device MountDev creates in /dev.
type Device struct {
	Name         string
	Major, Minor uint32
}

// Devices are the device nodes a container gets: the ones every program may need and none
// that reach hardware. Docker's default set is the same.
var Devices = []Device{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
	{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

// MountDev mounts a tmpfs at root/dev and fills it with Devices, a private devpts instance
// at /dev/pts (so the container's terminals are its own), a tmpfs at /dev/shm, and the
// conventional symlinks (/dev/fd, /dev/stdin, /dev/ptmx, ...).
//
// Inside a user namespace the kernel refuses mknod, so each device node is then an empty
// file with the host's node bind-mounted over it, as rootless engines do.
func MountDev(root string) error {
	dev := filepath.Join(root, "dev")
	if err := os.MkdirAll(dev, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", dev, err)
	}
	if err := (mount.Mount{Source: "tmpfs", Target: dev, FSType: "tmpfs",
		Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"}).Apply(); err != nil {
		return err
	}
	// lab:02 begin: create each of Devices in the new /dev (makeDevice: mknod, or a bind mount of the host's node in a user namespace)
	for _, d := range Devices {
		if err := makeDevice(dev, d); err != nil {
			return err
		}
	}
	// lab:02 end
	for _, sub := range []struct {
		dir string
		m   mount.Mount
	}{
		{"pts", mount.Mount{Source: "devpts", FSType: "devpts",
			Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=0620"}},
		{"shm", mount.Mount{Source: "shm", FSType: "tmpfs",
			Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, Data: "mode=1777,size=65536k"}},
	} {
		sub.m.Target = filepath.Join(dev, sub.dir)
		if err := os.Mkdir(sub.m.Target, 0o755); err != nil {
			return fmt.Errorf("make %s: %w", sub.m.Target, err)
		}
		if err := sub.m.Apply(); err != nil {
			return err
		}
	}
	for name, target := range map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
		"stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx",
	} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return fmt.Errorf("link /dev/%s: %w", name, err)
		}
	}
	return nil
}

func makeDevice(dev string, d Device) error {
	path := filepath.Join(dev, d.Name)
	err := unix.Mknod(path, unix.S_IFCHR|0o666, int(unix.Mkdev(d.Major, d.Minor)))
	if err == nil {
		// mknod's mode is filtered by the umask; devices must be usable by everyone.
		if err := os.Chmod(path, 0o666); err != nil {
			return fmt.Errorf("chmod %s: %w", path, err)
		}
		return nil
	}
	if !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("mknod %s (char %d:%d): %w", path, d.Major, d.Minor, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o666)
	if err != nil {
		return fmt.Errorf("make %s: %w", path, err)
	}
	f.Close()
	return mount.Mount{Source: "/dev/" + d.Name, Target: path, Flags: unix.MS_BIND}.Apply()
}

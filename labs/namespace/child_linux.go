package namespace

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"containerlabs/labs/mount"
)

// IsChild reports whether this process is a child that Start re-executed. A program checks
// it first thing in main and, if so, plays the inside half instead of its usual command line.
func IsChild() bool {
	return os.Getenv(envChild) != ""
}

// Receive blocks until the parent has finished its half and released the child, then
// decodes the container's description the parent sent into config.
func Receive(config any) error {
	fd, err := strconv.Atoi(os.Getenv(envChild))
	if err != nil {
		return fmt.Errorf("%s=%q is not a descriptor number", envChild, os.Getenv(envChild))
	}
	// The command must not inherit the marker, or a program of ours it runs would think it
	// is a child too.
	os.Unsetenv(envChild)
	pipe := os.NewFile(uintptr(fd), "parent pipe")
	defer pipe.Close()
	if err := json.NewDecoder(pipe).Decode(config); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("the parent exited before releasing the container")
		}
		return fmt.Errorf("read the container's description from the parent: %w", err)
	}
	return nil
}

// EnterRoot bind-mounts root onto itself and changes into it. pivot_root(2) requires the
// new root to be a mount point, which a plain directory is not; the bind makes it one.
// Working from inside it afterwards ("proc" rather than "/tmp/x/proc") makes the later steps
// independent of where the root lives on the host.
//
// Equivalent to: `mount --rbind ROOT ROOT && cd ROOT`.
func EnterRoot(root string) error {
	// lab:03 begin: bind-mount root onto itself, recursively (MS_BIND|MS_REC), then chdir into it
	if err := (mount.Mount{Source: root, Target: root, Flags: unix.MS_BIND | unix.MS_REC}).Apply(); err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return fmt.Errorf("enter the container's root: %w", err)
	}
	return nil
	// lab:03 end
}

// PivotRoot makes the current directory (see EnterRoot) the root of the mount namespace and
// detaches the old root, so that nothing of the host's file tree is reachable any more.
//
// That is what chroot cannot do. chroot only changes where one process's lookups start; the
// host's root stays mounted in the namespace, and a root process can climb back to it (lab
// 01's escape). pivot_root moves the whole mount namespace onto the new root, and once the
// old root is unmounted, there is no path, no "..", that leads to it.
//
// pivot_root(".", ".") is the trick runc uses: it stacks the old root on top of the new one
// at the same place, and unmounting "." then removes the top of the stack, the old root.
// No directory is needed to hold the old root, so it also works on a read-only root.
//
// Equivalent to: `pivot_root . . && umount -l .` (from inside ROOT).
func PivotRoot() error {
	// lab:03 begin: pivot_root(".", ".") (unix.PivotRoot), unmount "." to detach the old root stacked on top, then chdir to "/"
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root into the container's root: %w", err)
	}
	if err := mount.Unmount("."); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return fmt.Errorf("change to the new root: %w", err)
	}
	return nil
	// lab:03 end
}

// SetHostname sets the hostname of the UTS namespace; the host's stays as it was.
//
// Equivalent to: `hostname NAME` (inside the namespace).
func SetHostname(name string) error {
	// lab:03 begin: set the UTS namespace's hostname (unix.Sethostname)
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("set hostname %q: %w", name, err)
	}
	return nil
	// lab:03 end
}

// The child's threads are all named after the binary that was executed, "exe" for
// /proc/self/exe. Naming the main thread "init" makes PID 1 read as what it is in ps.
func init() {
	if IsChild() {
		_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte("init\x00")[0])), 0, 0, 0)
	}
}

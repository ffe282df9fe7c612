//go:build !linux

package rootfs

import (
	"archive/tar"
	"errors"
	"io"
	"os"
)

var errNotLinux = errors.New("safe extraction needs Linux (openat with O_NOFOLLOW)")

// Unpacker writes tar entries beneath one directory (Linux only).
type Unpacker struct {
	Xattrs    []string
	SameOwner bool
	Skipped   []string
}

// NewUnpacker opens dir for unpacking (Linux only).
func NewUnpacker(dir string) (*Unpacker, error) { return nil, errNotLinux }

// Write creates one entry (Linux only).
func (u *Unpacker) Write(hdr *tar.Header, body io.Reader) error { return errNotLinux }

// Close releases the destination (Linux only).
func (u *Unpacker) Close() error { return errNotLinux }

// OpenParent opens the directory that will hold an entry (Linux only).
func (u *Unpacker) OpenParent(name string, create bool) (*os.File, string, error) {
	return nil, "", errNotLinux
}

// SetXattr sets an extended attribute on an entry (Linux only).
func (u *Unpacker) SetXattr(parent *os.File, base, attr, value string) error { return errNotLinux }

// EscapeChroot leaves a chroot (Linux only).
func EscapeChroot() error { return errNotLinux }

// OpenRoot opens a container's root directory (Linux only).
func OpenRoot(root string) (*os.File, error) { return nil, errNotLinux }

// OpenInRoot opens a path inside root, resolved by the kernel (Linux only).
func OpenInRoot(root *os.File, path string, flags int) (*os.File, error) { return nil, errNotLinux }

// ReadFileInRoot reads a regular file inside root (Linux only).
func ReadFileInRoot(root *os.File, path string, limit int64) ([]byte, error) {
	return nil, errNotLinux
}

// PathInRoot says where an open file is inside root (Linux only).
func PathInRoot(root, f *os.File) (string, error) { return "", errNotLinux }

// MkdirAllInRoot makes a directory inside root (Linux only).
func MkdirAllInRoot(root *os.File, path string, perm os.FileMode) (*os.File, error) {
	return nil, errNotLinux
}

// CreateInRoot makes a mount point inside root (Linux only).
func CreateInRoot(root *os.File, path string, dir bool) (*os.File, error) { return nil, errNotLinux }

// FdPath is the /proc name of an open file.
func FdPath(f *os.File) string { return "" }

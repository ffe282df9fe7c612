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

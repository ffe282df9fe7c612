//go:build !linux

package overlay

import (
	"errors"
	"io/fs"
	"os"
)

var errNotLinux = errors.New("overlayfs needs Linux")

// Mount mounts an overlay of layers under upper at target (Linux only).
func Mount(layers []string, upper, work, target string) error { return errNotLinux }

// MountVolatile mounts an overlay whose upper directory is thrown away with it (Linux only).
func MountVolatile(layers []string, upper, work, target string) error { return errNotLinux }

// Unmount detaches the overlay at target (Linux only).
func Unmount(target string) error { return errNotLinux }

// IsWhiteout reports whether info describes a whiteout (never, off Linux).
func IsWhiteout(info fs.FileInfo) bool { return false }

// IsOpaque reports whether a directory is marked opaque (Linux only).
func IsOpaque(path string) (bool, error) { return false, errNotLinux }

// MakeWhiteout creates a whiteout at path (Linux only).
func MakeWhiteout(path string) error { return errNotLinux }

// MakeWhiteoutAt creates a whiteout in an open directory (Linux only).
func MakeWhiteoutAt(dir *os.File, name string) error { return errNotLinux }

// MarkOpaque marks a directory opaque (Linux only).
func MarkOpaque(path string) error { return errNotLinux }

// Diff lists a container's changes from its upper directory (Linux only).
func Diff(layers []string, upper string) ([]Change, error) { return nil, errNotLinux }

// OpaqueXattrHere is the opaque mark this process's overlays read (Linux only).
func OpaqueXattrHere() string { return OpaqueXattr }

// MountFuse mounts an overlay with fuse-overlayfs (Linux only).
func MountFuse(layers []string, upper, work, target string) error { return errNotLinux }

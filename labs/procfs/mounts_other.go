//go:build !linux

package procfs

import "errors"

var errNotLinux = errors.New("/proc, /dev and /sys mounts need Linux")

// Targets are the mount points MountAll manages inside a root, in mount order.
var Targets = []string{"proc", "dev", "sys"}

// Mounted records what MountAll mounted.
type Mounted struct{}

// MountAll mounts /proc, /dev and /sys inside root (Linux only).
func MountAll(root string) (*Mounted, error) { return nil, errNotLinux }

// Unmount removes what MountAll mounted (Linux only).
func (m *Mounted) Unmount() error { return errNotLinux }

// MountProc mounts a procfs at root/proc (Linux only).
func MountProc(root string) error { return errNotLinux }

// MountSys mounts sysfs read-only at root/sys (Linux only).
func MountSys(root string) error { return errNotLinux }

// MountDev mounts a minimal /dev at root/dev (Linux only).
func MountDev(root string) error { return errNotLinux }

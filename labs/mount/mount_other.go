//go:build !linux

package mount

import "errors"

var errNotLinux = errors.New("mounts need Linux")

// Apply performs the mount (Linux only).
func (m Mount) Apply() error { return errNotLinux }

// Unmount detaches the file system mounted on target (Linux only).
func Unmount(target string) error { return errNotLinux }

// Table reads the mount table of the calling process (Linux only).
func Table() ([]Info, error) { return nil, errNotLinux }

// TableOf reads the mount table of the process pid (Linux only).
func TableOf(pid string) ([]Info, error) { return nil, errNotLinux }

// Under lists the mounts at or beneath dir (Linux only).
func Under(dir string) ([]Info, error) { return nil, errNotLinux }

// UnmountAll unmounts everything at or beneath dir (Linux only).
func UnmountAll(dir string) error { return errNotLinux }

// MakePrivate sets the propagation of target and its submounts to private (Linux only).
func MakePrivate(target string) error { return errNotLinux }

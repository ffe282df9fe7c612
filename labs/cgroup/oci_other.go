//go:build !linux

package cgroup

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// NewOCI works out where a container's group goes (Linux only).
func NewOCI(cgroupsPath, id string, r *specs.LinuxResources) (*OCI, error) {
	return nil, errNotLinux
}

// Create makes the group and applies resources (Linux only).
func (g *OCI) Create(r *specs.LinuxResources) error { return errNotLinux }

// Apply writes resources into the group (Linux only).
func (g *OCI) Apply(r *specs.LinuxResources) error { return errNotLinux }

// Add moves a process into the group (Linux only).
func (g *OCI) Add(pid int) error { return errNotLinux }

// Pids lists the group's processes (Linux only).
func (g *OCI) Pids() ([]int, error) { return nil, errNotLinux }

// Freeze stops the group's processes (Linux only).
func (g *OCI) Freeze() error { return errNotLinux }

// Thaw lets a frozen group run again (Linux only).
func (g *OCI) Thaw() error { return errNotLinux }

// Frozen reports whether the group is frozen (Linux only).
func (g *OCI) Frozen() (bool, error) { return false, errNotLinux }

// Signal signals every process of the group (Linux only).
func (g *OCI) Signal(sig unix.Signal) error { return errNotLinux }

// Destroy removes the group (Linux only).
func (g *OCI) Destroy() error { return errNotLinux }

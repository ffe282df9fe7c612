//go:build !linux

package cgroup

import "errors"

var errNotLinux = errors.New("cgroups need Linux")

// Options choose where a Manager creates groups (Linux only).
type Options struct {
	Root, Parent string
	Mode         Mode
}

// Manager creates and cleans up containers' groups (Linux only).
type Manager struct{}

// Cgroup is one container's group (Linux only).
type Cgroup struct{}

// Detect reports how this host mounts its cgroups (Linux only).
func Detect() (Mode, error) { return 0, errNotLinux }

// NewManager returns a manager for opts (Linux only).
func NewManager(opts Options) (*Manager, error) { return nil, errNotLinux }

// Mode is the host's cgroup mode (Linux only).
func (m *Manager) Mode() Mode { return 0 }

// New creates a container's group (Linux only).
func New(name string, limits Limits) (*Cgroup, error) { return nil, errNotLinux }

// RemoveStale removes stale groups (Linux only).
func RemoveStale() ([]string, error) { return nil, errNotLinux }

// New creates a container's group (Linux only).
func (m *Manager) New(name string, limits Limits) (*Cgroup, error) { return nil, errNotLinux }

// RemoveStale removes stale groups (Linux only).
func (m *Manager) RemoveStale() ([]string, error) { return nil, errNotLinux }

// Name is the container's name (Linux only).
func (c *Cgroup) Name() string { return "" }

// Path is the group's path inside each hierarchy (Linux only).
func (c *Cgroup) Path() string { return "" }

// Dirs are the group's directories on the host (Linux only).
func (c *Cgroup) Dirs() []string { return nil }

// Settings lists the writes New and Add made (Linux only).
func (c *Cgroup) Settings() []Setting { return nil }

// Add moves a process into the group (Linux only).
func (c *Cgroup) Add(pid int) error { return errNotLinux }

// Stats reads what the group has used (Linux only).
func (c *Cgroup) Stats() (Stats, error) { return Stats{}, errNotLinux }

// Remove kills the group's processes and removes it (Linux only).
func (c *Cgroup) Remove() error { return errNotLinux }

// Delegated finds the cgroup delegated to this process's user (Linux only).
func Delegated() (string, error) { return "", errNotLinux }

//go:build !linux

package engine

import (
	"errors"
	"io"
	"net/netip"
	"os"
)

var errNotLinux = errors.New("containers need Linux")

// Attach connects a starting container to the caller's terminal or pipes (Linux only).
type Attach struct {
	Stdin, Stdout, Stderr *os.File
}

// Start starts a container (Linux only).
func (e *Engine) Start(ref string, attach *Attach) (int, error) { return 125, errNotLinux }

// IsMonitor reports whether this process is a container monitor (never, off Linux).
func IsMonitor() bool { return false }

// RunMonitor is the container monitor (Linux only).
func RunMonitor() int { return 125 }

func isMountPoint(dir string) (bool, error) { return false, errNotLinux }

// AttachTo connects to a running container's stdio (Linux only).
func (e *Engine) AttachTo(ref string, opts AttachOptions) (int, bool, error) {
	return 125, false, errNotLinux
}

// TerminalSize returns a terminal's rows and columns (Linux only).
func TerminalSize(f *os.File) (uint16, uint16) { return 0, 0 }

// EnterUserNamespace joins an ordinary user's engine namespaces (Linux only; elsewhere
// there is nothing to join).
func EnterUserNamespace(notes io.Writer) error { return nil }

func rootlessHere() (*Rootless, error) { return nil, nil }

func (e *Engine) checkRootless(c *Container) error { return nil }

func (r *Rootless) stopPause() []string { return nil }

func (e *Engine) storageDriver() (driver, reason string, err error) { return "overlay", "", nil }

// StorageNote says which storage driver a rootless engine falls back to (Linux only).
func (e *Engine) StorageNote() string { return "" }

// MountLayers mounts layers with the engine's storage driver (Linux only).
func (e *Engine) MountLayers(layers []string, upper, work, target string) error {
	return errNotLinux
}

func mountLayers(driver string, layers []string, upper, work, target string, scratch bool) error {
	return errNotLinux
}

func (e *Engine) cgroupPathOf(id string) string { return "/" + CgroupParent + "/" + id }

func (e *Engine) detach(c *Container) {}

func hostRoutePrefixes() []netip.Prefix { return nil }

// ConnectNetwork joins a container to a network (Linux only).
func (e *Engine) ConnectNetwork(netRef, ref string, aliases []string) error { return errNotLinux }

// DisconnectNetwork takes a container off a network (Linux only).
func (e *Engine) DisconnectNetwork(netRef, ref string) error { return errNotLinux }

//go:build !linux

package engine

import (
	"errors"
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

func (e *Engine) detach(c *Container) {}

func hostRoutePrefixes() []netip.Prefix { return nil }

// ConnectNetwork joins a container to a network (Linux only).
func (e *Engine) ConnectNetwork(netRef, ref string, aliases []string) error { return errNotLinux }

// DisconnectNetwork takes a container off a network (Linux only).
func (e *Engine) DisconnectNetwork(netRef, ref string) error { return errNotLinux }

//go:build !linux

package namespace

import (
	"errors"
	"io"
	"os/exec"
)

var errNotLinux = errors.New("namespaces need Linux")

// Namespaces are the namespaces every container gets from the start (Linux only).
const Namespaces = 0

// IDMap maps a range of user or group IDs inside a user namespace to a range outside it.
type IDMap struct {
	Inside, Outside, Size int
}

// DefaultIDMap maps IDs 0-65535 inside to 100000-165535 outside.
var DefaultIDMap = IDMap{Inside: 0, Outside: 100000, Size: 65536}

// Options describe the child that Start creates.
type Options struct {
	Namespaces     uintptr
	UserNS         *IDMap
	Args           []string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Child is the parent's handle on a child started by Start.
type Child struct{ PID int }

// Start re-executes the running program in new namespaces (Linux only).
func Start(opts Options) (*Child, error) { return nil, errNotLinux }

// Release sends the container's description to the child (Linux only).
func (c *Child) Release(config any) error { return errNotLinux }

// Wait waits for the child (Linux only).
func (c *Child) Wait() (int, error) { return 0, errNotLinux }

// Kill ends the child (Linux only).
func (c *Child) Kill() {}

// GiveTo gives a user namespace's root its directories (Linux only).
func GiveTo(uid int, layers []string, own ...string) error { return errNotLinux }

// ReachableBy checks that uid can reach dir (Linux only).
func ReachableBy(dir string, uid, gid int) error { return errNotLinux }

// FlagNames spells CLONE_NEW* flags out by name (Linux only).
func FlagNames(flags uintptr) string { return "" }

// IsChild reports whether this process is a re-executed child (never, off Linux).
func IsChild() bool { return false }

// Receive waits for the parent's description (Linux only).
func Receive(config any) error { return errNotLinux }

// EnterRoot makes root a mount point and enters it (Linux only).
func EnterRoot(root string) error { return errNotLinux }

// PivotRoot swaps the roots (Linux only).
func PivotRoot() error { return errNotLinux }

// SetHostname sets the namespace's hostname (Linux only).
func SetHostname(name string) error { return errNotLinux }

// RunInit runs cmd as PID 1's only child (Linux only).
func RunInit(cmd *exec.Cmd) (int, error) { return 0, errNotLinux }

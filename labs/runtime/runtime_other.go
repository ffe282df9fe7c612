//go:build !linux

package runtime

import (
	"errors"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

var errNotLinux = errors.New("containers need Linux")

// ErrUnsupported marks a configuration field this runtime does not implement.
var ErrUnsupported = errors.New("not supported by this runtime")

// ErrNotExist marks a command about a container that does not exist.
var ErrNotExist = errors.New("does not exist")

// IsInit reports whether this process is a container's init (never, off Linux).
func IsInit() bool { return false }

// Init runs a container's init (Linux only).
func Init() (int, error) { return 1, errNotLinux }

// LoadSpec reads BUNDLE/config.json (Linux only).
func LoadSpec(bundle string) (*specs.Spec, error) { return nil, errNotLinux }

// Validate checks a container's configuration (Linux only).
func Validate(spec *specs.Spec) error { return errNotLinux }

// ValidateProcess checks a process configuration (Linux only).
func ValidateProcess(p *specs.Process) error { return errNotLinux }

// ParseSignal reads a signal name or number (Linux only).
func ParseSignal(s string) (syscall.Signal, error) { return 0, errNotLinux }

// Features describes what the runtime implements (Linux only).
func Features() *features.Features { return &features.Features{} }

// ProcessTable renders `ps` output (Linux only).
func ProcessTable(pids []int) string { return "" }

// Create creates a container (Linux only).
func (r *Runtime) Create(id string, opts CreateOptions) error { return errNotLinux }

// Start starts a created container (Linux only).
func (r *Runtime) Start(id string) error { return errNotLinux }

// Run creates, starts and waits for a container (Linux only).
func (r *Runtime) Run(id string, opts CreateOptions) (int, error) { return 1, errNotLinux }

// State reports a container's state (Linux only).
func (r *Runtime) State(id string) (*State, error) { return nil, errNotLinux }

// List reports every container's state (Linux only).
func (r *Runtime) List() ([]State, error) { return nil, errNotLinux }

// Kill signals a container (Linux only).
func (r *Runtime) Kill(id string, sig syscall.Signal, all bool) error { return errNotLinux }

// Delete removes a container (Linux only).
func (r *Runtime) Delete(id string, force bool) error { return errNotLinux }

// Exec runs a process in a container (Linux only).
func (r *Runtime) Exec(id string, p *specs.Process, opts ExecOptions) (int, error) {
	return 1, errNotLinux
}

// Ps lists a container's processes (Linux only).
func (r *Runtime) Ps(id string) ([]int, error) { return nil, errNotLinux }

// Pause freezes a container (Linux only).
func (r *Runtime) Pause(id string) error { return errNotLinux }

// Resume thaws a container (Linux only).
func (r *Runtime) Resume(id string) error { return errNotLinux }

// Update changes a container's resources (Linux only).
func (r *Runtime) Update(id string, res *specs.LinuxResources) error { return errNotLinux }

// Config returns a container's configuration (Linux only).
func (r *Runtime) Config(id string) (*specs.Spec, error) { return nil, errNotLinux }

// AllCapabilities lists every capability a privileged container can get (Linux only).
func AllCapabilities() []string { return nil }

// Stats reads a container's resource usage (Linux only).
func (r *Runtime) Stats(id string) (*Stats, error) { return nil, errNotLinux }

// Events reports a container's usage and OOM kills (Linux only).
func (r *Runtime) Events(id string, interval time.Duration, emit func(Event) error) error {
	return errNotLinux
}

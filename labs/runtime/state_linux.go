package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"containerlabs/labs/cgroup"
)

// ErrNotExist marks a command about a container that has no state directory. The message
// says "does not exist", which containerd's shim looks for.
var ErrNotExist = errors.New("does not exist")

// Files in a container's state directory.
const (
	stateFile = "state.json"
	// configFile is the config the container was created with (resources as updated
	// since). It is kept apart from state.json because only exec, update and Config need
	// it: with Docker's seccomp profile it is about 11 KB of JSON, and every command that
	// decoded it with the state (state, start, kill, delete) paid about a millisecond.
	configFile = "config.json"
	// fifoFile is the exec fifo: the init blocks reading it until `start` writes a byte
	// into it. While it exists, the container is "created".
	fifoFile = "exec.fifo"
)

// containerState is what state.json holds: everything a later command needs, and nothing it
// could derive. The status is not stored: it is worked out from the process and the fifo each
// time (see status), so that a container whose init died is never reported as running.
type containerState struct {
	ID      string    `json:"id"`
	Bundle  string    `json:"bundle"`
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	// Pid is the init's PID on the host; StartTime is field 22 of /proc/PID/stat, the
	// process's start time in clock ticks after boot. A PID is reused once its process is
	// gone; the pair is not, so it identifies the init for sure.
	Pid       int         `json:"pid"`
	StartTime uint64      `json:"start_time"`
	Cgroup    *cgroup.OCI `json:"cgroup"`
	NoPivot   bool        `json:"no_pivot,omitempty"`
	// Annotations and Hooks are the parts of the config that commands other than exec and
	// update use: state reports the annotations, start runs the poststart hooks and
	// delete the poststop ones (the other hooks run during create). Hooks holds only
	// those two.
	Annotations map[string]string `json:"annotations,omitempty"`
	Hooks       *specs.Hooks      `json:"hooks,omitempty"`
}

// container is a loaded container: its state and where it lives.
type container struct {
	*containerState
	dir string
	// lock is the flock on the state directory held by the command working on it.
	lock *os.File
	// spec is the whole config: create's, or config.json's once config has read it.
	spec *specs.Spec
}

// config returns the config the container was created with (resources as updated since),
// reading config.json on first use.
func (c *container) config() (*specs.Spec, error) {
	if c.spec != nil {
		return c.spec, nil
	}
	data, err := os.ReadFile(filepath.Join(c.dir, configFile))
	if err != nil {
		return nil, fmt.Errorf("read the config of %s: %w", c.ID, err)
	}
	var spec specs.Spec
	if err := unmarshalSparse(data, &spec); err != nil {
		return nil, fmt.Errorf("read the config of %s: %w", c.ID, err)
	}
	c.spec = &spec
	return c.spec, nil
}

// keepConfig records the config beside the state: data are the bundle's config.json as
// create read it (create changes nothing in the config), or nil to encode c.spec.
func (c *container) keepConfig(data []byte) error {
	if data == nil {
		var err error
		if data, err = json.Marshal(c.spec); err != nil {
			return fmt.Errorf("save the config: %w", err)
		}
	}
	return writeAtomically(c.dir, configFile, data)
}

func (r *Runtime) dir(id string) string { return filepath.Join(r.root(), id) }

// open loads a container and locks its state directory, so that two commands on the same
// container (a kill racing a delete) run one after the other. Release with unlock.
func (r *Runtime) open(id string) (*container, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	c := &container{dir: r.dir(id)}
	lock, err := lockDir(c.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("container %q %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	c.lock = lock
	if c.containerState, err = readState(c.dir); err != nil {
		c.unlock()
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("container %q %w (its state directory %s has no state.json: a create was interrupted; delete --force removes it)", id, ErrNotExist, c.dir)
		}
		return nil, err
	}
	return c, nil
}

func (c *container) unlock() {
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
}

// lockDir takes an exclusive flock on a directory. The kernel drops it when its holder dies.
//
// Equivalent to: `flock DIR`.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return f, nil
}

func readState(dir string) (*containerState, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var st containerState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("read the state of %s: %w", dir, err)
	}
	return &st, nil
}

// save writes state.json atomically: to a temporary file that is then renamed over the old
// one, so a reader sees the old state or the new one, never half of either. There is no
// fsync: the state lives on tmpfs, and a crash that loses it also ended the container.
func (c *container) save() error {
	data, err := json.Marshal(c.containerState)
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return writeAtomically(c.dir, stateFile, data)
}

// writeAtomically writes dir/name through a temporary file renamed over it.
func writeAtomically(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	return nil
}

// procStat reads the run state (field 3) and start time (field 22) of /proc/PID/stat.
func procStat(pid int) (state byte, startTime uint64, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces and parentheses of
	// its own: the fields after it start after the last ')'.
	text := string(data)
	rest := text[strings.LastIndexByte(text, ')')+1:]
	fields := strings.Fields(rest)
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: too few fields", pid)
	}
	startTime, err = strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return fields[0][0], startTime, nil
}

// initAlive reports whether the container's init is still the process it was: the PID
// exists, has the recorded start time, and is not a zombie waiting to be reaped.
func (st *containerState) initAlive() bool {
	if st.Pid <= 0 {
		return false
	}
	state, start, err := procStat(st.Pid)
	return err == nil && start == st.StartTime && state != 'Z' && state != 'X'
}

// status works the container's status out from the kernel: stopped if the init is gone,
// created while the exec fifo exists (the init waits on it), paused if its cgroup is frozen,
// else running.
func (c *container) status() specs.ContainerState {
	if !c.initAlive() {
		return specs.StateStopped
	}
	if _, err := os.Lstat(filepath.Join(c.dir, fifoFile)); err == nil {
		return specs.StateCreated
	}
	if c.Cgroup != nil {
		if frozen, err := c.Cgroup.Frozen(); err == nil && frozen {
			return StatePaused
		}
	}
	return specs.StateRunning
}

// ociState is the container's state as hooks and `state` see it.
func (c *container) ociState(status specs.ContainerState) State {
	pid := c.Pid
	if status == specs.StateStopped {
		pid = 0
	}
	return State{
		State: specs.State{Version: specs.Version, ID: c.ID, Status: status, Pid: pid,
			Bundle: c.Bundle, Annotations: c.Annotations},
		Rootfs:  c.Rootfs,
		Created: c.Created,
	}
}

// pidfd opens a descriptor for the container's init that stays bound to that very process:
// signals sent through it can never reach a process that reused the PID. The start time is
// checked after opening, when the PID can no longer change hands.
func (c *container) pidfd() (int, error) {
	fd, err := unix.PidfdOpen(c.Pid, 0)
	if err != nil {
		return -1, fmt.Errorf("container %q is not running: %w", c.ID, err)
	}
	if !c.initAlive() {
		unix.Close(fd)
		return -1, fmt.Errorf("container %q is not running: its init has exited", c.ID)
	}
	return fd, nil
}

// waitExit waits until the process behind pidfd has exited (a pidfd becomes readable then,
// also for a process that is not our child).
func waitExit(pidfd int, timeout time.Duration) error {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	deadline := time.Now().Add(timeout)
	for {
		n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for the init to exit: %w", err)
		}
		if n > 0 {
			return nil
		}
		return fmt.Errorf("the init did not exit within %v", timeout)
	}
}

package engine

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"containerlabs/labs/state"
)

// ErrNotFound means no container matches a name or ID, or that the container was removed
// while the caller was working on it.
var ErrNotFound = errors.New("no such container")

// ErrAlreadyRunning means start found the container running already: for `start`, nothing
// is left to do.
var ErrAlreadyRunning = errors.New("container is already running")

// Statuses a container can be in, as `ps` shows them.
const (
	StatusCreated = "created" // made, never started (or made again by start)
	StatusRunning = "running"
	// StatusRestarting is a container between an exit and the start its restart policy
	// asks for: its monitor waits out the back-off (restart.go).
	StatusRestarting = "restarting"
	StatusExited     = "exited"
)

// Container is everything the engine knows about one container: how it was made (fixed at
// create) and what became of it (State). It is stored as container.json in the container's
// directory.
type Container struct {
	ID      string    `json:"Id"`
	Name    string    `json:"Name"`
	Created time.Time `json:"Created"`
	// Image is the image reference the container was made from, ImageID its config digest.
	Image   string `json:"Image"`
	ImageID string `json:"ImageID"`
	// Layers are the image's unpacked layers, lowest first: the overlay's lowerdirs.
	Layers []string `json:"Layers"`
	// Driver mounts the container's root from its layers: overlay, or fuse-overlayfs for
	// a rootless engine whose kernel refuses overlayfs to a user namespace.
	Driver string `json:"Driver"`
	Config Config `json:"Config"`
	// Mounts are the container's volumes and bind mounts, resolved to host paths.
	Mounts []Mount `json:"Mounts"`
	// Network is the container's address and published ports while it runs.
	Network NetworkState `json:"NetworkSettings"`
	State   State        `json:"State"`
	// RestartCount is how often the restart policy has started the container again since
	// it was last started by hand; HasBeenManuallyStopped that stop or kill ended it, which
	// the policy then respects (restart.go).
	RestartCount           int  `json:"RestartCount"`
	HasBeenManuallyStopped bool `json:"HasBeenManuallyStopped"`
}

// State is what happened to a container; the monitor writes it, and every reader checks it
// against the kernel (Reconcile) before believing it.
type State struct {
	Status string `json:"Status"`
	// Pid is the container's init on the host; PidStart its start time (field 22 of
	// /proc/PID/stat), so that a reused PID is never mistaken for the container.
	Pid      int    `json:"Pid"`
	PidStart uint64 `json:"PidStart"`
	// MonitorPid and MonitorStart identify the monitor process the same way.
	MonitorPid   int    `json:"MonitorPid"`
	MonitorStart uint64 `json:"MonitorStart"`
	ExitCode     int    `json:"ExitCode"`
	OOMKilled    bool   `json:"OOMKilled"`
	// Error says what went wrong when the container could not be started, or why its
	// exit status is not known.
	Error      string    `json:"Error"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
	// Health is the health check's verdict and its last results (health.go).
	Health *Health `json:"Health,omitempty"`
	// RestartDelay is the back-off the restart policy waited before the last restart, which
	// the next one doubles (restart.go).
	RestartDelay time.Duration `json:"RestartDelay,omitempty"`
}

// Running reports whether the record says the container runs, or is between an exit and
// its restart (its monitor is alive either way), as Docker's State.Running does.
func (s State) Running() bool { return s.Status == StatusRunning || s.Status == StatusRestarting }

// MarshalJSON adds Running and Restarting, from Status, to the record, so that inspect
// shows them as Docker's does ({{.State.Running}}). Reading a record ignores them.
func (s State) MarshalJSON() ([]byte, error) {
	type fields State // without this method
	return json.Marshal(struct {
		fields
		Running    bool `json:"Running"`
		Restarting bool `json:"Restarting"`
	}{fields(s), s.Running(), s.Status == StatusRestarting})
}

// Store is the containers directory of an engine's state root.
type Store struct {
	root string
}

// OpenStore opens the containers (and names) directories under the engine's state root.
func OpenStore(root string) (*Store, error) {
	for _, dir := range []string{"containers", "names"} {
		if err := state.ClosedDir(filepath.Join(root, dir)); err != nil {
			return nil, fmt.Errorf("open the container store in %s: %w", root, err)
		}
	}
	return &Store{root: root}, nil
}

// Root is the engine's state root.
func (s *Store) Root() string { return s.root }

// Dir is the directory of container id: its record, bundle, writable layer and logs.
func (s *Store) Dir(id string) string { return filepath.Join(s.root, "containers", id) }

// NewID returns a random 64-digit hexadecimal container ID, as Docker's.
func NewID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Create makes the directory of a new container and claims its name. Names are claimed by
// creating a file named after them with O_EXCL, which the kernel makes atomic: of two
// engines started at once with the same --name, exactly one wins.
func (s *Store) Create(c *Container) error {
	if err := state.ValidName(c.Name); err != nil {
		return err
	}
	nameFile := filepath.Join(s.root, "names", c.Name)
	f, err := os.OpenFile(nameFile, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrExist) {
		owner, _ := os.ReadFile(nameFile)
		return fmt.Errorf("the container name %q is already in use by container %s: remove it or choose another name", c.Name, short(string(owner)))
	}
	if err != nil {
		return fmt.Errorf("claim the name %s: %w", c.Name, err)
	}
	_, err = f.WriteString(c.ID)
	f.Close()
	if err == nil {
		err = os.Mkdir(s.Dir(c.ID), 0o700)
	}
	if err == nil {
		err = s.Save(c)
	}
	if err != nil {
		os.Remove(nameFile)
		os.RemoveAll(s.Dir(c.ID))
		return fmt.Errorf("create container %s: %w", c.Name, err)
	}
	return nil
}

// Save writes the container's record atomically: to a temporary file, then renamed, so a
// reader never sees half of it.
func (s *Store) Save(c *Container) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(s.Dir(c.ID), "container.json")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("save container %s: %w", c.Name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save container %s: %w", c.Name, err)
	}
	return nil
}

// load reads the record of container id as stored, without reconciling it.
func (s *Store) load(id string) (*Container, error) {
	data, err := os.ReadFile(filepath.Join(s.Dir(id), "container.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, short(id))
	}
	if err != nil {
		return nil, err
	}
	var c Container
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("read container %s: %w", short(id), err)
	}
	return &c, nil
}

// Resolve finds the container a user means: by full ID, by name, or by a unique prefix of
// its ID, as Docker accepts them.
func (s *Store) Resolve(ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("%w: empty name", ErrNotFound)
	}
	if state.ValidName(ref) == nil {
		if id, err := os.ReadFile(filepath.Join(s.root, "names", ref)); err == nil {
			return string(id), nil
		}
	}
	ids, err := s.IDs()
	if err != nil {
		return "", err
	}
	var matches []string
	for _, id := range ids {
		if strings.HasPrefix(id, ref) {
			matches = append(matches, id)
		}
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("%w: %s", ErrNotFound, ref)
	case 1:
		return matches[0], nil
	}
	return "", fmt.Errorf("%q matches %d containers: give more of the ID", ref, len(matches))
}

// tombPrefix names a container directory that Remove is deleting: IDs never lists it.
const tombPrefix = ".removed-"

// IDs lists the IDs of all containers.
func (s *Store) IDs() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "containers"))
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && len(e.Name()) == 64 {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// Get returns the record of the container ref names, reconciled with the kernel.
func (s *Store) Get(ref string) (*Container, error) {
	id, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	c, err := s.load(id)
	if err != nil {
		return nil, err
	}
	return c, s.Reconcile(c)
}

// List returns every container, reconciled, newest first.
func (s *Store) List() ([]*Container, error) {
	ids, err := s.IDs()
	if err != nil {
		return nil, err
	}
	var all []*Container
	for _, id := range ids {
		c, err := s.load(id)
		if err != nil {
			continue // being created or removed right now
		}
		if err := s.Reconcile(c); errors.Is(err, ErrNotFound) {
			continue // removed while we looked
		} else if err != nil {
			return nil, err
		}
		all = append(all, c)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Created.After(all[j].Created) })
	return all, nil
}

// Reconcile checks a running container's record against the kernel. If the container's
// init is gone and so is its monitor (killed with SIGKILL, or the host rebooted), nobody
// recorded the exit: the record is marked exited with status 255 and the reason, and saved.
// A record is never believed just because it was written.
func (s *Store) Reconcile(c *Container) error {
	if !c.State.Running() {
		return nil
	}
	initAlive := Alive(c.State.Pid, c.State.PidStart)
	monitorAlive := Alive(c.State.MonitorPid, c.State.MonitorStart)
	if initAlive || monitorAlive {
		return nil
	}
	unlock, err := s.Lock(c.ID)
	if err != nil {
		return err
	}
	defer unlock()
	fresh, err := s.load(c.ID)
	if err != nil || !fresh.State.Running() {
		if fresh != nil {
			*c = *fresh
		}
		return nil
	}
	c.State.Status = StatusExited
	c.State.ExitCode = 255
	c.State.Error = "the container's monitor was killed; its exit status is unknown"
	c.State.FinishedAt = time.Now()
	return s.Save(c)
}

// Lock takes the container's lock, which serialises the commands that change it (start,
// stop, rm, the monitor's final record). The returned function releases it.
//
// Any of them may find the container gone: the lock file is in the container's directory,
// which rm (or the monitor of a --rm container) deletes, and a process that waited for
// the lock may get it on a file that is no longer there. Both cases are ErrNotFound, so
// each caller decides what a container that is already gone means to it (for rm -f,
// success, as for runc's delete --force).
func (s *Store) Lock(id string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.Dir(id), "lock"), os.O_RDWR|syscall.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) {
		// Made on first use, in a directory that must exist: a removed container's
		// directory is never made again by taking its lock.
		if _, statErr := os.Stat(filepath.Join(s.Dir(id), "container.json")); statErr == nil {
			f, err = os.OpenFile(filepath.Join(s.Dir(id), "lock"), os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o600)
		}
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s (removed)", ErrNotFound, short(id))
	}
	if err != nil {
		return nil, fmt.Errorf("lock container %s: %w", short(id), err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock container %s: %w", short(id), err)
	}
	// Locked, but perhaps only after the container's remover let go of a file it had
	// already unlinked: a lock on a removed file guards nothing.
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil || st.Nlink == 0 {
		f.Close()
		return nil, fmt.Errorf("%w: %s (removed)", ErrNotFound, short(id))
	}
	return func() { f.Close() }, nil
}

// Remove deletes a container's record, directory and name. The caller has stopped it and
// undone its mounts.
//
// The directory is first renamed out of the way, in one step, and only then deleted. A
// command racing this one (rm -f of the same container, a --rm monitor) may be about to make
// the lock file in it (see Lock); deleted in place, file by file, the directory could get
// that new file after it was emptied, and the last rmdir would fail with "directory not
// empty". Renamed, its old path is gone for every other command at once. A remover that
// died half-way leaves its tombstone behind, which the next removal clears.
func (s *Store) Remove(c *Container) error {
	if err := s.bury(c); err != nil {
		return err
	}
	return s.clearTombs()
}

// bury is the part of Remove that the container's other commands see: its directory
// renamed to a tombstone, and its name freed. The container is gone from then on; a --rm
// monitor answers its command line at that point and deletes the files after (clearTombs).
func (s *Store) bury(c *Container) error {
	tomb := filepath.Join(s.root, "containers", tombPrefix+c.ID)
	if err := os.Rename(s.Dir(c.ID), tomb); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove container %s: %w", c.Name, err)
	}
	nameFile := filepath.Join(s.root, "names", c.Name)
	if owner, err := os.ReadFile(nameFile); err == nil && string(owner) == c.ID {
		os.Remove(nameFile)
	}
	return nil
}

// clearTombs deletes every tombstone's files: this removal's, and any an earlier remover
// left when it died.
func (s *Store) clearTombs() error {
	tombs, err := filepath.Glob(filepath.Join(s.root, "containers", tombPrefix+"*"))
	if err != nil {
		return err
	}
	var first error
	for _, dir := range tombs {
		// Another remover may be clearing the same tombstone.
		if err := os.RemoveAll(dir); err != nil && !errors.Is(err, os.ErrNotExist) && first == nil {
			first = fmt.Errorf("remove %s: %w", dir, err)
		}
	}
	return first
}

// Alive reports whether process pid exists and started at start (field 22 of its stat): a
// PID alone may have been reused by another process since it was recorded.
func Alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	got, err := StartTime(pid)
	return err == nil && got == start
}

// StartTime reads when process pid started, in clock ticks since boot (field 22 of
// /proc/PID/stat), and fails for a process that does not exist or is a zombie.
func StartTime(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may contain spaces: count from after it.
	end := strings.LastIndexByte(string(data), ')')
	if end < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(data[end+1:]))
	if len(fields) < 20 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	if fields[0] == "Z" || fields[0] == "X" {
		return 0, fmt.Errorf("process %d is a zombie", pid)
	}
	var start uint64
	_, err = fmt.Sscan(fields[19], &start)
	return start, err
}

// short abbreviates a container ID to the 12 digits ps shows.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// ShortID abbreviates a container ID to the 12 digits ps shows.
func ShortID(id string) string { return short(id) }

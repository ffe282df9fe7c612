// Package state keeps what outlives a container run: a directory per container under the
// state root, with a record of how it was made and its writable layer (lab 05's upper and
// work directories), so that `diff`, `commit` and `rm` can find them after the container
// has exited.
//
// While a container runs, its directory is locked (flock), which is how `rm` tells a
// running container from a stopped one without trusting a PID that may have been reused,
// and why a container killed with SIGKILL counts as stopped at once: the kernel drops the
// lock with the last descriptor.
package state

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"containerlabs/labs/overlay"
)

// DefaultRoot is where the labs keep their state unless told otherwise.
const DefaultRoot = "/var/lib/containerlabs"

// EnvRoot names the environment variable that moves the state root, so that tests and
// workshops can keep it in a scratch directory.
const EnvRoot = "CONTAINERLABS_ROOT"

// ErrNotFound means there is no container of that name.
var ErrNotFound = errors.New("no such container")

// ErrRunning means the container is running, so its state may not be removed.
var ErrRunning = errors.New("container is running")

// RootFromEnv returns $CONTAINERLABS_ROOT, or DefaultRoot when it is not set.
func RootFromEnv() string {
	if root := os.Getenv(EnvRoot); root != "" {
		return root
	}
	return DefaultRoot
}

// ValidName checks the name of a container or a volume as Docker does: 1 to 128 letters,
// digits, '_', '.' and '-', not starting with a punctuation mark, so a name can never be
// "..", contain "/", or escape the state root. The engine uses it too.
func ValidName(name string) error {
	if len(name) > 128 || !SafeName(name) {
		return fmt.Errorf("invalid name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit", name)
	}
	return nil
}

// SafeName reports whether name is made of Docker's characters for a container name:
// letters, digits, '_', '.' and '-', the first a letter or a digit. Such a name needs no
// quoting in a path, an iptables comment or /etc/hosts. It is Docker's regular expression
// [a-zA-Z0-9][a-zA-Z0-9_.-]* written out: compiling that expression (with the length limit,
// a {0,127}, about 2 ms) would cost every start of the CLI.
func SafeName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return name != ""
}

// NewName returns a random name, for a container the user did not name.
func NewName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Store is the containers directory under a state root.
type Store struct {
	dir string
}

// Open opens (and makes, if needed) the containers directory under root.
func Open(root string) (*Store, error) {
	dir := filepath.Join(root, "containers")
	// Passage directories (see PassageDir): a container in a user namespace runs as an
	// unprivileged host uid, and must reach its own writable layer; nobody else may.
	for _, d := range []string{root, dir} {
		if err := PassageDir(d); err != nil {
			return nil, fmt.Errorf("open state in %s: %w", root, err)
		}
	}
	return &Store{dir: dir}, nil
}

// Container is one container's directory.
type Container struct {
	Name, Dir string
	lock      *os.File
}

// Upper is the container's writable layer: every file it changed.
func (c *Container) Upper() string { return filepath.Join(c.Dir, "upper") }

// Work is overlayfs's scratch directory; it must be on the same file system as Upper.
func (c *Container) Work() string { return filepath.Join(c.Dir, "work") }

// Merged is where the container's root is mounted while it runs.
func (c *Container) Merged() string { return filepath.Join(c.Dir, "merged") }

// Create makes the directory of a new container, writes its record (any JSON value), and
// locks it as running until Stopped is called or the process exits. A name in use is an
// error: remove the old container first.
func (s *Store) Create(name string, record any) (*Container, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	c := &Container{Name: name, Dir: filepath.Join(s.dir, name)}
	if err := os.Mkdir(c.Dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("a container named %q exists already: remove it first", name)
		}
		return nil, fmt.Errorf("create container %s: %w", name, err)
	}
	// A container that is made but cannot be started leaves nothing behind.
	fail := func(err error) (*Container, error) {
		c.Stopped()
		os.RemoveAll(c.Dir)
		return nil, fmt.Errorf("create container %s: %w", name, err)
	}
	lock, err := lockFile(c.Dir, syscall.LOCK_EX|syscall.LOCK_NB)
	if err != nil {
		return fail(err)
	}
	c.lock = lock
	if err := PassageDir(c.Dir); err != nil {
		return fail(err)
	}
	for _, dir := range []string{c.Upper(), c.Work(), c.Merged()} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fail(err)
		}
	}
	data, err := json.MarshalIndent(record, "", "  ")
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "container.json"), data, 0o600); err != nil {
		return fail(err)
	}
	return c, nil
}

// Stopped releases the running lock.
func (c *Container) Stopped() {
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
}

// Load finds the container name and decodes its record into record.
func (s *Store) Load(name string, record any) (*Container, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	c := &Container{Name: name, Dir: filepath.Join(s.dir, name)}
	data, err := os.ReadFile(filepath.Join(c.Dir, "container.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("load container %s: %w", name, err)
	}
	if err := json.Unmarshal(data, record); err != nil {
		return nil, fmt.Errorf("load container %s: %w", name, err)
	}
	return c, nil
}

// Running reports whether the container's run still holds its lock.
func (c *Container) Running() (bool, error) {
	lock, err := lockFile(c.Dir, syscall.LOCK_SH|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	lock.Close()
	return false, nil
}

// Changes lists what the container name changed, compared with the read-only layers its
// record names in a Layers field (lowest first, as labs 05 to 07 record them): the
// additions, changes and deletions in its writable layer, as overlay.Diff finds them.
//
// Equivalent to: `docker diff NAME`.
func (s *Store) Changes(name string) ([]overlay.Change, error) {
	var r struct{ Layers []string }
	c, err := s.Load(name, &r)
	if err != nil {
		return nil, err
	}
	return overlay.Diff(r.Layers, c.Upper())
}

// Remove deletes a stopped container's directory, its writable layer included.
func (s *Store) Remove(name string) error {
	var record json.RawMessage
	c, err := s.Load(name, &record)
	if err != nil {
		return err
	}
	running, err := c.Running()
	if err != nil {
		return fmt.Errorf("remove container %s: %w", name, err)
	}
	if running {
		return fmt.Errorf("remove container %s: %w; stop it first", name, ErrRunning)
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		return fmt.Errorf("remove container %s: %w", name, err)
	}
	return nil
}

// List returns the names of all containers, sorted.
func (s *Store) List() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && ValidName(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

func lockFile(dir string, how int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

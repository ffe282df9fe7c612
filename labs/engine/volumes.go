package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"containerlabs/labs/state"
)

// ErrNoVolume means there is no volume of that name.
var ErrNoVolume = errors.New("no such volume")

// Volume is a directory that outlives containers: the engine bind-mounts it into each
// container that names it, so what one container writes there, the next one reads.
type Volume struct {
	Name       string    `json:"Name"`
	Mountpoint string    `json:"Mountpoint"`
	CreatedAt  time.Time `json:"CreatedAt"`
	// Anonymous volumes are made by `-v /path` for one container; rm -v removes them with it.
	Anonymous bool `json:"Anonymous"`
}

// Volumes is the volumes directory of an engine's state root: volumes/NAME/_data holds
// the files, volumes/NAME/volume.json the record.
type Volumes struct {
	dir string
}

// OpenVolumes opens the volumes directory under root.
func OpenVolumes(root string) (*Volumes, error) {
	dir := filepath.Join(root, "volumes")
	if err := state.ClosedDir(dir); err != nil {
		return nil, fmt.Errorf("open volumes: %w", err)
	}
	return &Volumes{dir: dir}, nil
}

// Create makes the volume name, or returns it if it exists, as `docker volume create` does.
func (v *Volumes) Create(name string, anonymous bool) (*Volume, error) {
	if err := state.ValidName(name); err != nil {
		return nil, fmt.Errorf("volume: %w", err)
	}
	vol := &Volume{Name: name, Mountpoint: filepath.Join(v.dir, name, "_data"), CreatedAt: time.Now().UTC(), Anonymous: anonymous}
	// _data keeps the mode a container's directory has (0755); the volume's own directory
	// above it is closed, as the store's are.
	if err := os.Mkdir(filepath.Join(v.dir, name), 0o700); errors.Is(err, os.ErrExist) {
		return v.Get(name)
	} else if err != nil {
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := os.Mkdir(vol.Mountpoint, 0o755); err != nil {
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	data, _ := json.MarshalIndent(vol, "", "  ")
	if err := os.WriteFile(filepath.Join(v.dir, name, "volume.json"), data, 0o600); err != nil {
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	return vol, nil
}

// Get returns the volume name.
func (v *Volumes) Get(name string) (*Volume, error) {
	if state.ValidName(name) != nil {
		return nil, fmt.Errorf("%w: %s", ErrNoVolume, name)
	}
	data, err := os.ReadFile(filepath.Join(v.dir, name, "volume.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoVolume, name)
	}
	if err != nil {
		return nil, err
	}
	var vol Volume
	if err := json.Unmarshal(data, &vol); err != nil {
		return nil, fmt.Errorf("read volume %s: %w", name, err)
	}
	return &vol, nil
}

// List returns every volume, sorted by name.
func (v *Volumes) List() ([]*Volume, error) {
	entries, err := os.ReadDir(v.dir)
	if err != nil {
		return nil, err
	}
	var vols []*Volume
	for _, e := range entries {
		if vol, err := v.Get(e.Name()); err == nil {
			vols = append(vols, vol)
		}
	}
	sort.Slice(vols, func(i, j int) bool { return vols[i].Name < vols[j].Name })
	return vols, nil
}

// Remove deletes the volume and its files. The caller checks that no container uses it.
func (v *Volumes) Remove(name string) error {
	if _, err := v.Get(name); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(v.dir, name)); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return nil
}

// ParseVolume reads a -v argument: NAME:/path (a named volume, made if missing),
// /host/path:/path (a bind mount of a host directory), or /path alone (an anonymous volume,
// named newName()); each may end in ":ro" (or ":rw"). The container path must be absolute.
func (v *Volumes) ParseVolume(arg string, newName func() string) (Mount, error) {
	parts := strings.Split(arg, ":")
	m := Mount{RW: true}
	if n := len(parts); n > 1 && (parts[n-1] == "ro" || parts[n-1] == "rw") {
		m.RW = parts[n-1] == "rw"
		parts = parts[:n-1]
	}
	switch len(parts) {
	case 1:
		vol, err := v.Create(newName(), true)
		if err != nil {
			return m, err
		}
		m.Type, m.Name, m.Source, m.Destination, m.Anonymous = "volume", vol.Name, vol.Mountpoint, parts[0], true
	case 2:
		m.Destination = parts[1]
		if strings.HasPrefix(parts[0], "/") {
			if _, err := os.Stat(parts[0]); err != nil {
				return m, fmt.Errorf("-v %s: the host path %s: %w", arg, parts[0], err)
			}
			m.Type, m.Source = "bind", filepath.Clean(parts[0])
			break
		}
		vol, err := v.Create(parts[0], false)
		if err != nil {
			return m, fmt.Errorf("-v %s: %w", arg, err)
		}
		m.Type, m.Name, m.Source = "volume", vol.Name, vol.Mountpoint
	default:
		return m, fmt.Errorf("-v %q: want NAME:/path, /host/path:/path or /path, with :ro to mount it read-only", arg)
	}
	if !strings.HasPrefix(m.Destination, "/") || strings.Contains(m.Destination, "..") {
		return m, fmt.Errorf("-v %q: the container path %q must be absolute, without ..", arg, m.Destination)
	}
	m.Destination = filepath.Clean(m.Destination)
	return m, nil
}

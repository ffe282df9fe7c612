package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"containerlabs/labs/state"
)

// Rename gives a container a new name: the new name is claimed as a new container's is
// (O_EXCL, so two renames cannot both take it), the record changes, the old name is freed;
// then the containers on its networks find it by the new name, and no longer by the old.
//
// Equivalent to: `docker rename OLD NEW`.
func (e *Engine) Rename(ref, name string) error {
	if err := state.ValidName(name); err != nil {
		return err
	}
	c, err := e.Store.Get(ref)
	if err != nil {
		return err
	}
	if c.Name == name {
		return fmt.Errorf("container %s already has that name", name)
	}
	unlock, err := e.Store.Lock(c.ID)
	if err != nil {
		return err
	}
	if c, err = e.Store.load(c.ID); err != nil {
		unlock()
		return err
	}
	err = e.Store.rename(c, name)
	unlock()
	if err != nil {
		return err
	}
	if c.State.Running() {
		return e.refreshHosts(userNetworksOf(c))
	}
	return nil
}

// rename moves the container's name; the caller holds its lock.
func (s *Store) rename(c *Container, name string) error {
	newFile := filepath.Join(s.root, "names", name)
	f, err := os.OpenFile(newFile, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrExist) {
		owner, _ := os.ReadFile(newFile)
		return fmt.Errorf("the container name %q is already in use by container %s", name, short(string(owner)))
	}
	if err != nil {
		return fmt.Errorf("claim the name %s: %w", name, err)
	}
	_, err = f.WriteString(c.ID)
	f.Close()
	old := c.Name
	c.Name = name
	if err == nil {
		err = s.Save(c)
	}
	if err != nil {
		os.Remove(newFile)
		c.Name = old
		return fmt.Errorf("rename %s to %s: %w", old, name, err)
	}
	if owner, err := os.ReadFile(filepath.Join(s.root, "names", old)); err == nil && string(owner) == c.ID {
		os.Remove(filepath.Join(s.root, "names", old))
	}
	return nil
}

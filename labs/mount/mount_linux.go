package mount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Apply performs the mount.
//
// Equivalent to: `mount -t FSTYPE -o FLAGS,DATA SOURCE TARGET`.
func (m Mount) Apply() error {
	if err := unix.Mount(m.Source, m.Target, m.FSType, m.Flags, m.Data); err != nil {
		return fmt.Errorf("%s: %w", m, err)
	}
	return nil
}

// Unmount detaches the file system mounted on target. It uses MNT_DETACH (a lazy unmount),
// so a busy mount disappears from the tree at once and is freed when its last user goes,
// which is what cleanup after a crashed container needs.
//
// Equivalent to: `umount -l TARGET`.
func Unmount(target string) error {
	if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("umount %s: %w", target, err)
	}
	return nil
}

// Table reads the mount table of the calling process from /proc/self/mountinfo.
//
// Equivalent to: `findmnt --list`.
func Table() ([]Info, error) {
	return TableOf("self")
}

// TableOf reads the mount table of the process pid ("self" for the caller), which is the
// table of the mount namespace that process lives in.
func TableOf(pid string) ([]Info, error) {
	path := filepath.Join("/proc", pid, "mountinfo")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	infos, err := ParseMountinfo(string(data))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return infos, nil
}

// Under lists the mounts whose mount point is dir or lies beneath it, deepest first, which
// is the order they must be unmounted in.
func Under(dir string) ([]Info, error) {
	dir, err := canonical(dir)
	if err != nil {
		return nil, err
	}
	table, err := Table()
	if err != nil {
		return nil, err
	}
	var found []Info
	for _, m := range table {
		if m.Target == dir || strings.HasPrefix(m.Target, dir+"/") {
			found = append(found, m)
		}
	}
	// Deeper paths first; among equal paths, the later (upper) mount first.
	sort.SliceStable(found, func(i, j int) bool {
		di, dj := strings.Count(found[i].Target, "/"), strings.Count(found[j].Target, "/")
		if di != dj {
			return di > dj
		}
		return found[i].ID > found[j].ID
	})
	return found, nil
}

// UnmountAll unmounts everything mounted at or beneath dir, deepest first, and then checks
// that nothing is left. It is how the labs clean up stale mounts of a container that was
// killed before it could undo its own.
func UnmountAll(dir string) error {
	// A mount point can be stacked more than once, so repeat until the table is clean.
	for range 64 {
		mounts, err := Under(dir)
		if err != nil {
			return err
		}
		if len(mounts) == 0 {
			return nil
		}
		for _, m := range mounts {
			if err := Unmount(m.Target); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				return err
			}
		}
	}
	return fmt.Errorf("unmount everything under %s: mounts keep reappearing", dir)
}

// MakePrivate sets the propagation of the mount at target and every mount beneath it to
// private, so that mount events no longer travel between it and its peers.
//
// Equivalent to: `mount --make-rprivate TARGET`.
func MakePrivate(target string) error {
	// lab:03 begin: remount target and everything beneath it with MS_REC|MS_PRIVATE propagation
	return Mount{Target: target, Flags: unix.MS_REC | unix.MS_PRIVATE}.Apply()
	// lab:03 end
}

// canonical returns the absolute, symlink-free form of dir, which is how the kernel writes
// mount points into mountinfo.
func canonical(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return abs, nil
		}
		return "", fmt.Errorf("resolve %s: %w", dir, err)
	}
	return real, nil
}

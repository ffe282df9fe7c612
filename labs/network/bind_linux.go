package network

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"containerlabs/labs/mount"
	"containerlabs/labs/rootfs"
)

// EtcFiles are the files WriteEtcFiles writes into a directory's etc/.
var EtcFiles = []string{"hostname", "hosts", "resolv.conf"}

// BindEtcFiles bind-mounts the files that WriteEtcFiles wrote under dir (dir/etc/NAME) onto
// the same names in the container's root, making an empty file to mount on where the image
// has none. Kept outside the container's writable layer, they never show in its diff and
// are never committed into an image: a container's address has no place in an image. Docker
// mounts these three files the same way.
//
// A name that is a symlink in the image is followed inside root only (rootfs.Resolve).
// Call it in the container's mount namespace, before pivot_root.
//
// Equivalent to: `mount --bind DIR/etc/hosts ROOT/etc/hosts` for each file.
func BindEtcFiles(dir, root string) error {
	for _, name := range EtcFiles {
		target, err := rootfs.Resolve(root, filepath.Join("/etc", name))
		if err != nil {
			return err
		}
		if err := ensureFile(target); err != nil {
			return err
		}
		source := filepath.Join(dir, "etc", name)
		if err := (mount.Mount{Source: source, Target: target, Flags: unix.MS_BIND}).Apply(); err != nil {
			return err
		}
	}
	return nil
}

// ensureFile makes an empty file at path, and its directory, unless a file is there.
func ensureFile(path string) error {
	info, err := os.Lstat(path)
	switch {
	case err == nil && info.Mode().IsRegular():
		return nil
	case err == nil:
		return fmt.Errorf("%s is not a regular file: cannot mount a file over it", path)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("check %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("make %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("make %s to mount on: %w", path, err)
	}
	return f.Close()
}

package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// mergedUsrLinks are the top-level directories that a merged-/usr distribution (Debian 12,
// Fedora, Arch) makes symlinks into /usr. Copying them keeps a rootfs shaped like its host,
// so both /bin/bash and /usr/bin/bash work inside it.
var mergedUsrLinks = []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// CopyPrograms copies each program into dir together with everything it needs to start:
// its ELF interpreter and shared-library closure (see Closure). A program is a path, or a
// name looked up in $PATH as a shell would. Every file keeps its host path inside dir, and
// symlinks on the way (/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/...) are copied
// as symlinks, so the rootfs resolves names exactly as the host does.
//
// It returns the host paths it copied, in order, for the caller to show.
//
// Equivalent to: `ldd PROGRAM`, then `cp --parents -a` of the program and every file listed.
func CopyPrograms(dir string, programs ...string) ([]string, error) {
	c := copier{dir: dir, done: map[string]bool{}}
	for _, link := range mergedUsrLinks {
		if info, err := os.Lstat(link); err == nil && info.Mode()&fs.ModeSymlink != 0 && !c.isRealDir(link) {
			if err := c.copyPath(link); err != nil {
				return c.copied, err
			}
		}
	}
	for _, program := range programs {
		path, err := exec.LookPath(program)
		if err != nil {
			return c.copied, fmt.Errorf("find program %s: %w", program, err)
		}
		path, err = filepath.Abs(path)
		if err != nil {
			return c.copied, fmt.Errorf("find program %s: %w", program, err)
		}
		deps, err := Closure(path)
		if err != nil {
			return c.copied, err
		}
		if err := c.copyPath(path); err != nil {
			return c.copied, err
		}
		for _, dep := range deps {
			if err := c.copyPath(dep.Path); err != nil {
				return c.copied, err
			}
		}
	}
	return c.copied, nil
}

type copier struct {
	dir    string
	done   map[string]bool
	copied []string
}

// copyPath copies the host file at the absolute path hostPath to the same path inside the
// rootfs. It walks the path one component at a time; a component that is a symlink on the
// host is recreated as the same symlink and then followed, so that its target is copied too.
func (c *copier) copyPath(hostPath string) error {
	return c.copyFollowing(hostPath, 0)
}

func (c *copier) copyFollowing(hostPath string, depth int) error {
	if depth > 40 {
		return fmt.Errorf("copy %s: too many levels of symbolic links", hostPath)
	}
	if c.done[hostPath] {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(filepath.Clean(hostPath), "/"), "/")
	prefix := "/"
	for i, part := range parts {
		prefix = filepath.Join(prefix, part)
		info, err := os.Lstat(prefix)
		if err != nil {
			return fmt.Errorf("copy %s: %w", hostPath, err)
		}
		last := i == len(parts)-1
		switch {
		case info.Mode()&fs.ModeSymlink != 0 && c.isRealDir(prefix):
			// The rootfs already has a real directory where the host has a symlink (a
			// learner made /bin by hand): keep it and copy into it. Lstat of the next
			// component on the host still goes through the symlink.
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := c.copySymlink(prefix)
			if err != nil {
				return err
			}
			rest := filepath.Join(append([]string{target}, parts[i+1:]...)...)
			if err := c.copyFollowing(rest, depth+1); err != nil {
				return err
			}
			c.done[hostPath] = true
			return nil
		case info.IsDir():
			if err := c.mkdir(prefix, info.Mode().Perm()); err != nil {
				return err
			}
		case last:
			if err := c.copyFile(prefix, info); err != nil {
				return err
			}
		default:
			return fmt.Errorf("copy %s: %s is not a directory", hostPath, prefix)
		}
	}
	c.done[hostPath] = true
	return nil
}

// isRealDir reports whether hostPath exists in the rootfs as a directory, not a symlink.
func (c *copier) isRealDir(hostPath string) bool {
	info, err := os.Lstat(filepath.Join(c.dir, hostPath))
	return err == nil && info.IsDir()
}

// copySymlink recreates the host symlink at linkPath inside the rootfs and returns the
// absolute host path it points to.
func (c *copier) copySymlink(linkPath string) (string, error) {
	target, err := os.Readlink(linkPath)
	if err != nil {
		return "", fmt.Errorf("read symlink %s: %w", linkPath, err)
	}
	dest := filepath.Join(c.dir, linkPath)
	if !c.done[linkPath] {
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return "", fmt.Errorf("copy symlink %s: %w", linkPath, err)
		}
		existing, err := os.Readlink(dest)
		switch {
		case err == nil && existing == target:
		case errors.Is(err, os.ErrNotExist):
			if err := os.Symlink(target, dest); err != nil {
				return "", fmt.Errorf("copy symlink %s: %w", linkPath, err)
			}
			c.copied = append(c.copied, linkPath)
		default:
			return "", fmt.Errorf("copy symlink %s: %s already exists and is not the same link", linkPath, dest)
		}
		c.done[linkPath] = true
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(linkPath), target)
	}
	return target, nil
}

func (c *copier) mkdir(hostDir string, perm fs.FileMode) error {
	dest := filepath.Join(c.dir, hostDir)
	info, err := os.Lstat(dest)
	if err == nil {
		if !info.IsDir() {
			return fmt.Errorf("copy directory %s: %s exists and is not a directory", hostDir, dest)
		}
		return nil
	}
	if err := os.Mkdir(dest, perm); err != nil {
		return fmt.Errorf("copy directory %s: %w", hostDir, err)
	}
	return nil
}

func (c *copier) copyFile(hostFile string, info fs.FileInfo) error {
	if !info.Mode().IsRegular() {
		return fmt.Errorf("copy %s: not a regular file", hostFile)
	}
	if _, err := CopyFile(hostFile, filepath.Join(c.dir, hostFile)); err != nil {
		return err
	}
	c.copied = append(c.copied, hostFile)
	return nil
}

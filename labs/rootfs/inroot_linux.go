package rootfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// inRoot is how every lookup inside a container's root is resolved: by the kernel, as if
// the process were chrooted there (RESOLVE_IN_ROOT: an absolute symlink starts again at the
// root, ".." stops at it), and never through a /proc magic link (RESOLVE_NO_MAGICLINKS:
// /proc/self/root would lead out). The kernel checks each component as it goes, so there
// is no moment between looking a path up and opening it in which a container could swap
// a directory for a symlink: that gap is the whole of CVE-2018-15664 (docker cp) and of
// the symlink-exchange mount races (CVE-2021-30465).
const inRoot = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// OpenRoot opens a container's root directory for OpenInRoot and friends.
func OpenRoot(root string) (*os.File, error) {
	f, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the root %s: %w", root, err)
	}
	return f, nil
}

// OpenInRoot opens path inside the directory root as a process chrooted into root would
// see it, with the kernel resolving every component (openat2 with RESOLVE_IN_ROOT): a
// symlink in the container can never lead the lookup out of root, also when the container
// changes its files while we look. flags are open(2)'s; with O_NOFOLLOW a symlink at the
// end is opened itself (with O_PATH) or refused. O_CLOEXEC is always added.
//
// Equivalent to: `chroot ROOT cat PATH`, without a process and without the races.
func OpenInRoot(root *os.File, path string, flags int) (*os.File, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: inRoot}
	if flags&unix.O_CREAT != 0 {
		how.Mode = 0o644
	}
	fd, err := unix.Openat2(int(root.Fd()), relative(path), &how)
	if errors.Is(err, unix.ENOSYS) {
		return nil, fmt.Errorf("open %s inside %s: this kernel has no openat2 (Linux 5.6+ needed): %w", path, root.Name(), err)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(root.Name(), path)), nil
}

// relative turns a path inside the root into one openat2 takes from the root's descriptor.
func relative(path string) string {
	p := strings.TrimLeft(filepath.Clean("/"+path), "/")
	if p == "" {
		return "."
	}
	return p
}

// ReadFileInRoot reads the regular file at path inside root, at most limit bytes. A
// container's /etc/passwd may be a FIFO (a read would block for ever), a device (endless),
// or huge: anything but a regular file is refused, and a larger file is an error.
func ReadFileInRoot(root *os.File, path string, limit int64) ([]byte, error) {
	f, err := OpenInRoot(root, path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, info.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

// PathInRoot says where the open file f is, as a path inside root ("/etc/hosts"): the
// kernel's own name for it (/proc/self/fd/N), so after a lookup that followed symlinks it
// tells where the lookup really ended.
func PathInRoot(root, f *os.File) (string, error) {
	rootPath, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", root.Fd()))
	if err != nil {
		return "", err
	}
	p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		return "", err
	}
	if p == rootPath {
		return "/", nil
	}
	inside, ok := strings.CutPrefix(p, strings.TrimSuffix(rootPath, "/")+"/")
	if !ok {
		return "", fmt.Errorf("%s is not inside %s", p, rootPath)
	}
	return "/" + inside, nil
}

// MkdirAllInRoot makes the directory path inside root and every missing parent, each
// looked up and created relative to the open parent (no component is ever followed out of
// root), and returns the directory opened with O_PATH. An existing component that is not a
// directory (or a symlink to one inside root) is an error.
//
// Equivalent to: `chroot ROOT mkdir -p PATH`.
func MkdirAllInRoot(root *os.File, path string, perm os.FileMode) (*os.File, error) {
	dir, err := OpenInRoot(root, "/", unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	done := "/"
	for _, part := range strings.Split(relative(path), "/") {
		if part == "." {
			continue
		}
		next := filepath.Join(done, part)
		// Made from the parent's descriptor, looked up again from the root: a component
		// that is a symlink is followed, but inside root only.
		err := unix.Mkdirat(int(dir.Fd()), part, uint32(perm.Perm()))
		if err != nil && !errors.Is(err, unix.EEXIST) {
			dir.Close()
			return nil, fmt.Errorf("make %s inside %s: %w", next, root.Name(), err)
		}
		child, err := OpenInRoot(root, next, unix.O_PATH|unix.O_DIRECTORY)
		dir.Close()
		if err != nil {
			return nil, fmt.Errorf("make %s inside %s: %w", next, root.Name(), err)
		}
		dir, done = child, next
	}
	return dir, nil
}

// CreateInRoot makes sure a mount point exists at path inside root, a directory (dir) or
// an empty file, and returns it opened with O_PATH, for a mount through its descriptor. A
// symlink on the way, or at the end, is followed inside root: an image whose /etc/resolv.conf
// is a link to ../run/resolv.conf gets the file made there, as runc makes it.
func CreateInRoot(root *os.File, path string, dir bool) (*os.File, error) {
	if dir {
		return MkdirAllInRoot(root, path, 0o755)
	}
	parent, err := MkdirAllInRoot(root, filepath.Dir(filepath.Clean("/"+path)), 0o755)
	if err != nil {
		return nil, err
	}
	parent.Close()
	f, err := OpenInRoot(root, path, unix.O_PATH)
	if !errors.Is(err, os.ErrNotExist) {
		return f, err
	}
	// Missing (or a link to something missing): made empty, never opened for writing if
	// something appeared meanwhile (O_NONBLOCK: a FIFO put there would not block us).
	f, err = OpenInRoot(root, path, unix.O_CREAT|unix.O_WRONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return nil, fmt.Errorf("make %s inside %s: %w", path, root.Name(), err)
	}
	f.Close()
	return OpenInRoot(root, path, unix.O_PATH)
}

// FdPath is the name through which the kernel reaches an open file: mount(2) and the
// *at calls given it operate on exactly that file, whatever its old path has become.
func FdPath(f *os.File) string { return fmt.Sprintf("/proc/self/fd/%d", f.Fd()) }

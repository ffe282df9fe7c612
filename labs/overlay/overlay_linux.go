package overlay

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"

	"containerlabs/labs/mount"
	"containerlabs/labs/namespace"
)

// Mount mounts an overlay at target: the read-only layers (lowest first, as an image lists
// them) under the writable directory upper, with work as the kernel's scratch directory.
// upper, work and target are created if they do not exist. Every change made under target
// lands in upper; the layers are never written, so any number of overlays can share them.
//
// Equivalent to: `mount -t overlay overlay -o lowerdir=TOP:...:BOTTOM,upperdir=UPPER,workdir=WORK TARGET`.
func Mount(layers []string, upper, work, target string) error {
	return mountOverlay(layers, upper, work, target, false)
}

// MountVolatile is Mount for an overlay whose upper directory is thrown away with it, such
// as the root of a container run with --rm (podman does the same for those). It adds the
// kernel's "volatile" option: the overlay never syncs the file system its upper directory is
// on. Without it, every unmount syncs that whole file system (the root's, usually), which
// took 0.8 ms here on a quiet disk and several on a busy one; fsync and sync inside the
// container return at once too. The price is for after a crash: the kernel refuses to mount
// that upper directory again (incompat/volatile in its work directory is the mark), which
// does not matter for one that nobody mounts again. A kernel before 5.10, which does not
// know the option, mounts the overlay as Mount does.
//
// Equivalent to: `mount -t overlay overlay -o lowerdir=...,upperdir=UPPER,workdir=WORK,volatile TARGET`.
func MountVolatile(layers []string, upper, work, target string) error {
	return mountOverlay(layers, upper, work, target, true)
}

func mountOverlay(layers []string, upper, work, target string, volatile bool) error {
	abs, upper, work, target, err := prepare(layers, upper, work, target)
	if err != nil {
		return err
	}
	opts, err := mountOptions(abs, upper, work, namespace.InUserNamespace(), os.Getpagesize())
	if err != nil {
		return fmt.Errorf("mount overlay on %s: %w", target, err)
	}
	if volatile && len(opts)+len(",volatile")+1 <= os.Getpagesize() {
		err := mount.Mount{Source: "overlay", Target: target, FSType: "overlay", Data: opts + ",volatile"}.Apply()
		if !errors.Is(err, unix.EINVAL) {
			return err
		}
	}
	return mount.Mount{Source: "overlay", Target: target, FSType: "overlay", Data: opts}.Apply()
}

// prepare makes every path absolute, checks that the layers are directories, creates
// upper, work and target, and checks that upper and work share a file system.
func prepare(layers []string, upper, work, target string) ([]string, string, string, string, error) {
	abs := make([]string, len(layers))
	for i, layer := range layers {
		var err error
		if abs[i], err = filepath.Abs(layer); err != nil {
			return nil, "", "", "", fmt.Errorf("overlay layer %s: %w", layer, err)
		}
		if info, err := os.Stat(abs[i]); err != nil {
			return nil, "", "", "", fmt.Errorf("overlay layer: %w", err)
		} else if !info.IsDir() {
			return nil, "", "", "", fmt.Errorf("overlay layer %s is not a directory", layer)
		}
	}
	for _, dir := range []*string{&upper, &work, &target} {
		var err error
		if *dir, err = filepath.Abs(*dir); err != nil {
			return nil, "", "", "", fmt.Errorf("overlay directory %s: %w", *dir, err)
		}
		if err := os.MkdirAll(*dir, 0o755); err != nil {
			return nil, "", "", "", fmt.Errorf("make overlay directory: %w", err)
		}
	}
	if err := sameFileSystem(upper, work); err != nil {
		return nil, "", "", "", err
	}
	return abs, upper, work, target, nil
}

// sameFileSystem checks the kernel's rule that the work directory lives on the upper
// directory's file system (copy-up renames files from one into the other), so that the
// learner gets a reason instead of a bare EINVAL.
func sameFileSystem(upper, work string) error {
	var u, w unix.Stat_t
	if err := unix.Stat(upper, &u); err != nil {
		return fmt.Errorf("overlay upper directory %s: %w", upper, err)
	}
	if err := unix.Stat(work, &w); err != nil {
		return fmt.Errorf("overlay work directory %s: %w", work, err)
	}
	if u.Dev != w.Dev {
		return fmt.Errorf("overlay work directory %s is on another file system than the upper directory %s: the kernel renames copied-up files from one into the other, so they must share one", work, upper)
	}
	return nil
}

// Unmount detaches the overlay mounted at target. The upper directory keeps the changes.
//
// Equivalent to: `umount -l TARGET`.
func Unmount(target string) error {
	return mount.Unmount(target)
}

// IsWhiteout reports whether info (from Lstat) describes a whiteout: a character device with
// device number 0/0, which overlay reads as "this name is deleted".
func IsWhiteout(info fs.FileInfo) bool {
	if info.Mode().Type() != fs.ModeDevice|fs.ModeCharDevice {
		return false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

// IsOpaque reports whether the directory at path is marked opaque, with the trusted or the
// user ("userxattr") form of the mark, or fuse-overlayfs's (MountFuse). An opaque
// directory hides the contents of the directories of the same name in the layers below it.
//
// Equivalent to: `getfattr -n trusted.overlay.opaque PATH`.
func IsOpaque(path string) (bool, error) {
	for _, attr := range []string{OpaqueXattr, UserOpaqueXattr, FuseOpaqueXattr} {
		buf := make([]byte, len(OpaqueValue)+1)
		n, err := unix.Lgetxattr(path, attr, buf)
		switch {
		case err == nil:
			if string(buf[:n]) == OpaqueValue {
				return true, nil
			}
		case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.ERANGE):
			// No mark (or a value longer than "y", which is no mark either).
		default:
			return false, fmt.Errorf("read %s of %s: %w", attr, path, err)
		}
	}
	return false, nil
}

// MakeWhiteout creates a whiteout at path: on disk, a character device 0/0 (mode 0, so it
// cannot be opened as a device), which deletes path from the merged view of the layers below.
//
// Equivalent to: `mknod -m 0 PATH c 0 0`.
func MakeWhiteout(path string) error {
	return makeWhiteout(unix.AT_FDCWD, path)
}

// MakeWhiteoutAt creates a whiteout named name in the open directory dir. An O_PATH
// descriptor is enough, so a caller that walked to dir without following symlinks (such as
// rootfs.Unpacker.OpenParent) creates the whiteout exactly there.
//
// Equivalent to: `mknod -m 0 DIR/NAME c 0 0`.
func MakeWhiteoutAt(dir *os.File, name string) error {
	return makeWhiteout(int(dir.Fd()), name)
}

func makeWhiteout(dirfd int, name string) error {
	if err := unix.Mknodat(dirfd, name, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("make whiteout %s: %w", name, err)
	}
	return nil
}

// MarkOpaque marks the directory at path opaque for the overlays this process mounts: on
// disk, the extended attribute OpaqueXattrHere()="y".
//
// Equivalent to: `setfattr -n trusted.overlay.opaque -v y PATH`.
func MarkOpaque(path string) error {
	if err := unix.Lsetxattr(path, OpaqueXattrHere(), []byte(OpaqueValue), 0); err != nil {
		return fmt.Errorf("mark %s opaque: %w", path, err)
	}
	return nil
}

// Diff lists the changes a container made, from its upper directory and the layers (lowest
// first) it was mounted on: what `docker diff` shows. The result is sorted by path.
//
//   - A whiteout is a deleted path: "D /path".
//   - Any other entry is "C /path" if the path exists in the layers' merged view, and
//     "A /path" if it does not. Directories that a copy-up brought into the upper directory
//     (the parents of a changed file) are "C", as in `docker diff`.
//   - An opaque directory replaced a lower directory of the same name: it is "C /dir", and
//     everything in it is "A", because nothing of the old directory shows through. The
//     entries of the old directory are not listed one by one. (`docker diff` shows such a
//     directory as "D /dir" followed by its new contents, and marks as "C" a new file that
//     happens to share a name with a hidden old one.)
//
// Diff reads only the upper directory and looks each of its names up in the layers, so its
// cost follows the size of the changes, not of the image.
func Diff(layers []string, upper string) ([]Change, error) {
	top := slices.Clone(layers)
	slices.Reverse(top)
	var changes []Change
	if err := diffDir(upper, "/", top, &changes); err != nil {
		return nil, fmt.Errorf("diff %s: %w", upper, err)
	}
	sortChanges(changes)
	return changes, nil
}

// diffDir appends the changes recorded in the upper directory dir, which the container sees
// as rel. lowers are the layer directories that show through at rel, topmost first: the
// directories overlay itself would merge there.
func diffDir(dir, rel string, lowers []string, changes *[]Change) error {
	// lab:05 begin: for each entry of dir: a whiteout (IsWhiteout) of a name the lowers have (lookUp) is Deleted; else Changed if they have it, Added if not; recurse into directories, with no lowers below an opaque one (IsOpaque)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			return err
		}
		name := path.Join(rel, e.Name())
		inLower, below, err := lookUp(lowers, e.Name())
		if err != nil {
			return err
		}
		kind := Added
		if inLower {
			kind = Changed
		}
		if IsWhiteout(info) {
			if inLower {
				*changes = append(*changes, Change{Deleted, name})
			}
			continue
		}
		*changes = append(*changes, Change{kind, name})
		if !info.IsDir() {
			continue
		}
		upperDir := filepath.Join(dir, e.Name())
		opaque, err := IsOpaque(upperDir)
		if err != nil {
			return err
		}
		if opaque {
			below = nil
		}
		if err := diffDir(upperDir, name, below, changes); err != nil {
			return err
		}
	}
	return nil
	// lab:05 end
}

// lookUp finds name in the directories lowers (topmost first) the way overlay's lookup does:
// the first entry found decides; a whiteout means the name does not exist; a directory is
// merged with the directories of the same name below it, down to the first that is opaque,
// and a non-directory hides everything below it. It returns whether the name exists and,
// if it is a directory, the lower directories that make it up.
func lookUp(lowers []string, name string) (exists bool, dirs []string, err error) {
	for _, lower := range lowers {
		p := filepath.Join(lower, name)
		info, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, nil, err
		}
		if IsWhiteout(info) || (exists && !info.IsDir()) {
			break
		}
		exists = true
		if !info.IsDir() {
			break
		}
		dirs = append(dirs, p)
		if opaque, err := IsOpaque(p); err != nil {
			return false, nil, err
		} else if opaque {
			break
		}
	}
	return exists, dirs, nil
}

// OpaqueXattrHere is the opaque mark that the overlays this process mounts read:
// OpaqueXattr, or UserOpaqueXattr in a user namespace (a rootless engine), where Mount adds
// "userxattr" because trusted.* attributes can be set only by root of the initial namespace.
func OpaqueXattrHere() string {
	if namespace.InUserNamespace() {
		return UserOpaqueXattr
	}
	return OpaqueXattr
}

package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Unpacker writes tar entries beneath one directory, one at a time, and never outside it.
//
// Every path is walked from an open file descriptor of the destination with openat(2), one
// component at a time and with O_NOFOLLOW, so no symlink is ever followed: not one in the
// archive, and not one a running container planted in the directory. Entries keep their
// permission bits (setuid included), owner (when running as root), modification time,
// device numbers (where the kernel allows mknod) and the extended attributes in Xattrs.
type Unpacker struct {
	dir  string
	root *os.File
	// Xattrs lists the extended-attribute name prefixes copied from an entry's PAX records
	// (SCHILY.xattr.*). Others are dropped: an archive must not set trusted.* attributes
	// that change how overlayfs reads the directory.
	Xattrs []string
	// SameOwner applies each entry's uid and gid. It defaults to true for root, like tar.
	SameOwner bool
	// Skipped lists entries that could not be created on this host, such as device nodes
	// inside a user namespace, where mknod is not allowed.
	Skipped []string

	dirTimes []dirTime
	closed   bool
	// parent is the directory the last entry went into (parentDir, relative to the root,
	// with a trailing slash), kept open because archives list a directory's entries one
	// after another: walking the path again for each of them costs a syscall per component.
	parent    *os.File
	parentDir string
	buf       []byte // copies file contents, reused from entry to entry
}

type dirTime struct {
	name         string
	atime, mtime time.Time
}

// NewUnpacker opens dir for unpacking. Close it to apply directory times.
func NewUnpacker(dir string) (*Unpacker, error) {
	root, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open extraction root: %w", err)
	}
	return &Unpacker{
		dir:       dir,
		root:      root,
		Xattrs:    []string{"user.", "security.capability"},
		SameOwner: os.Geteuid() == 0,
	}, nil
}

// Close sets the times of the directories unpacked so far (writing a file into a directory
// changes its mtime, so they are set last) and releases the destination.
func (u *Unpacker) Close() error {
	if u.closed {
		return nil
	}
	u.closed = true
	u.forgetParent()
	defer u.root.Close()
	for i := len(u.dirTimes) - 1; i >= 0; i-- {
		d := u.dirTimes[i]
		parent, base, err := u.OpenParent(d.name, false)
		if err != nil {
			continue // removed by a later entry
		}
		_ = setTimes(int(parent.Fd()), base, unix.AT_SYMLINK_NOFOLLOW, d.atime, d.mtime)
		parent.Close()
	}
	return nil
}

// Write creates the entry hdr, with the content read from body for a regular file.
func (u *Unpacker) Write(hdr *tar.Header, body io.Reader) error {
	name, err := CleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil // the root itself: it exists, and its owner is the caller's choice
	}
	// An entry that replaces a directory on the way to the kept parent (or the parent
	// itself) makes that descriptor stale: walk again from the root next time.
	if strings.HasPrefix(u.parentDir, name+"/") {
		u.forgetParent()
	}
	parent, base, err := u.parentOf(name)
	if err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA {
		return u.createFile(parent, base, name, hdr, body)
	}
	if err := u.create(parent, base, name, hdr, body); err != nil {
		return err
	}
	return u.applyMetadata(parent, base, name, hdr)
}

// parentOf returns the open directory that holds name, and name's last component: the
// kept one if name is in it, else a newly walked one, which is kept instead.
func (u *Unpacker) parentOf(name string) (*os.File, string, error) {
	dir, base := path.Split(name)
	if u.parent != nil && dir == u.parentDir {
		return u.parent, base, nil
	}
	parent, base, err := u.OpenParent(name, true)
	if err != nil {
		return nil, "", err
	}
	u.forgetParent()
	u.parent, u.parentDir = parent, dir
	return parent, base, nil
}

func (u *Unpacker) forgetParent() {
	if u.parent != nil {
		u.parent.Close()
	}
	u.parent, u.parentDir = nil, ""
}

// writerOnly hides an *os.File's ReadFrom, so that io.CopyBuffer uses the buffer it is
// given instead of allocating one per file in the file's own fallback copy.
type writerOnly struct{ io.Writer }

// createFile makes a regular file, the commonest entry by far, with as few syscalls as it
// can: the exclusive create is tried first (only if something is in the way is it removed),
// and owner, mode and times are set through the open descriptor, not looked up by name.
func (u *Unpacker) createFile(parent *os.File, base, name string, hdr *tar.Header, body io.Reader) error {
	pfd := int(parent.Fd())
	const flags = unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(pfd, base, flags, 0o600)
	if errors.Is(err, unix.EEXIST) {
		// A later entry in an archive wins over an earlier one of the same name.
		if err := removeAt(pfd, base); err != nil {
			return fmt.Errorf("extract %s: replace existing entry: %w", name, err)
		}
		fd, err = unix.Openat(pfd, base, flags, 0o600)
	}
	if err != nil {
		return fmt.Errorf("extract file %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if u.buf == nil {
		u.buf = make([]byte, 128<<10)
	}
	if _, err := io.CopyBuffer(writerOnly{f}, body, u.buf); err != nil {
		return fmt.Errorf("extract file %s: %w", name, err)
	}
	// Owner first: chown clears the setuid and setgid bits, so the mode comes after it.
	if u.SameOwner {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return ownerError(name, hdr, err)
		}
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
		return fmt.Errorf("extract %s: set mode %o: %w", name, hdr.Mode&0o7777, err)
	}
	for attr, value := range u.xattrs(hdr) {
		if err := unix.Fsetxattr(fd, attr, []byte(value), 0); err != nil {
			return fmt.Errorf("extract %s: set xattr %s: %w", name, attr, err)
		}
	}
	// AT_EMPTY_PATH (Linux 5.8+): the times of the open file itself.
	if err := setTimes(fd, "", unix.AT_EMPTY_PATH, orMtime(hdr.AccessTime, hdr.ModTime), hdr.ModTime); err != nil {
		return fmt.Errorf("extract %s: set times: %w", name, err)
	}
	return f.Close()
}

func (u *Unpacker) create(parent *os.File, base, name string, hdr *tar.Header, body io.Reader) error {
	pfd := int(parent.Fd())
	if hdr.Typeflag == tar.TypeDir {
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return nil // merge into the existing directory
		}
	}
	// Whatever is in the way is replaced, as a later entry in an archive wins.
	if err := removeAt(pfd, base); err != nil {
		return fmt.Errorf("extract %s: replace existing entry: %w", name, err)
	}
	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
			return fmt.Errorf("extract directory %s: %w", name, err)
		}
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("extract symlink %s -> %s: %w", name, hdr.Linkname, err)
		}
	case tar.TypeLink:
		target, err := CleanName(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("extract hardlink %s: %w", name, err)
		}
		tparent, tbase, err := u.OpenParent(target, false)
		if err != nil {
			return fmt.Errorf("extract hardlink %s -> %s: %w", name, hdr.Linkname, err)
		}
		defer tparent.Close()
		// Flags 0: linkat does not follow a symlink at the target, so a hardlink to a
		// planted symlink links the symlink, never the file outside it points at.
		if err := unix.Linkat(int(tparent.Fd()), tbase, pfd, base, 0); err != nil {
			return fmt.Errorf("extract hardlink %s -> %s: %w", name, hdr.Linkname, err)
		}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(pfd, base, kind|mode, int(dev)); err != nil {
			if errors.Is(err, unix.EPERM) {
				u.Skipped = append(u.Skipped, name)
				return nil
			}
			return fmt.Errorf("extract device %s: %w", name, err)
		}
	case tar.TypeXGlobalHeader:
		return nil
	default:
		return fmt.Errorf("extract %s: unsupported tar entry type %q", name, hdr.Typeflag)
	}
	return nil
}

// applyMetadata sets owner, then mode (chown clears setuid bits, so mode comes after),
// extended attributes and times.
func (u *Unpacker) applyMetadata(parent *os.File, base, name string, hdr *tar.Header) error {
	pfd := int(parent.Fd())
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if hdr.Typeflag != tar.TypeChar && hdr.Typeflag != tar.TypeBlock && hdr.Typeflag != tar.TypeFifo {
			return fmt.Errorf("extract %s: %w", name, err)
		}
		return nil // a skipped device node
	}
	if hdr.Typeflag == tar.TypeLink {
		return nil // a hardlink shares its target's metadata
	}
	isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if u.SameOwner {
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return ownerError(name, hdr, err)
		}
	}
	if !isLink {
		if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode&0o7777), 0); err != nil {
			return fmt.Errorf("extract %s: set mode %o: %w", name, hdr.Mode&0o7777, err)
		}
	}
	for attr, value := range u.xattrs(hdr) {
		if err := u.SetXattr(parent, base, attr, value); err != nil {
			return fmt.Errorf("extract %s: %w", name, err)
		}
	}
	if hdr.Typeflag == tar.TypeDir {
		u.dirTimes = append(u.dirTimes, dirTime{name: name, atime: orMtime(hdr.AccessTime, hdr.ModTime), mtime: hdr.ModTime})
		return nil
	}
	return setTimes(pfd, base, unix.AT_SYMLINK_NOFOLLOW, orMtime(hdr.AccessTime, hdr.ModTime), hdr.ModTime)
}

// ownerError explains a failed chown. EINVAL means the owner does not exist in this
// process's user namespace: a rootless engine's maps only its user and the user's
// subordinate range, and a single-ID namespace only root.
func ownerError(name string, hdr *tar.Header, err error) error {
	if errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("extract %s: set owner %d:%d: this user namespace has no such user or group (a rootless engine has only its user's subordinate IDs, see /etc/subuid): %w", name, hdr.Uid, hdr.Gid, err)
	}
	return fmt.Errorf("extract %s: set owner %d:%d: %w", name, hdr.Uid, hdr.Gid, err)
}

// xattrs yields the extended attributes in hdr's PAX records (SCHILY.xattr.NAME) that
// the Unpacker copies: those with a prefix in Xattrs.
func (u *Unpacker) xattrs(hdr *tar.Header) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for key, value := range hdr.PAXRecords {
			attr, ok := strings.CutPrefix(key, "SCHILY.xattr.")
			if ok && u.allowedXattr(attr) && !yield(attr, value) {
				return
			}
		}
	}
}

func (u *Unpacker) allowedXattr(attr string) bool {
	for _, prefix := range u.Xattrs {
		if strings.HasPrefix(attr, prefix) {
			return true
		}
	}
	return false
}

// SetXattr sets an extended attribute on the entry base in the directory parent (as
// returned by OpenParent) without following a symlink there. Callers use it for attributes
// they decide on themselves, such as the overlay "opaque" mark on a directory.
func (u *Unpacker) SetXattr(parent *os.File, base, attr, value string) error {
	// An O_PATH descriptor cannot carry xattr calls, but its /proc/self/fd link names the
	// very directory it holds open, so the path below cannot be redirected.
	p := "/proc/self/fd/" + strconv.Itoa(int(parent.Fd())) + "/" + base
	if err := unix.Lsetxattr(p, attr, []byte(value), 0); err != nil {
		return fmt.Errorf("set xattr %s: %w", attr, err)
	}
	return nil
}

// OpenParent opens the directory that will hold the entry name (a path relative to the
// root, as CleanName returns it) and returns it with the entry's last component. With
// create, missing parent directories are made (mode 0755, as tar makes them). A parent
// that is a symlink, or not a directory, makes the entry unsafe.
func (u *Unpacker) OpenParent(name string, create bool) (*os.File, string, error) {
	dir, base := path.Split(name)
	fd, err := unix.Dup(int(u.root.Fd()))
	if err != nil {
		return nil, "", fmt.Errorf("extract %s: %w", name, err)
	}
	unix.CloseOnExec(fd)
	walked := ""
	for part := range strings.SplitSeq(strings.Trim(dir, "/"), "/") {
		if part == "" {
			continue
		}
		walked = path.Join(walked, part)
		next, err := unix.Openat(fd, part, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if err = unix.Mkdirat(fd, part, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = unix.Openat(fd, part, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		unix.Close(fd)
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			return nil, "", fmt.Errorf("entry %q passes through %q, which is a symlink or not a directory: %w", name, walked, ErrUnsafeEntry)
		}
		if err != nil {
			return nil, "", fmt.Errorf("extract %s: open %s: %w", name, walked, err)
		}
		fd = next
	}
	return os.NewFile(uintptr(fd), path.Join(u.dir, dir)), base, nil
}

// removeAt removes whatever is at base in the directory dirfd: a file, a symlink, or an
// empty directory. A missing entry is not an error.
func removeAt(dirfd int, base string) error {
	err := unix.Unlinkat(dirfd, base, 0)
	if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EPERM) {
		err = unix.Unlinkat(dirfd, base, unix.AT_REMOVEDIR)
	}
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// setTimes sets the access and modification times of base in the directory dirfd (flags
// as utimensat(2) takes them); a zero mtime, which the archive did not record, is left alone.
func setTimes(dirfd int, base string, flags int, atime, mtime time.Time) error {
	if mtime.IsZero() {
		return nil
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	return unix.UtimesNanoAt(dirfd, base, ts, flags)
}

func orMtime(t, mtime time.Time) time.Time {
	if t.IsZero() {
		return mtime
	}
	return t
}

package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"containerlabs/labs/overlay"
)

// capabilityXattr holds a file's capabilities (setcap), which a tree must keep: ping, for
// one, needs cap_net_raw.
const capabilityXattr = "security.capability"

// writeTree writes the tree under dir to w as a tar stream in lexical order, with owners,
// modes, modification times, device numbers, symlinks, hard links and file capabilities.
// Names are relative to dir ("etc/hosts"); dir itself is not an entry. Directories on
// another file system (a /proc mounted inside) are written, their contents not.
//
// The tree is walked by descriptor (walkAt): each entry is looked up in its open parent
// directory, without following a symlink, so a container that swaps a directory for a
// symlink while its files are read (`cp` from a running container) cannot lead the walk
// out of dir (CVE-2018-15664).
//
// With overlayMarkers, dir is an overlay upper directory and its markers become OCI
// whiteouts: a whiteout becomes an empty file ".wh.NAME" and an opaque directory gets a
// ".wh..wh..opq" entry, which is how a container's changes become an image layer.
//
// Equivalent to: `tar --one-file-system -C DIR -cf - .`.
func writeTree(w io.Writer, dir string, overlayMarkers bool) error {
	root, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	defer root.Close()
	var rootStat unix.Stat_t
	if err := unix.Fstat(int(root.Fd()), &rootStat); err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	tw := tar.NewWriter(w)
	type inode struct{ dev, ino uint64 }
	linked := map[inode]string{}
	err = walkAt(root, "", func(name string, parent *os.File, base string, info fs.FileInfo) (bool, error) {
		// Reached through the open parent, never by the entry's path from dir.
		p := fmt.Sprintf("/proc/self/fd/%d/%s", parent.Fd(), base)
		st := info.Sys().(*syscall.Stat_t)
		// lab:07 begin: with overlayMarkers, an overlay whiteout (overlay.IsWhiteout) becomes an empty regular file ".wh.NAME" beside it
		if overlayMarkers && overlay.IsWhiteout(info) {
			return false, tw.WriteHeader(&tar.Header{
				Name: path.Join(path.Dir(name), whiteoutPrefix+path.Base(name)), Typeflag: tar.TypeReg,
				ModTime: info.ModTime(), Uid: int(st.Uid), Gid: int(st.Gid),
			})
		}
		// lab:07 end
		hdr := &tar.Header{Name: name, Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid), ModTime: info.ModTime()}
		switch info.Mode().Type() {
		case fs.ModeDir:
			hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		case 0:
			key := inode{st.Dev, st.Ino}
			if first, ok := linked[key]; ok {
				hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
				break
			}
			if st.Nlink > 1 {
				linked[key] = name
			}
			hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
		case fs.ModeSymlink:
			target, err := readlinkAt(parent, base)
			if err != nil {
				return false, err
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
		case fs.ModeDevice | fs.ModeCharDevice:
			hdr.Typeflag, hdr.Devmajor, hdr.Devminor = tar.TypeChar, int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		case fs.ModeDevice:
			hdr.Typeflag, hdr.Devmajor, hdr.Devminor = tar.TypeBlock, int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		case fs.ModeNamedPipe:
			hdr.Typeflag = tar.TypeFifo
		default:
			return false, nil // a socket: tar has no type for it, and it means nothing once its server is gone
		}
		if hdr.Typeflag != tar.TypeLink {
			if err := addCapabilities(hdr, p); err != nil {
				return false, err
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return false, err
		}
		switch {
		case hdr.Typeflag == tar.TypeReg:
			return false, copyFile(tw, parent, base, st, hdr.Size)
		case hdr.Typeflag != tar.TypeDir:
			return false, nil
		case st.Dev != rootStat.Dev:
			return false, nil
		}
		if overlayMarkers {
			opaque, err := overlay.IsOpaque(p)
			if err != nil {
				return false, err
			}
			if opaque {
				if err := tw.WriteHeader(&tar.Header{Name: name + "/" + opaqueMarker, Typeflag: tar.TypeReg, ModTime: info.ModTime()}); err != nil {
					return false, err
				}
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	return tw.Close()
}

// walkAt calls visit for every entry under the open directory dir, depth first and in
// lexical order, with the entry's name (prefix/...), its open parent and its name there,
// and its lstat. visit returns whether to descend into a directory. Each directory is
// opened from its parent with O_NOFOLLOW and checked to be the one looked at, so an entry
// that became a symlink (or another directory) since is skipped, not followed.
func walkAt(dir *os.File, prefix string, visit func(name string, parent *os.File, base string, info fs.FileInfo) (bool, error)) error {
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, base := range names {
		// lstat of base in dir: the magic link names dir itself, and the last
		// component is not followed.
		var st syscall.Stat_t
		if err := syscall.Lstat(fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), base), &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // removed since the listing
			}
			return err
		}
		name := path.Join(prefix, base)
		descend, err := visit(name, dir, base, statInfo{base, &st})
		if err != nil || !descend {
			if err != nil {
				return err
			}
			continue
		}
		fd, err := unix.Openat(int(dir.Fd()), base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			continue // swapped since it was looked at: it is not the directory we wrote
		}
		if err != nil {
			return err
		}
		sub := os.NewFile(uintptr(fd), name)
		var now unix.Stat_t
		if err := unix.Fstat(fd, &now); err != nil || now.Ino != st.Ino || now.Dev != st.Dev {
			sub.Close()
			continue
		}
		err = walkAt(sub, name, visit)
		sub.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// statInfo is an lstat result as an fs.FileInfo, with *syscall.Stat_t as its Sys.
type statInfo struct {
	name string
	st   *syscall.Stat_t
}

func (i statInfo) Name() string       { return i.name }
func (i statInfo) Size() int64        { return i.st.Size }
func (i statInfo) ModTime() time.Time { return time.Unix(i.st.Mtim.Unix()) }
func (i statInfo) IsDir() bool        { return i.Mode().IsDir() }
func (i statInfo) Sys() any           { return i.st }
func (i statInfo) Mode() fs.FileMode {
	m := fs.FileMode(i.st.Mode & 0o777)
	switch i.st.Mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if i.st.Mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if i.st.Mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if i.st.Mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// readlinkAt reads the symlink base in the open directory dir.
func readlinkAt(dir *os.File, base string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(int(dir.Fd()), base, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

func addCapabilities(hdr *tar.Header, p string) error {
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(p, capabilityXattr, buf)
	switch {
	case err == nil:
		hdr.PAXRecords = map[string]string{"SCHILY.xattr." + capabilityXattr: string(buf[:n])}
		return nil
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
		return nil
	}
	return fmt.Errorf("read capabilities of %s: %w", p, err)
}

// copyFile copies exactly size bytes of the file base in the open directory dir (its size
// when it was looked at, st), without following a symlink planted there since, and only
// if it is still the file that was looked at.
func copyFile(w io.Writer, dir *os.File, base string, st *syscall.Stat_t, size int64) error {
	fd, err := unix.Openat(int(dir.Fd()), base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("read %s: %w", base, err)
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	var now unix.Stat_t
	if err := unix.Fstat(fd, &now); err != nil || now.Ino != st.Ino || now.Dev != st.Dev {
		return fmt.Errorf("read %s: it changed while it was being archived", base)
	}
	if _, err := io.CopyN(w, f, size); err != nil {
		return fmt.Errorf("read %s: %w", base, err)
	}
	return nil
}

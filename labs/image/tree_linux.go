package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"

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
// With overlayMarkers, dir is an overlay upper directory and its markers become OCI
// whiteouts: a whiteout becomes an empty file ".wh.NAME" and an opaque directory gets a
// ".wh..wh..opq" entry, which is how a container's changes become an image layer.
//
// Equivalent to: `tar --one-file-system -C DIR -cf - .`.
func writeTree(w io.Writer, dir string, overlayMarkers bool) error {
	var rootStat unix.Stat_t
	if err := unix.Stat(dir, &rootStat); err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	tw := tar.NewWriter(w)
	type inode struct{ dev, ino uint64 }
	linked := map[inode]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		// lab:07 begin: with overlayMarkers, an overlay whiteout (overlay.IsWhiteout) becomes an empty regular file ".wh.NAME" beside it
		if overlayMarkers && overlay.IsWhiteout(info) {
			return tw.WriteHeader(&tar.Header{
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
			if hdr.Linkname, err = os.Readlink(p); err != nil {
				return err
			}
			hdr.Typeflag = tar.TypeSymlink
		case fs.ModeDevice | fs.ModeCharDevice:
			hdr.Typeflag, hdr.Devmajor, hdr.Devminor = tar.TypeChar, int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		case fs.ModeDevice:
			hdr.Typeflag, hdr.Devmajor, hdr.Devminor = tar.TypeBlock, int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		case fs.ModeNamedPipe:
			hdr.Typeflag = tar.TypeFifo
		default:
			return nil // a socket: tar has no type for it, and it means nothing once its server is gone
		}
		if hdr.Typeflag != tar.TypeLink {
			if err := addCapabilities(hdr, p); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		switch {
		case hdr.Typeflag == tar.TypeReg:
			return copyFile(tw, p, hdr.Size)
		case hdr.Typeflag != tar.TypeDir:
			return nil
		case st.Dev != rootStat.Dev:
			return fs.SkipDir
		}
		if overlayMarkers {
			opaque, err := overlay.IsOpaque(p)
			if err != nil {
				return err
			}
			if opaque {
				return tw.WriteHeader(&tar.Header{Name: name + "/" + opaqueMarker, Typeflag: tar.TypeReg, ModTime: info.ModTime()})
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	return tw.Close()
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

// copyFile copies exactly size bytes of the file at p (its size when it was looked at)
// without following a symlink planted there since.
func copyFile(w io.Writer, p string, size int64) error {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(w, f, size); err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	return nil
}

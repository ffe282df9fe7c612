package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"containerlabs/labs/overlay"
	"containerlabs/labs/rootfs"
)

// The OCI whiteout names (image-spec, layer.md).
const (
	whiteoutPrefix = ".wh."
	// whiteoutMeta prefixes names that describe the layer rather than delete something;
	// only the opaque marker is defined (AUFS used others, such as .wh..wh.plnk).
	whiteoutMeta = ".wh..wh."
	opaqueMarker = ".wh..wh..opq"
)

// unpackLayer unpacks the layer tar r into dir, which must exist and be empty, in the form
// overlayfs reads: ".wh.NAME" becomes a whiteout (a 0/0 character device) named NAME, and
// ".wh..wh..opq" marks its directory opaque. Everything else goes through rootfs.Unpacker,
// which never writes outside dir: names with "..", paths through symlinks and hardlinks to
// outside are refused with rootfs.ErrUnsafeEntry, absolute names land inside, and symlinks
// are written as they are, never followed. Whiteouts take the same path, so a whiteout
// "through" a symlinked directory is refused like any other entry.
//
// Equivalent to: `tar -xpf LAYER -C DIR`, plus the whiteout conversion.
func unpackLayer(r io.Reader, dir string) error {
	u, err := rootfs.NewUnpacker(dir)
	if err != nil {
		return err
	}
	defer u.Close()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read layer tar: %w", err)
		}
		if err := unpackEntry(u, hdr, tr); err != nil {
			return err
		}
	}
	return u.Close()
}

func unpackEntry(u *rootfs.Unpacker, hdr *tar.Header, body io.Reader) error {
	// lab:07 begin: OCI whiteouts: ".wh..wh..opq" marks its directory opaque (u.SetXattr of overlay.OpaqueXattrHere()), ".wh.NAME" becomes an overlay whiteout of NAME (overlay.MakeWhiteoutAt) unless this layer has NAME itself; other ".wh..wh." entries are skipped
	name, err := rootfs.CleanName(hdr.Name)
	if err != nil {
		return err
	}
	base := path.Base(name)
	switch {
	case base == opaqueMarker:
		parent, _, err := u.OpenParent(name, true)
		if err != nil {
			return err
		}
		defer parent.Close()
		// "." names the directory parent itself, which is the one to mark.
		return u.SetXattr(parent, ".", overlay.OpaqueXattrHere(), overlay.OpaqueValue)
	case strings.HasPrefix(base, whiteoutMeta):
		return nil
	case strings.HasPrefix(base, whiteoutPrefix):
		target := strings.TrimPrefix(base, whiteoutPrefix)
		if target == "." || target == ".." {
			return fmt.Errorf("whiteout %q names no file: %w", hdr.Name, rootfs.ErrUnsafeEntry)
		}
		parent, _, err := u.OpenParent(name, true)
		if err != nil {
			return err
		}
		defer parent.Close()
		// A whiteout deletes from the layers below only. If this layer has the name
		// itself, its own entry already hides theirs, and must stay.
		var st unix.Stat_t
		if err := unix.Fstatat(int(parent.Fd()), target, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
			return nil
		}
		return overlay.MakeWhiteoutAt(parent, target)
	}
	// lab:07 end
	// overlay.* attributes would change how overlayfs reads the layer (an opaque mark, a
	// redirect): only whiteout entries may make those.
	for key := range hdr.PAXRecords {
		if strings.HasPrefix(key, "SCHILY.xattr.user.overlay.") || strings.HasPrefix(key, "SCHILY.xattr.user.fuseoverlayfs.") ||
			strings.HasPrefix(key, "SCHILY.xattr.trusted.") {
			delete(hdr.PAXRecords, key)
		}
	}
	return u.Write(hdr, body)
}

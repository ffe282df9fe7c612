package engine

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"containerlabs/labs/image"
	"containerlabs/labs/rootfs"
)

// withRoot runs f with the container's merged root file system mounted: it is while the
// container runs, and is mounted for the moment otherwise.
func (e *Engine) withRoot(ref string, f func(c *Container, root string) error) error {
	c, err := e.Store.Get(ref)
	if err != nil {
		return err
	}
	unlock, err := e.Store.Lock(c.ID)
	if err != nil {
		return err
	}
	defer unlock()
	if c, err = e.Store.Get(c.ID); err != nil {
		return err
	}
	if !c.State.Running() {
		if err := e.mountRootfs(c); err != nil {
			return err
		}
		defer e.unmountRootfs(c)
	}
	return f(c, filepath.Join(e.Store.Dir(c.ID), "rootfs"))
}

// Export writes a container's files, as its root shows them, as one plain tar, as `docker
// export` does. Volumes are not part of it: they are not the container's.
func (e *Engine) Export(ref string, w io.Writer) error {
	return e.withRoot(ref, func(_ *Container, root string) error { return image.ExportDir(w, root) })
}

// openInContainer opens path as the container sees it: in the volume or bind mount that
// covers it, else in its root file system, looked up by the kernel inside that directory
// (rootfs.OpenInRoot: openat2 RESOLVE_IN_ROOT). A symlink the container planted leads to
// its own files, never the host's, and the container cannot swap one in while we look:
// `docker cp` once resolved the path first and opened it later, and a container that
// changed a directory into a symlink in between read or wrote any host file
// (CVE-2018-15664). flags are open(2)'s.
func openInContainer(c *Container, root, inside string, flags int) (*os.File, error) {
	inside = filepath.Join("/", inside)
	best := Mount{}
	for _, m := range c.Mounts {
		if (inside == m.Destination || strings.HasPrefix(inside, m.Destination+"/")) && len(m.Destination) > len(best.Destination) {
			best = m
		}
	}
	if best.Destination != "" {
		root, inside = best.Source, strings.TrimPrefix(inside, best.Destination)
	}
	dir, err := rootfs.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	return rootfs.OpenInRoot(dir, inside, flags)
}

// CopyFrom writes the file or directory at path inside the container to w, as a tar whose
// entries start with the path's last element, as `docker cp CONTAINER:PATH -` does. A
// symlink at the end of path is copied as a symlink.
func (e *Engine) CopyFrom(ref, path string, w io.Writer) error {
	return e.withRoot(ref, func(c *Container, root string) error {
		f, err := openInContainer(c, root, path, unix.O_PATH|unix.O_NOFOLLOW)
		if err != nil {
			return fmt.Errorf("cp: %s in %s: %w", path, c.Name, err)
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return fmt.Errorf("cp: %s in %s: %w", path, c.Name, err)
		}
		// The open file from here on, by its /proc name: whatever happens to the path.
		return TarPath(w, rootfs.FdPath(f), filepath.Base(filepath.Join("/", path)), info)
	})
}

// TarPath writes what is at src (described by info) as the tar `docker cp` makes of it:
// one entry named name for a file or a symlink (not followed), or for a directory an
// entry name/ followed by its whole tree under name/. Both directions of cp use it: a
// container's path read through its root, and a host's path on its way in.
func TarPath(w io.Writer, src, name string, info os.FileInfo) error {
	tw := tar.NewWriter(w)
	hdr, err := tar.FileInfoHeader(info, "")
	if err != nil {
		return err
	}
	hdr.Name = name
	if info.IsDir() {
		hdr.Name += "/"
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(image.ExportDir(pw, src)) }()
		if err := prefixTar(tar.NewReader(pr), tw, name); err != nil {
			return err
		}
		return tw.Close()
	}
	if info.Mode()&os.ModeSymlink != 0 {
		if hdr.Linkname, err = readLink(src); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if info.Mode().IsRegular() {
		f, err := os.OpenFile(src, os.O_RDONLY|unix.O_NONBLOCK, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.Copy(tw, f); err != nil {
			return err
		}
	}
	return tw.Close()
}

// prefixTar copies the entries of r to w with prefix/ before each name.
func prefixTar(r *tar.Reader, w *tar.Writer, prefix string) error {
	for {
		hdr, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		if name == "" || name == "." {
			continue
		}
		hdr.Name = prefix + "/" + name
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = prefix + "/" + strings.TrimPrefix(hdr.Linkname, "./")
		}
		if err := w.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(w, r); err != nil {
			return err
		}
	}
}

// CopyTo unpacks the tar stream r into the directory dir inside the container, as `docker
// cp - CONTAINER:DIR` does. dir is opened inside the container (openInContainer) and the
// unpacking goes on from that descriptor, never leaving it whatever links the container
// has planted there (rootfs.Unpacker walks with openat and O_NOFOLLOW).
func (e *Engine) CopyTo(ref, dir string, r io.Reader) error {
	return e.withRoot(ref, func(c *Container, root string) error {
		dst, err := openInContainer(c, root, dir, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return fmt.Errorf("cp: %s in %s is not a directory: %w", dir, c.Name, err)
		}
		defer dst.Close()
		return rootfs.ExtractTar(r, rootfs.FdPath(dst))
	})
}

// readLink reads a symlink, also one opened with O_PATH|O_NOFOLLOW and named by its /proc
// path (readlinkat with an empty name reads the link the descriptor is).
func readLink(p string) (string, error) {
	if fd, ok := strings.CutPrefix(p, "/proc/self/fd/"); ok && !strings.Contains(fd, "/") {
		n, err := strconv.Atoi(fd)
		if err != nil {
			return "", err
		}
		buf := make([]byte, 4096)
		size, err := unix.Readlinkat(n, "", buf)
		if err != nil {
			return "", err
		}
		return string(buf[:size]), nil
	}
	return os.Readlink(p)
}

package engine

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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

// hostPath finds where a path inside the container is on the host: in a volume or bind
// mount if one covers it, in the root file system otherwise. Symlinks are followed inside
// the container's view only (rootfs.Resolve), so a container's link to /etc/shadow leads
// to its own /etc/shadow, never the host's.
func hostPath(c *Container, root, inside string) (string, error) {
	inside = filepath.Join("/", inside)
	best := Mount{}
	for _, m := range c.Mounts {
		if (inside == m.Destination || strings.HasPrefix(inside, m.Destination+"/")) && len(m.Destination) > len(best.Destination) {
			best = m
		}
	}
	if best.Destination != "" {
		return rootfs.Resolve(best.Source, strings.TrimPrefix(inside, best.Destination))
	}
	return rootfs.Resolve(root, inside)
}

// CopyFrom writes the file or directory at path inside the container to w, as a tar whose
// entries start with the path's last element, as `docker cp CONTAINER:PATH -` does.
func (e *Engine) CopyFrom(ref, path string, w io.Writer) error {
	return e.withRoot(ref, func(c *Container, root string) error {
		src, err := hostPath(c, root, path)
		if err != nil {
			return err
		}
		info, err := os.Lstat(src)
		if err != nil {
			return fmt.Errorf("cp: %s in %s: %w", path, c.Name, err)
		}
		return TarPath(w, src, filepath.Base(filepath.Join("/", path)), info)
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
		hdr.Linkname, _ = os.Readlink(src)
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if info.Mode().IsRegular() {
		f, err := os.Open(src)
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
// cp - CONTAINER:DIR` does. The unpacking never leaves dir, whatever links the container
// has planted there (rootfs.Unpacker).
func (e *Engine) CopyTo(ref, dir string, r io.Reader) error {
	return e.withRoot(ref, func(c *Container, root string) error {
		dst, err := hostPath(c, root, dir)
		if err != nil {
			return err
		}
		if info, err := os.Stat(dst); err != nil || !info.IsDir() {
			return fmt.Errorf("cp: %s in %s is not a directory", dir, c.Name)
		}
		return rootfs.ExtractTar(r, dst)
	})
}

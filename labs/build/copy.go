package build

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"containerlabs/labs/rootfs"
)

// item is one file COPY or ADD copies from its source: the build context, or another
// stage's root file system.
type item struct {
	// name is where the item goes, relative to the destination directory: a top-level
	// file's own name, or a path inside a copied directory (whose contents are copied,
	// not the directory itself, as Docker does).
	name     string
	path     string // on the host
	info     fs.FileInfo
	topLevel bool // a source named on the instruction line, not found in a directory
	archive  bool // ADD extracts it: a local tar archive (plain or gzip)
}

// collectSources lists what the sources (paths or patterns relative to root) name. Files
// the context's .dockerignore excludes do not exist for it. Paths are resolved inside
// root, so a symlink in a stage's file system can never lead to the host's files.
func collectSources(root string, ignore *Ignore, srcs []string, add bool) ([]item, error) {
	var items []item
	for _, src := range srcs {
		if strings.Contains(src, "://") {
			return nil, fmt.Errorf("%s: URLs are not supported: download the file into the build context, then ADD or COPY it", src)
		}
		rel := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(src)), "/")
		if clean := path.Clean(filepath.ToSlash(src)); clean == ".." || strings.HasPrefix(clean, "../") {
			return nil, fmt.Errorf("%s is outside the build context", src)
		}
		matches := []string{rel}
		if strings.ContainsAny(rel, "*?[") {
			globbed, err := filepath.Glob(filepath.Join(root, rel))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", src, err)
			}
			matches = matches[:0]
			for _, m := range globbed {
				r, err := filepath.Rel(root, m)
				if err == nil && !strings.HasPrefix(r, "..") {
					matches = append(matches, filepath.ToSlash(r))
				}
			}
		}
		found := 0
		for _, m := range matches {
			if ignore.Ignored(m) {
				continue
			}
			host, err := rootfs.Resolve(root, m)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", src, err)
			}
			info, err := os.Stat(host)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", src, err)
			}
			found++
			if !info.IsDir() {
				it := item{name: path.Base("/" + m), path: host, info: info, topLevel: true}
				if add && info.Mode().IsRegular() {
					if it.archive, err = isTarArchive(host); err != nil {
						return nil, err
					}
				}
				items = append(items, it)
				continue
			}
			walked, err := walkDir(root, m, host, ignore)
			if err != nil {
				return nil, err
			}
			items = append(items, walked...)
		}
		if found == 0 {
			return nil, fmt.Errorf("%s: no such file or directory in the build context (or excluded by .dockerignore)", src)
		}
	}
	return items, nil
}

// walkDir lists what is inside the directory host (rel in the context), in lexical order.
func walkDir(root, rel, host string, ignore *Ignore) ([]item, error) {
	var items []item
	err := filepath.WalkDir(host, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == host {
			return nil
		}
		sub, _ := filepath.Rel(host, p)
		sub = filepath.ToSlash(sub)
		if ignore.Ignored(path.Join(rel, sub)) {
			if d.IsDir() && !ignore.hasExceptions() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode()&(fs.ModeSocket|fs.ModeNamedPipe) != 0 {
			return nil // not files: Docker skips them too
		}
		items = append(items, item{name: sub, path: p, info: info})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	return items, nil
}

// isTarArchive reports whether file is a tar archive (plain or gzip-compressed), which
// ADD extracts instead of copying.
func isTarArchive(file string) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	stream, err := rootfs.Decompress(f)
	if err != nil {
		return false, nil
	}
	_, err = tar.NewReader(stream).Next()
	return err == nil, nil
}

// contentDigest hashes what the items would copy, for the cache key: names, types,
// permissions, link targets and contents. Times are left out, as Docker leaves them out,
// so that a fresh checkout of the same files still hits the cache.
func contentDigest(items []item) (string, error) {
	h := sha256.New()
	for _, it := range items {
		link := ""
		if it.info.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(it.path)
		}
		fmt.Fprintf(h, "%s\x00%s\x00%v\x00%s\x00", it.name, it.info.Mode(), it.archive, link)
		if it.info.Mode().IsRegular() {
			f, err := os.Open(it.path)
			if err != nil {
				return "", err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return "", fmt.Errorf("read %s: %w", it.path, err)
			}
		}
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ownership is what --chown and --chmod ask for. Without --chown, copied files belong to
// root, whoever owns them in the context; extracted archives keep their owners.
type ownership struct {
	uid, gid int
	chown    bool
	mode     *int64
}

// parseChmod reads --chmod's octal mode.
func parseChmod(s string) (*int64, error) {
	if s == "" {
		return nil, nil
	}
	m, err := strconv.ParseInt(s, 8, 32)
	if err != nil || m > 0o7777 {
		return nil, fmt.Errorf("--chmod=%s: want an octal mode such as 755", s)
	}
	return &m, nil
}

// copyTar writes the items as one tar stream whose names are relative to the destination
// directory: single, if set, renames the one top-level file (COPY file /path/newname).
// Archives are written entry by entry, so extracting the stream extracts them.
func copyTar(w io.Writer, items []item, single string, own ownership) error {
	tw := tar.NewWriter(w)
	for _, it := range items {
		if it.archive {
			if err := copyArchive(tw, it.path, own); err != nil {
				return err
			}
			continue
		}
		link := ""
		if it.info.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(it.path)
		}
		hdr, err := tar.FileInfoHeader(it.info, link)
		if err != nil {
			return fmt.Errorf("copy %s: %w", it.path, err)
		}
		hdr.Name = it.name
		if it.topLevel && single != "" {
			hdr.Name = single
		}
		if it.info.IsDir() {
			hdr.Name += "/"
		}
		setOwner(hdr, own, true)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if it.info.Mode().IsRegular() {
			f, err := os.Open(it.path)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("copy %s: %w", it.path, err)
			}
		}
	}
	return tw.Close()
}

func setOwner(hdr *tar.Header, own ownership, always bool) {
	if own.chown || always {
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = own.uid, own.gid, "", ""
	}
	if own.mode != nil {
		hdr.Mode = hdr.Mode&^0o7777 | *own.mode
	}
}

// copyArchive copies the entries of the tar archive file into tw.
func copyArchive(tw *tar.Writer, file string, own ownership) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	stream, err := rootfs.Decompress(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(stream)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", file, err)
		}
		setOwner(hdr, own, false)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return fmt.Errorf("extract %s: %w", file, err)
		}
	}
}

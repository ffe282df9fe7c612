package rootfs

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// ErrUnsafeEntry marks a tar entry that would write outside the destination directory.
// Extraction stops at the first one; nothing outside the destination has been touched.
var ErrUnsafeEntry = errors.New("unsafe tar entry")

// ExtractTar unpacks the tar stream r (plain or gzip-compressed) into dir, which must
// exist, without ever writing outside it. That is the promise `tar -x` does not keep for a
// hostile archive, and the one every container engine must keep for images it downloads.
//
// An entry named "/etc/passwd" lands at dir/etc/passwd (the leading slash is dropped, as tar
// does). Entries that climb out with "..", that pass through a symlink (the archive creates
// "lib -> /" and then writes "lib/etc/shadow"), or hardlinks to a file outside the
// archive's tree are refused with an error wrapping ErrUnsafeEntry. Symlinks themselves may
// point anywhere: inside a container an absolute target resolves within its own root, and
// extraction never follows them.
//
// Equivalent to: `tar -xpf FILE -C DIR`, minus the ways that command can be tricked.
func ExtractTar(r io.Reader, dir string) error {
	stream, err := Decompress(r)
	if err != nil {
		return err
	}
	u, err := NewUnpacker(dir)
	if err != nil {
		return err
	}
	defer u.Close()
	tr := tar.NewReader(stream)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if err := u.Write(hdr, tr); err != nil {
			return err
		}
	}
	return u.Close()
}

// Decompress returns r itself for an uncompressed stream, or a reader that decompresses it
// when it starts with the gzip magic bytes.
func Decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read gzip header: %w", err)
		}
		return gz, nil
	}
	return br, nil
}

// CleanName turns a tar entry name into a path relative to the extraction root. A leading
// "/" or "./" is dropped; a ".." component makes the entry unsafe. The root itself is ".".
func CleanName(name string) (string, error) {
	for part := range strings.SplitSeq(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("entry %q climbs out of the root with \"..\": %w", name, ErrUnsafeEntry)
		}
	}
	clean := path.Clean("/" + name)
	if clean == "/" {
		return ".", nil
	}
	return clean[1:], nil
}

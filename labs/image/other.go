//go:build !linux

package image

import (
	"errors"
	"io"
)

var errNotLinux = errors.New("unpacking and archiving layers needs Linux (openat without following symlinks, overlay whiteouts)")

func unpackLayer(r io.Reader, dir string) error { return errNotLinux }

func writeTree(w io.Writer, dir string, overlayMarkers bool) error { return errNotLinux }

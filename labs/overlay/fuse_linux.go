package overlay

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// FuseOverlayfs is the program MountFuse runs (Debian package fuse-overlayfs).
const FuseOverlayfs = "fuse-overlayfs"

// FuseOpaqueXattr is the opaque mark fuse-overlayfs writes when it runs as an ordinary user
// (or root of a user namespace). It reads trusted.overlay.opaque and user.overlay.opaque
// too, so layers unpacked for either kernel overlay serve it unchanged.
const FuseOpaqueXattr = "user.fuseoverlayfs.opaque"

// MountFuse mounts at target what Mount would, with fuse-overlayfs: overlayfs's format (the
// same layers, whiteouts and upper directory) implemented in a user-space process over
// FUSE. A rootless engine uses it where the kernel refuses overlayfs to a user namespace
// (Linux before 5.11, or a kernel built without it): mounting a FUSE file system there is
// allowed since Linux 4.18. Every file access then crosses into the fuse-overlayfs process
// and back, so it is slower than the kernel's overlay; it leaves the container's changes
// in upper as overlay would, so Diff and commits read them the same way. fuse-overlayfs
// stays in the background until target is unmounted.
//
// Equivalent to: `fuse-overlayfs -o lowerdir=TOP:...:BOTTOM,upperdir=UPPER,workdir=WORK TARGET`.
func MountFuse(layers []string, upper, work, target string) error {
	path, err := exec.LookPath(FuseOverlayfs)
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w (Debian package fuse-overlayfs)", FuseOverlayfs, target, err)
	}
	abs, upper, work, target, err := prepare(layers, upper, work, target)
	if err != nil {
		return err
	}
	// Mount's options, checked the same way, without the kernel's feature switches, which
	// fuse-overlayfs does not know (its format has none of those features anyway).
	opts, err := mountOptions(abs, upper, work, false, os.Getpagesize())
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w", FuseOverlayfs, target, err)
	}
	opts, _, _ = strings.Cut(opts, ",index=")
	if out, err := exec.Command(path, "-o", opts, target).CombinedOutput(); err != nil {
		return fmt.Errorf("mount %s on %s: %w: %s", FuseOverlayfs, target, err, strings.TrimSpace(string(out)))
	}
	return nil
}

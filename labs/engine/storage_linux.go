package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"containerlabs/labs/overlay"
)

// Storage drivers: what mounts a container's root from its image's layers.
const (
	// DriverOverlay is the kernel's overlayfs (lab 05), in a user namespace with
	// "userxattr" (Linux 5.11 and later).
	DriverOverlay = "overlay"
	// DriverFuse is fuse-overlayfs (overlay.MountFuse): a rootless engine's fallback where
	// the kernel refuses overlayfs to a user namespace.
	DriverFuse = "fuse-overlayfs"
)

// EnvStorageDriver chooses a rootless engine's storage driver ("fuse-overlayfs") instead
// of trying the kernel's overlay first, as podman's mount_program setting does.
const EnvStorageDriver = "CONTAINERLABS_STORAGE_DRIVER"

// driverFile, in a rootless engine's runtime directory, remembers the driver chosen for
// the life of its user namespace, and why: "fuse-overlayfs\nREASON\n".
const driverFile = "storage-driver"

// storageDriver is the driver new containers' roots are mounted with: overlay for root;
// for a rootless engine, overlay if the kernel mounts one in the user namespace (tried once
// per namespace, on an empty overlay), else fuse-overlayfs, with the reason.
func (e *Engine) storageDriver() (driver, reason string, err error) {
	if e.Rootless == nil {
		return DriverOverlay, "", nil
	}
	switch forced := os.Getenv(EnvStorageDriver); forced {
	case "":
	case DriverOverlay, DriverFuse:
		return forced, EnvStorageDriver + "=" + forced, nil
	default:
		return "", "", fmt.Errorf("%s=%q: want %s or %s", EnvStorageDriver, forced, DriverOverlay, DriverFuse)
	}
	record := filepath.Join(e.Rootless.RuntimeDir, driverFile)
	if data, err := os.ReadFile(record); err == nil {
		driver, reason, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
		return driver, reason, nil
	}
	driver = DriverOverlay
	if err := e.probeOverlay(); err != nil {
		driver, reason = DriverFuse, fmt.Sprintf("the kernel refused overlayfs in the user namespace (%v; Linux 5.11 and later allow it)", err)
	}
	if err := os.WriteFile(record, []byte(driver+"\n"+reason+"\n"), 0o600); err != nil {
		return "", "", err
	}
	return driver, reason, nil
}

// StorageNote says, for a rootless engine that mounts its containers' roots with
// fuse-overlayfs, that it does and why; it is empty otherwise.
func (e *Engine) StorageNote() string {
	driver, reason, err := e.storageDriver()
	if err != nil || driver == DriverOverlay {
		return ""
	}
	return "rootless: containers' roots are mounted with " + driver + ": " + reason
}

// probeOverlay mounts and unmounts an overlay of an empty layer, in a scratch directory
// on the state root's file system (where the containers' upper directories are).
func (e *Engine) probeOverlay() error {
	dir, err := os.MkdirTemp(e.Root, "probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	lower, merged := filepath.Join(dir, "lower"), filepath.Join(dir, "merged")
	if err := os.Mkdir(lower, 0o755); err != nil {
		return err
	}
	if err := overlay.Mount([]string{lower}, filepath.Join(dir, "upper"), filepath.Join(dir, "work"), merged); err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) {
			return errno
		}
		return err
	}
	return overlay.Unmount(merged)
}

// mountLayers mounts layers under upper at target with driver. A scratch upper directory
// (a --rm container's, deleted with it) is mounted volatile: the kernel never syncs the
// disk for it (see overlay.MountVolatile).
func mountLayers(driver string, layers []string, upper, work, target string, scratch bool) error {
	switch {
	case driver == DriverFuse:
		return overlay.MountFuse(layers, upper, work, target)
	case scratch:
		return overlay.MountVolatile(layers, upper, work, target)
	}
	return overlay.Mount(layers, upper, work, target)
}

// MountLayers mounts layers under upper at target with the engine's storage driver, as a
// container's root is mounted: what a build's COPY step writes its files through.
func (e *Engine) MountLayers(layers []string, upper, work, target string) error {
	driver, _, err := e.storageDriver()
	if err != nil {
		return err
	}
	return mountLayers(driver, layers, upper, work, target, false)
}

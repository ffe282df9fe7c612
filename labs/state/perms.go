package state

import (
	"fmt"
	"os"

	"containerlabs/labs/namespace"
)

// Who may enter the state root. Everything under it is root's: images with setuid-root
// binaries in their layers, containers' writable layers and running root file systems,
// logs, volumes. A directory that lets other users pass (mode o+x) is enough for any local
// user who learns a path (the mount table shows every container's) to run a setuid-root
// binary of any image, or read a container's files: Docker's data root was 0701 until
// CVE-2021-41091 and is 0710 since, podman's store is 0700.
//
// So each directory of the stores is closed to other users (ClosedDir, 0700), except the
// few that a lab's --userns container must pass through (PassageDir, 0710): its root runs
// as uid and gid namespace.DefaultIDMap.Outside on the host, and mounts its image's layers
// and its own writable layer itself. Those directories let exactly that group pass, and
// nobody else, as Docker's data root lets the group of its remapped root pass with
// userns-remap. What lies below them (a layer's files, a container's writable layer) keeps
// the modes of the container's own files, because the directories above it are closed.

// PassageGroup is the group that may pass through the state root's passage directories:
// the host gid of a lab's --userns container's root.
var PassageGroup = namespace.DefaultIDMap.Outside

// ClosedDir makes dir (and any missing parent) and closes it to everyone but its owner,
// root: mode 0700. An existing directory is closed too, so a state root made by an older
// version is fixed on its next use.
//
// Equivalent to: `mkdir -p DIR && chmod 0700 DIR`.
func ClosedDir(dir string) error {
	return private(dir, 0o700, -1)
}

// PassageDir makes dir, owned by group PassageGroup, and lets only that group pass
// through it, without listing it: mode 0710.
//
// Equivalent to: `mkdir -p DIR && chgrp 100000 DIR && chmod 0710 DIR`.
func PassageDir(dir string) error {
	return private(dir, 0o710, PassageGroup)
}

func private(dir string, mode os.FileMode, gid int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("make %s: %w", dir, err)
	}
	if gid >= 0 {
		if err := os.Lchown(dir, -1, gid); err != nil {
			return fmt.Errorf("give %s to group %d: %w", dir, gid, err)
		}
	}
	if err := os.Chmod(dir, mode); err != nil {
		return fmt.Errorf("chmod %04o %s: %w", mode, dir, err)
	}
	return nil
}

package engine

import (
	"path/filepath"

	"containerlabs/labs/mount"
)

// isMountPoint reports whether something is mounted at dir.
func isMountPoint(dir string) (bool, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false, err
	}
	table, err := mount.Table()
	if err != nil {
		return false, err
	}
	for _, m := range table {
		if m.Target == real {
			return true, nil
		}
	}
	return false, nil
}

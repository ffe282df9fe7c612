package labtest

import (
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"containerlabs/labs/procfs"
)

// The kernel's view of a process, read from the host: what a check trusts more than any
// output of the program under test.

// RootedIn returns the PIDs of the processes whose root directory is dir: the same file (device
// and inode) as dir, seen through /proc/PID/root. The link's text is no help: for a process
// that called pivot_root it reads "/" from the host, since the path is relative to the
// process's own root.
func RootedIn(dir string) ([]int, error) {
	var want unix.Stat_t
	if err := unix.Stat(dir, &want); err != nil {
		return nil, err
	}
	all, err := procfs.PIDs()
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, pid := range all {
		var st unix.Stat_t
		if unix.Stat(filepath.Join("/proc", strconv.Itoa(pid), "root"), &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

package labtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"containerlabs/labs/mount"
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
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(filepath.Join("/proc", e.Name(), "root"), &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// CgroupFile reads a file of the cgroup that process pid is in, for controller: the v1 file
// on a v1 hierarchy of that controller, the v2 file in the unified hierarchy otherwise
// (CgroupFile(pid, "memory", "memory.limit_in_bytes", "memory.max")). It returns the
// content, trimmed, and the cgroup's path, as the host sees it.
func CgroupFile(pid int, controller, v1, v2 string) (value, path string, err error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return "", "", err
	}
	table, err := mount.Table()
	if err != nil {
		return "", "", err
	}
	var unified string
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" {
			unified = parts[2]
			continue
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			if c != controller {
				continue
			}
			for _, m := range table {
				if m.FSType == "cgroup" && strings.Contains(","+m.SuperOptions+",", ","+controller+",") {
					content, err := os.ReadFile(filepath.Join(m.Target, parts[2], v1))
					return strings.TrimSpace(string(content)), parts[2], err
				}
			}
		}
	}
	for _, m := range table {
		if m.FSType != "cgroup2" {
			continue
		}
		content, err := os.ReadFile(filepath.Join(m.Target, unified, v2))
		if err == nil {
			return strings.TrimSpace(string(content)), unified, nil
		}
	}
	return "", "", fmt.Errorf("process %d is in no cgroup with %s (%s or %s)", pid, controller, v1, v2)
}

// CPUUsage returns the CPU time used so far by the cgroup that process pid is in, read
// from the cgroup's own accounting (cpuacct.usage on v1, usage_usec in cpu.stat on v2),
// so a check can measure what a container got over an interval without trusting the lab's
// own report.
func CPUUsage(pid int) (time.Duration, error) {
	value, _, err := CgroupFile(pid, "cpuacct", "cpuacct.usage", "cpu.stat")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(value, "\n") {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			us, err := strconv.ParseInt(v, 10, 64)
			return time.Duration(us) * time.Microsecond, err
		}
	}
	ns, err := strconv.ParseInt(value, 10, 64)
	return time.Duration(ns), err
}

package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"containerlabs/labs/mount"
)

// Of returns the directories of the cgroups process pid is in, as the host sees them: on
// cgroup v1 one per controller ("memory": "/sys/fs/cgroup/memory/containerlabs/c1"), and
// the group in the unified (v2) hierarchy under the key "", where the host has one. It
// reads what the kernel says, /proc/PID/cgroup and the mount table, never a record of
// ours, so it tells where a process really is.
//
// Equivalent to: `cat /proc/PID/cgroup` and findmnt -t cgroup,cgroup2.
func Of(pid int) (map[string]string, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return nil, fmt.Errorf("read the cgroups of process %d: %w", pid, err)
	}
	table, err := mount.Table()
	if err != nil {
		return nil, err
	}
	dirs := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		// "4:memory:/containerlabs/c1" on v1, "0::/containerlabs/c1" for v2.
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, m := range table {
			switch {
			case parts[0] == "0" && m.FSType == "cgroup2":
				dirs[""] = filepath.Join(m.Target, parts[2])
			case parts[0] != "0" && m.FSType == "cgroup":
				for c := range strings.SplitSeq(parts[1], ",") {
					if c != "" && strings.Contains(","+m.SuperOptions+",", ","+c+",") {
						dirs[c] = filepath.Join(m.Target, parts[2])
					}
				}
			}
		}
	}
	return dirs, nil
}

// ReadOf reads a file of the cgroup process pid is in, for controller: the v1 file in that
// controller's hierarchy where it has one, the v2 file in the unified hierarchy otherwise
// (ReadOf(pid, "memory", "memory.limit_in_bytes", "memory.max")). It returns the content,
// trimmed, and the cgroup's directory.
func ReadOf(pid int, controller, v1, v2 string) (value, dir string, err error) {
	dirs, err := Of(pid)
	if err != nil {
		return "", "", err
	}
	file := v1
	dir, ok := dirs[controller]
	if !ok {
		file, dir, ok = v2, dirs[""], dirs[""] != ""
	}
	if !ok {
		return "", "", fmt.Errorf("process %d is in no cgroup with the %s controller", pid, controller)
	}
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return "", dir, fmt.Errorf("read the %s controller's %s: %w", controller, file, err)
	}
	return strings.TrimSpace(string(data)), dir, nil
}

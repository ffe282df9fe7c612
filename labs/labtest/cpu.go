package labtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"containerlabs/labs/mount"
)

// CPUUsage returns the CPU time used so far by the cgroup that process pid is in, read
// from the cgroup's own accounting (cpuacct.usage on v1, usage_usec in cpu.stat on v2),
// so a check can measure what a container got over an interval without trusting the lab's
// own report.
func CPUUsage(pid int) (time.Duration, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return 0, err
	}
	table, err := mount.Table()
	if err != nil {
		return 0, err
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
			if c != "cpuacct" {
				continue
			}
			for _, m := range table {
				if m.FSType == "cgroup" && strings.Contains(","+m.SuperOptions+",", ",cpuacct,") {
					usage, err := os.ReadFile(filepath.Join(m.Target, parts[2], "cpuacct.usage"))
					if err != nil {
						return 0, err
					}
					ns, err := strconv.ParseInt(strings.TrimSpace(string(usage)), 10, 64)
					return time.Duration(ns), err
				}
			}
		}
	}
	for _, m := range table {
		if m.FSType != "cgroup2" {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(m.Target, unified, "cpu.stat"))
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(stat), "\n") {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				us, err := strconv.ParseInt(v, 10, 64)
				return time.Duration(us) * time.Microsecond, err
			}
		}
	}
	return 0, fmt.Errorf("no CPU accounting found for process %d", pid)
}

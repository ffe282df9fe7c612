package procfs

import (
	"fmt"
	"os"
	"strconv"
)

// PIDs lists the processes /proc shows: each is a directory named by its PID, in the PID
// namespace of the procfs mounted there. ps(1) starts from the same listing.
//
// Equivalent to: `ls /proc | grep -E '^[0-9]+$'`.
func PIDs() ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes in /proc: %w", err)
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

//go:build linux && cgo

package sparemonitor

// extern int labs_spare_monitor_fd;
// extern int labs_spare_monitor_pid;
import "C"

import (
	"os"
	"sync"
)

var taken sync.Mutex

// Take hands over the spare monitor: its PID (a child of this process) and this process's
// end of the socket pair at its descriptor 3. It returns ok false when there is none: the
// constructor did not start one, or it was taken already.
func Take() (pid int, conn *os.File, ok bool) {
	taken.Lock()
	defer taken.Unlock()
	if C.labs_spare_monitor_fd < 0 {
		return 0, nil, false
	}
	pid, conn = int(C.labs_spare_monitor_pid), os.NewFile(uintptr(C.labs_spare_monitor_fd), "spare monitor")
	C.labs_spare_monitor_fd = -1
	return pid, conn, true
}

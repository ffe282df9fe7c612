//go:build !linux || !cgo

package sparemonitor

import "os"

// Take returns ok false: without cgo (or off Linux) there is no constructor, and Start
// executes each monitor when it needs it.
func Take() (pid int, conn *os.File, ok bool) { return 0, nil, false }

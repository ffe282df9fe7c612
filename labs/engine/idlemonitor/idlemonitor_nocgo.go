//go:build !linux || !cgo

package idlemonitor

// Available reports whether the constructor is part of this binary: without cgo (or off
// Linux) it is not, and a monitor stays the Go monitor to the end.
const Available = false

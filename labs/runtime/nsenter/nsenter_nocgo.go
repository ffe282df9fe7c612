//go:build !linux || !cgo

package nsenter

// Available reports whether the constructor is part of this binary: without cgo (or off
// Linux) it is not, and nothing can enter a container's namespaces.
const Available = false

//go:build !linux || !cgo

package userns

// Available reports whether the constructor is part of this binary: without cgo (or off
// Linux) it is not, and an ordinary user's commands cannot join the engine's namespaces.
const Available = false

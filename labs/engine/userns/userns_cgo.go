//go:build linux && cgo

package userns

// The constructor in userns.c is compiled into every binary that imports this package;
// importing "C" is what makes the go tool compile it.

import "C"

// Available reports whether the constructor is part of this binary: it needs cgo and Linux.
const Available = true

//go:build !linux

package show

import "errors"

// Gather reads the picture of process pid from the kernel (Linux only).
func Gather(pid int) (*Picture, error) { return nil, errors.New("show needs Linux") }

//go:build !linux

package process

import (
	"errors"
	"os"
)

// RawTerminal puts a terminal in raw mode (Linux only).
func RawTerminal(f *os.File) (func(), error) {
	return nil, errors.New("raw terminals are only implemented on Linux")
}

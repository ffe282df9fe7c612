//go:build !linux

package build

import (
	"errors"

	"containerlabs/labs/engine"
)

// Build builds an image from a Dockerfile (Linux only: its steps are containers and
// overlay mounts).
func Build(e *engine.Engine, opts Options) (*Result, error) {
	return nil, errors.New("building images needs Linux")
}

//go:build !cgo

package runtime

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// compileSeccomp fails for any profile: filters are compiled by libseccomp, a C library,
// and this binary was built without cgo (CGO_ENABLED=0).
func compileSeccomp(s *specs.LinuxSeccomp) (*seccompProgram, error) {
	if s == nil {
		return nil, nil
	}
	return nil, errors.New("linux.seccomp: this binary was built without cgo, so it has no libseccomp; build it with CGO_ENABLED=1")
}

func seccompVersion() string { return "" }

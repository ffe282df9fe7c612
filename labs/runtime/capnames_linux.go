package runtime

import "golang.org/x/sys/unix"

// AllCapabilities lists every capability a privileged container can get: all those the
// kernel knows that the caller itself still has in its bounding set. A capability the
// caller has lost (this process runs in a container itself, say) cannot be handed on:
// capset would fail.
func AllCapabilities() []string {
	var caps []string
	for bit, name := range capabilityNames {
		if has, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(bit), 0, 0, 0); err == nil && has == 1 {
			caps = append(caps, name)
		}
	}
	return caps
}

package runtime

import (
	"fmt"
	"strings"
)

// capabilityNames lists the Linux capabilities by number (see capabilities(7)): the index is
// the bit in the kernel's capability sets. The numbers are the same on every architecture,
// and new ones are only ever added at the end.
var capabilityNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// capabilityMask turns capability names into the 64-bit set the kernel uses. Names are
// matched without regard to case, with or without the CAP_ prefix, as runc accepts them.
func capabilityMask(names []string) (uint64, error) {
	var mask uint64
	for _, name := range names {
		n := strings.ToUpper(name)
		if !strings.HasPrefix(n, "CAP_") {
			n = "CAP_" + n
		}
		found := false
		for bit, known := range capabilityNames {
			if known == n {
				mask |= 1 << bit
				found = true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown capability %q: want a name such as CAP_NET_BIND_SERVICE", name)
		}
	}
	return mask, nil
}

// hasCapability reports whether names includes capability name.
func hasCapability(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) || strings.EqualFold("CAP_"+n, name) {
			return true
		}
	}
	return false
}

package runtime

import (
	"fmt"
	"slices"
	"strings"
)

// CapabilityName writes a capability the way the OCI configuration does ("CAP_NET_ADMIN"),
// accepting it in any case and with or without the CAP_ prefix, as `docker run --cap-add`
// does. An unknown name is an error.
func CapabilityName(name string) (string, error) {
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	if !slices.Contains(capabilityNames, n) {
		return "", fmt.Errorf("unknown capability %q: want a name such as NET_ADMIN or CAP_SYS_TIME", name)
	}
	return n, nil
}

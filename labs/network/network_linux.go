package network

import (
	"fmt"
	"os"
	"strings"
)

// Cleanup removes the network from the host: the leases of containers that died without
// releasing them, with their rules; the network's chains and the jumps into them; IP
// forwarding, back to what it was before EnsureNAT; the bridge; and the network's state
// directory. It refuses while a container of the network still runs. It returns what it
// removed, one item a line, for the user to read.
//
// Equivalent to: `iptables -t nat -F CLABS-labs0; iptables -t nat -X CLABS-labs0; ...;
// sysctl net.ipv4.ip_forward=0; ip link del labs0; rm -r STATEDIR/labs0`.
func (n *Network) Cleanup() ([]string, error) {
	unlock, err := n.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	live, stale, err := n.sweep()
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, l := range stale {
		removed = append(removed, fmt.Sprintf("stale lease %s of %s (PID %d is gone)", l.Address, l.Owner, l.PID))
	}
	if len(live) > 0 {
		var users []string
		for _, l := range live {
			users = append(users, fmt.Sprintf("%s (PID %d)", l.Owner, l.PID))
		}
		return removed, fmt.Errorf("network %s is in use by %s: stop them first", n.Bridge, strings.Join(users, ", "))
	}
	chains, err := n.removeChains()
	removed = append(removed, chains...)
	if err != nil {
		return removed, err
	}
	restored, err := n.restoreForwarding()
	if err != nil {
		return removed, err
	}
	if restored != "" {
		removed = append(removed, restored)
	}
	deleted, err := n.deleteBridge()
	if err != nil {
		return removed, err
	}
	if deleted {
		removed = append(removed, "bridge "+n.Bridge)
	}
	if err := os.RemoveAll(n.dir()); err != nil {
		return removed, fmt.Errorf("remove the state of network %s: %w", n.Bridge, err)
	}
	return removed, nil
}

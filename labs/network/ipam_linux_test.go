package network_test

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/network"
)

// ipamOnly is a network whose bridge is never made: the IPAM needs only its state directory.
func ipamOnly(t *testing.T, subnet string) *network.Network {
	t.Helper()
	n, err := network.New("cltest"+randomHex(t, 3), subnet, t.TempDir())
	require.NoError(t, err)
	return n
}

func TestAllocateHandsOutTheLowestFreeAddress(t *testing.T) {
	// A /29: .0 is the network, .1 the gateway, .7 the broadcast address; .2 to .6 are left.
	n := ipamOnly(t, "10.99.0.0/29")
	var leases []*network.Lease
	for i := range 5 {
		l, err := n.Allocate(fmt.Sprintf("c%d", i), netip.Addr{})
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("10.99.0.%d", i+2), l.Address.String())
		leases = append(leases, l)
	}
	_, err := n.Allocate("c5", netip.Addr{})
	require.Error(t, err)
	assert.Equal(t, "no free address left in 10.99.0.0/29 (5 containers)", err.Error())

	require.NoError(t, leases[2].Release())
	require.NoError(t, leases[2].Release(), "a second Release does nothing")
	l, err := n.Allocate("c5", netip.Addr{})
	require.NoError(t, err)
	assert.Equal(t, "10.99.0.4", l.Address.String(), "a released address is handed out again")
	assert.Equal(t, network.Inside{
		Interface: "eth0",
		Address:   netip.MustParsePrefix("10.99.0.4/29"),
		Gateway:   netip.MustParseAddr("10.99.0.1"),
	}, l.Inside())
}

func TestAllocateWantedAddress(t *testing.T) {
	n := ipamOnly(t, "10.99.0.0/24")
	l, err := n.Allocate("web", netip.MustParseAddr("10.99.0.50"))
	require.NoError(t, err)
	assert.Equal(t, "10.99.0.50", l.Address.String())

	for want, msg := range map[string]string{
		"10.99.0.50":  "address 10.99.0.50 is taken by container web",
		"10.99.0.0":   "address 10.99.0.0 is the network address of 10.99.0.0/24",
		"10.99.0.1":   "address 10.99.0.1 is the gateway of 10.99.0.0/24",
		"10.99.0.255": "address 10.99.0.255 is the broadcast address of 10.99.0.0/24",
		"10.98.0.5":   "address 10.98.0.5 is not in subnet 10.99.0.0/24 of " + n.Bridge,
	} {
		_, err := n.Allocate("other", netip.MustParseAddr(want))
		if assert.Error(t, err, want) {
			assert.Equal(t, msg, err.Error())
		}
	}
	_, err = n.Allocate("web", netip.Addr{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "container name web is in use on "+n.Bridge)
	_, err = n.Allocate("bad name", netip.Addr{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `container name "bad name"`)
}

func TestAllocateConcurrentGoroutines(t *testing.T) {
	n := ipamOnly(t, "10.99.0.0/24")
	const count = 10
	addrs := make([]netip.Addr, count)
	var wg sync.WaitGroup
	for i := range count {
		wg.Go(func() {
			l, err := n.Allocate(fmt.Sprintf("c%d", i), netip.Addr{})
			if assert.NoError(t, err) {
				addrs[i] = l.Address
			}
		})
	}
	wg.Wait()
	assertDistinct(t, n, addrs)
	leases, err := n.Leases()
	require.NoError(t, err)
	assert.Len(t, leases, count)
}

// TestAllocateConcurrentProcesses is how the lab starts containers: each start is its own
// process, and only the lock file keeps them apart. When the processes die without
// releasing, their leases are stale, and the next Allocate collects them.
func TestAllocateConcurrentProcesses(t *testing.T) {
	n := ipamOnly(t, "10.99.0.0/24")
	const count = 10
	addrs := make([]netip.Addr, count)
	var wg sync.WaitGroup
	var holders []func()
	for i := range count {
		cmd, stdin, stdout := startHelper(t, fmt.Sprintf("%s %s %s p%d", n.Bridge, n.Subnet, n.StateDir, i))
		holders = append(holders, func() { stdin.Close(); _ = cmd.Wait() })
		wg.Go(func() {
			line, err := stdout.ReadString('\n')
			if assert.NoError(t, err, "helper %d", i) {
				addrs[i] = netip.MustParseAddr(strings.TrimSpace(line))
			}
		})
	}
	wg.Wait()
	assertDistinct(t, n, addrs)

	for _, stop := range holders {
		stop()
	}
	leases, err := n.Leases()
	require.NoError(t, err)
	assert.Len(t, leases, count, "the dead helpers' leases are still on disk")
	l, err := n.Allocate("after", netip.Addr{})
	require.NoError(t, err)
	assert.Equal(t, "10.99.0.2", l.Address.String(), "the stale leases were collected")
	leases, err = n.Leases()
	require.NoError(t, err)
	assert.Len(t, leases, 1)
}

func assertDistinct(t *testing.T, n *network.Network, addrs []netip.Addr) {
	t.Helper()
	seen := map[netip.Addr]bool{}
	for _, a := range addrs {
		assert.True(t, n.Subnet.Contains(a), "%s is in %s", a, n.Subnet)
		assert.False(t, seen[a], "%s was handed out twice", a)
		seen[a] = true
	}
}

package network_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"containerlabs/labs/network"
)

func TestEnsureBridgeIsIdempotent(t *testing.T) {
	n := newNetwork(t)

	link, err := netlink.LinkByName(n.Bridge)
	require.NoError(t, err)
	assert.Equal(t, "bridge", link.Type())
	assert.NotZero(t, link.Attrs().Flags&net.FlagUp, "the bridge is up")
	require.NoError(t, n.EnsureBridge(), "a second EnsureBridge")
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	require.NoError(t, err)
	require.Len(t, addrs, 1, "the bridge has exactly the gateway address")
	assert.Equal(t, n.Gateway().String(), addrs[0].IPNet.String())
	localnet, err := os.ReadFile("/proc/sys/net/ipv4/conf/" + n.Bridge + "/route_localnet")
	require.NoError(t, err)
	assert.Equal(t, "1\n", string(localnet), "route_localnet on the bridge")
	forward, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	require.NoError(t, err)
	assert.Equal(t, "1\n", string(forward), "ip_forward")
}

func TestEnsureBridgeRefusesAnOverlappingSubnet(t *testing.T) {
	n := newNetwork(t)
	other, err := network.New("cltest"+randomHex(t, 3), n.Subnet.String(), t.TempDir())
	require.NoError(t, err)

	err = other.EnsureBridge()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "overlaps the host's route to "+n.Subnet.String()+" on "+n.Bridge)
	_, err = netlink.LinkByName(other.Bridge)
	assert.Error(t, err, "no bridge was made")
}

func TestConnectPairsEth0WithAHostVeth(t *testing.T) {
	n := newNetwork(t)
	c := n.attach("pair", false)
	ep := c.endpoint

	host, err := netlink.LinkByName(ep.HostName)
	require.NoError(t, err)
	bridge, err := netlink.LinkByName(n.Bridge)
	require.NoError(t, err)
	assert.Equal(t, bridge.Attrs().Index, host.Attrs().MasterIndex, "the host's end is on the bridge")
	assert.Equal(t, "eth0", ep.PeerName)

	// What ip link shows on each side is what Endpoint says.
	out, err := exec.Command("ip", "-o", "link", "show", ep.HostName).Output()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(out), ep.HostLink()+":"), "host: %q, want %q", out, ep.HostLink())
	require.NoError(t, c.do(func() error {
		eth0, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		assert.Equal(t, ep.PeerIndex, eth0.Attrs().Index)
		assert.Equal(t, ep.HostIndex, eth0.Attrs().ParentIndex)
		out, err := exec.Command("ip", "-o", "link", "show", "eth0").Output()
		assert.True(t, strings.HasPrefix(string(out), ep.InsideLink()+":"), "inside: %q, want %q", out, ep.InsideLink())
		return err
	}))

	require.NoError(t, ep.Remove())
	_, err = netlink.LinkByName(ep.HostName)
	assert.Error(t, err, "the host's end is gone")
	require.NoError(t, c.do(func() error {
		_, err := netlink.LinkByName("eth0")
		assert.Error(t, err, "eth0 went with its peer")
		return nil
	}))
	assert.NoError(t, ep.Remove(), "a second Remove does nothing")
}

func TestConfigureInsideSetsAddressRouteAndLoopback(t *testing.T) {
	n := newNetwork(t)
	c := n.attach("inside", false)

	require.NoError(t, c.do(func() error {
		out, err := exec.Command("ip", "-o", "-4", "addr").Output()
		assert.Contains(t, string(out), "lo    inet 127.0.0.1/8")
		assert.Contains(t, string(out), "eth0    inet "+c.lease.Inside().Address.String())
		routes, _ := exec.Command("ip", "route").Output()
		assert.Contains(t, string(routes), "default via "+n.Gateway().Addr().String()+" dev eth0")
		return err
	}))
}

func TestContainersReachEachOtherAndTheGateway(t *testing.T) {
	n := newNetwork(t)
	a := n.attach("a", false)
	b := n.attach("b", false)
	a.serve(t, 80)

	got, err := b.ask(net.JoinHostPort(a.lease.Address.String(), "80"), reachTimeout)
	require.NoError(t, err, "b connects to a on the bridge")
	assert.Equal(t, "a "+b.lease.Address.String(), got, "a sees b's own address: no NAT between containers")

	// A listener of the host on the gateway address.
	ln, err := net.Listen("tcp", net.JoinHostPort(n.Gateway().Addr().String(), "0"))
	require.NoError(t, err)
	defer ln.Close()
	go answer(ln, "host")
	got, err = b.ask(ln.Addr().String(), reachTimeout)
	require.NoError(t, err, "b connects to the gateway")
	assert.Equal(t, "host "+b.lease.Address.String(), got)
}

func TestPublishedPortAnswersOnLoopbackAndGateway(t *testing.T) {
	n := newNetwork(t)
	a := n.attach("web", false)
	b := n.attach("client", false)
	a.serve(t, 80)
	port := freePort(t)
	require.NoError(t, n.Publish(a.lease, []network.Port{{Host: port, Container: 80, Proto: "tcp"}}))
	gateway := n.Gateway().Addr().String()

	got, err := ask(fmt.Sprintf("127.0.0.1:%d", port), reachTimeout)
	require.NoError(t, err, "the published port answers on the host's 127.0.0.1")
	assert.Equal(t, "web "+gateway, got, "a loopback client reaches the container masqueraded as the gateway")

	got, err = ask(fmt.Sprintf("%s:%d", gateway, port), reachTimeout)
	require.NoError(t, err, "the published port answers on the gateway address")
	assert.Equal(t, "web "+gateway, got)

	got, err = b.ask(fmt.Sprintf("%s:%d", gateway, port), reachTimeout)
	require.NoError(t, err, "another container reaches the published port through the gateway")
	assert.Equal(t, "web "+gateway, got, "hairpin traffic is masqueraded")

	got, err = a.ask(fmt.Sprintf("%s:%d", gateway, port), reachTimeout)
	require.NoError(t, err, "the container reaches its own published port through the gateway")
	assert.Equal(t, "web "+gateway, got)

	save, err := exec.Command("iptables-save", "-t", "nat").Output()
	require.NoError(t, err)
	assert.Regexp(t, fmt.Sprintf(`--dport %d -m comment --comment "?web"? -j DNAT --to-destination %s:80`, port, a.lease.Address), string(save))

	require.NoError(t, a.lease.Release())
	save, err = exec.Command("iptables-save", "-t", "nat").Output()
	require.NoError(t, err)
	assert.NotRegexp(t, `--comment "?web"? `, string(save), "Release removed the container's rules")
	assert.Contains(t, string(save), "CLABS-"+n.Bridge, "the network's chains stay for the next container")
	_, err = ask(fmt.Sprintf("127.0.0.1:%d", port), blockedTimeout)
	assert.Error(t, err, "the port is no longer published")
}

func TestPublishRefusesAPortInUse(t *testing.T) {
	n := newNetwork(t)
	a := n.attach("first", false)
	b := n.attach("second", false)
	port := network.Port{Host: freePort(t), Container: 80, Proto: "tcp"}
	require.NoError(t, n.Publish(a.lease, []network.Port{port}))

	err := n.Publish(b.lease, []network.Port{port})
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("host port %d/tcp is already published by container first", port.Host))
}

// TestNATToAndFromAnotherHost plays another host with a namespace linked to the host by a
// veth pair of its own, on a /24 of its own, with no route to the containers' subnet.
func TestNATToAndFromAnotherHost(t *testing.T) {
	n := newNetwork(t)
	a := n.attach("web", false)
	a.serve(t, 80)
	port := freePort(t)
	require.NoError(t, n.Publish(a.lease, []network.Port{{Host: port, Container: 80, Proto: "tcp"}}))
	remote, hostAddr, remoteAddr := n.otherHost()
	remote.serve(t, 8000)

	got, err := remote.ask(fmt.Sprintf("%s:%d", hostAddr, port), reachTimeout)
	require.NoError(t, err, "another host reaches the published port on the host's address")
	assert.Equal(t, "web "+remoteAddr.String(), got, "the container sees the other host's address: DNAT only")

	got, err = a.ask(fmt.Sprintf("%s:8000", remoteAddr), reachTimeout)
	require.NoError(t, err, "the container reaches the other host through the gateway")
	assert.Equal(t, "remote "+hostAddr.String(), got, "the other host sees the host's address: MASQUERADE")
}

// otherHost links a new namespace to the host: the host's end gets .1 and the other host's
// eth0 .2 of a free /24.
func (tn *testNet) otherHost() (c *container, hostAddr, remoteAddr netip.Addr) {
	t := tn.t
	t.Helper()
	c, err := newContainer(t, "remote")
	require.NoError(t, err)
	subnet := freeSubnet(t)
	hostAddr, remoteAddr = subnet.Addr().Next(), subnet.Addr().Next().Next()
	name := "clo" + randomHex(t, 4)
	tn.mark(name, subnetMarker(subnet))
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: "eth0", PeerNamespace: netlink.NsPid(c.tid)}
	require.NoError(t, netlink.LinkAdd(veth))
	t.Cleanup(func() { assert.NoError(t, netlink.LinkDel(veth)) })
	link, err := netlink.LinkByName(name)
	require.NoError(t, err)
	require.NoError(t, netlink.AddrAdd(link, &netlink.Addr{IPNet: prefixNet(netip.PrefixFrom(hostAddr, 24))}))
	require.NoError(t, netlink.LinkSetUp(link))
	require.NoError(t, c.do(func() error {
		eth0, err := netlink.LinkByName("eth0")
		if err == nil {
			err = netlink.AddrAdd(eth0, &netlink.Addr{IPNet: prefixNet(netip.PrefixFrom(remoteAddr, 24))})
		}
		if err == nil {
			err = netlink.LinkSetUp(eth0)
		}
		return err
	}))
	return c, hostAddr, remoteAddr
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}
}

func TestNoICCIsolatesContainersButNotPublishedPorts(t *testing.T) {
	n := newNetwork(t)
	a := n.attach("a", true)
	b := n.attach("b", true)
	a.serve(t, 80)
	port := freePort(t)
	require.NoError(t, n.Publish(a.lease, []network.Port{{Host: port, Container: 80, Proto: "tcp"}}))
	for _, c := range []*attached{a, b} {
		link, err := netlink.LinkByName(c.endpoint.HostName)
		require.NoError(t, err)
		info, err := netlink.LinkGetProtinfo(link)
		require.NoError(t, err)
		assert.True(t, info.Isolated, "bridge port %s is isolated", c.endpoint.HostName)
	}
	gateway := n.Gateway().Addr().String()

	got, err := ask(fmt.Sprintf("127.0.0.1:%d", port), reachTimeout)
	require.NoError(t, err, "the published port still answers on 127.0.0.1")
	assert.Equal(t, "a "+gateway, got)
	ln, err := net.Listen("tcp", net.JoinHostPort(gateway, "0"))
	require.NoError(t, err)
	defer ln.Close()
	go answer(ln, "host")
	got, err = b.ask(ln.Addr().String(), reachTimeout)
	require.NoError(t, err, "b still reaches the host on the gateway address")
	assert.Equal(t, "host "+b.lease.Address.String(), got)

	_, err = b.ask(net.JoinHostPort(a.lease.Address.String(), "80"), blockedTimeout)
	assert.Error(t, err, "an isolated container does not reach another isolated one")

	// Through a published port, b's connection to a depends on br_netfilter. With it, the
	// kernel turns a connection that DNAT sends back into the bridge into a frame bridged
	// from b's port to a's, which isolation drops: blocked, as with Docker's icc=false.
	// Without it, the connection is routed through the host, which isolation allows.
	if bridgeNetfilter(t) {
		_, err = b.ask(fmt.Sprintf("%s:%d", gateway, port), blockedTimeout)
		assert.Error(t, err, "with br_netfilter, b does not reach a through a's published port")
	} else {
		_, err = b.ask(fmt.Sprintf("%s:%d", gateway, port), reachTimeout)
		assert.NoError(t, err, "without br_netfilter, b reaches a's published port through the host")
	}

	// Isolation forbids isolated-to-isolated only: a container that is not isolated still
	// reaches an isolated one, which is why --no-icc is meant for every container.
	c := n.attach("c", false)
	got, err = c.ask(net.JoinHostPort(a.lease.Address.String(), "80"), reachTimeout)
	require.NoError(t, err, "a container without isolation reaches an isolated one")
	assert.Equal(t, "a "+c.lease.Address.String(), got)
}

// bridgeNetfilter reports whether bridged IPv4 traffic passes iptables here.
func bridgeNetfilter(t *testing.T) bool {
	data, err := os.ReadFile("/proc/sys/net/bridge/bridge-nf-call-iptables")
	if os.IsNotExist(err) {
		return false
	}
	require.NoError(t, err)
	return strings.TrimSpace(string(data)) == "1"
}

// TestConcurrentStarts starts ten containers at once, each with a published port, and
// checks that each got its own address and that each port leads to its own container.
func TestConcurrentStarts(t *testing.T) {
	n := newNetwork(t)
	const count = 10
	ports := make([]uint16, count)
	for i := range ports {
		ports[i] = freePort(t)
	}
	started := make([]*attached, count)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range count {
		wg.Go(func() {
			c, err := n.tryAttach(fmt.Sprintf("c%d", i), false)
			assert.NoError(t, err)
			mu.Lock()
			started[i] = c
			mu.Unlock()
		})
	}
	wg.Wait()
	seen := map[netip.Addr]string{}
	for i, c := range started {
		require.NotNil(t, c, "container %d started", i)
		assert.NotContains(t, seen, c.lease.Address, "address of %s", c.name)
		seen[c.lease.Address] = c.name
		c.serve(t, 80)
	}
	for i, c := range started {
		wg.Go(func() {
			assert.NoError(t, n.Publish(c.lease, []network.Port{{Host: ports[i], Container: 80, Proto: "tcp"}}))
		})
	}
	wg.Wait()
	for i, c := range started {
		got, err := ask(fmt.Sprintf("127.0.0.1:%d", ports[i]), reachTimeout)
		if assert.NoError(t, err, "port %d of %s", ports[i], c.name) {
			assert.Equal(t, c.name+" "+n.Gateway().Addr().String(), got)
		}
	}
}

// TestStaleLeaseIsCollectedWithItsRules kills the holder of a lease with a published port,
// as kill -9 would, and checks that the next Allocate removes both.
func TestStaleLeaseIsCollectedWithItsRules(t *testing.T) {
	n := newNetwork(t)
	port := freePort(t)
	holder, stdin, stdout := startHelper(t, fmt.Sprintf("%s %s %s ghost %d:80", n.Bridge, n.Subnet, n.StateDir, port))
	addr, err := stdout.ReadString('\n')
	require.NoError(t, err)
	save, err := exec.Command("iptables-save", "-t", "nat").Output()
	require.NoError(t, err)
	require.Regexp(t, `--comment "?ghost"? `, string(save))

	stdin.Close()
	require.NoError(t, holder.Wait())
	lease, err := n.Allocate("next", netip.Addr{})
	require.NoError(t, err)
	defer lease.Release()

	assert.Equal(t, strings.TrimSpace(addr), lease.Address.String(), "the stale address is free again")
	save, err = exec.Command("iptables-save", "-t", "nat").Output()
	require.NoError(t, err)
	assert.NotRegexp(t, `--comment "?ghost"? `, string(save), "the stale lease's rules are gone")
	leases, err := n.Leases()
	require.NoError(t, err)
	assert.Len(t, leases, 1)
}

func TestCleanupRefusesWhileAContainerRuns(t *testing.T) {
	n := newNetwork(t)
	lease, err := n.Allocate("busy", netip.Addr{})
	require.NoError(t, err)

	_, err = n.Cleanup()
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("in use by busy (PID %d)", os.Getpid()))
	_, err = netlink.LinkByName(n.Bridge)
	assert.NoError(t, err, "the bridge stays")
	require.NoError(t, lease.Release())
}

func TestCleanupRemovesEverything(t *testing.T) {
	n := newNetwork(t)
	a := n.attach("a", true)
	require.NoError(t, n.Publish(a.lease, []network.Port{{Host: freePort(t), Container: 80, Proto: "tcp"}}))
	require.NoError(t, a.lease.Release())
	require.NoError(t, a.endpoint.Remove())

	removed, err := n.Cleanup()
	require.NoError(t, err)
	assert.Contains(t, removed, "bridge "+n.Bridge)
	assert.Contains(t, removed, fmt.Sprintf("iptables chain CLABS-%s (table nat)", n.Bridge))
	assert.Contains(t, removed, fmt.Sprintf("iptables chain CLABS-%s-POST (table nat)", n.Bridge))
	assert.Contains(t, removed, fmt.Sprintf("iptables chain CLABS-%s-FWD (table filter)", n.Bridge))
	_, err = os.Stat(n.StateDir + "/" + n.Bridge)
	assert.True(t, os.IsNotExist(err), "the network's state directory is gone")
	// newNetwork's cleanup compares the host with how it was before the test.
}

// TestIsolatedNetworksDoNotReachEachOther puts a container on each of two isolated
// networks and one on a network that is not isolated: the isolated ones cannot open a
// connection to each other, except through a published port; the other reaches both, which
// shows the host does route between the bridges.
func TestIsolatedNetworksDoNotReachEachOther(t *testing.T) {
	isolated := func(n *network.Network) { n.Isolated = true }
	nA, nB, nC := newNetworkWith(t, isolated), newNetworkWith(t, isolated), newNetwork(t)
	a, b, c := nA.attach("a", false), nB.attach("b", false), nC.attach("c", false)
	a.serve(t, 80)
	b.serve(t, 80)
	for _, n := range []*testNet{nA, nB} {
		link, err := netlink.LinkByName(n.Bridge)
		require.NoError(t, err)
		assert.Equal(t, uint32(network.IsolationGroup), link.Attrs().Group, "bridge %s is in the isolation group", n.Bridge)
	}

	got, err := c.ask(net.JoinHostPort(a.lease.Address.String(), "80"), reachTimeout)
	require.NoError(t, err, "a container of a network that is not isolated reaches an isolated one: the host routes")
	assert.Equal(t, "a "+nA.Gateway().Addr().String(), got, "what leaves a bridge is masqueraded, also into another bridge")
	_, err = b.ask(net.JoinHostPort(a.lease.Address.String(), "80"), blockedTimeout)
	assert.Error(t, err, "b's network does not reach a's")
	_, err = a.ask(net.JoinHostPort(b.lease.Address.String(), "80"), blockedTimeout)
	assert.Error(t, err, "nor the other way round")

	port := freePort(t)
	require.NoError(t, nA.Publish(a.lease, []network.Port{{Host: port, Container: 80, Proto: "tcp"}}))
	got, err = b.ask(fmt.Sprintf("%s:%d", nB.Gateway().Addr(), port), reachTimeout)
	require.NoError(t, err, "a published port is open to every network, as to other hosts")
	assert.Equal(t, "a "+nA.Gateway().Addr().String(), got, "b's connection came through the host, masqueraded onto a's bridge")
}

// TestInternalNetworkHasNoWayOut shows an internal network: its containers reach each
// other and the host, have no default route, are not masqueraded, and nothing is forwarded
// between its bridge and another.
func TestInternalNetworkHasNoWayOut(t *testing.T) {
	inner := newNetworkWith(t, func(n *network.Network) { n.Internal = true })
	outer := newNetwork(t)
	a, b := inner.attach("a", false), inner.attach("b", false)
	o := outer.attach("o", false)
	a.serve(t, 80)
	o.serve(t, 80)

	got, err := b.ask(net.JoinHostPort(a.lease.Address.String(), "80"), reachTimeout)
	require.NoError(t, err, "containers of an internal network reach each other")
	assert.Equal(t, "a "+b.lease.Address.String(), got)
	require.NoError(t, a.do(func() error {
		routes, err := exec.Command("ip", "route").Output()
		assert.NotContains(t, string(routes), "default", "no default route on an internal network")
		return err
	}))
	_, err = o.ask(net.JoinHostPort(a.lease.Address.String(), "80"), blockedTimeout)
	assert.Error(t, err, "nothing is forwarded into an internal network")
	nat, err := exec.Command("iptables", "-w", "-t", "nat", "-S").Output()
	require.NoError(t, err)
	assert.NotContains(t, string(nat), "-s "+inner.Subnet.String()+" ! -o "+inner.Bridge+" -j MASQUERADE", "nothing is masqueraded")
}

package network

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// EnsureBridge creates the network's bridge with the gateway address and brings it up, or
// checks that the bridge that exists is this network's. It refuses a subnet that overlaps a
// route the host already has, which would cut the host off from that network.
//
// Equivalent to: `ip link add labs0 type bridge; ip addr add 10.88.0.1/16 dev labs0;
// ip link set labs0 up` (and `ip link set labs0 group 0x434c` for an isolated network).
func (n *Network) EnsureBridge() error {
	unlock, err := n.lock()
	if err != nil {
		return err
	}
	defer unlock()
	link, err := netlink.LinkByName(n.Bridge)
	if err == nil && link.Type() != "bridge" {
		return fmt.Errorf("%s exists and is a %s, not a bridge", n.Bridge, link.Type())
	}
	if err == nil {
		return n.configureBridge(link)
	}
	if !errors.As(err, &netlink.LinkNotFoundError{}) {
		return fmt.Errorf("look for bridge %s: %w", n.Bridge, err)
	}
	if err := n.checkSubnetFree(); err != nil {
		return err
	}
	// lab:06 begin: create the bridge n.Bridge (netlink.LinkAdd of a netlink.Bridge), give it the gateway address and bring it up (n.configureBridge); delete it again if that fails
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge}}); err != nil {
		return fmt.Errorf("create bridge %s: %w", n.Bridge, err)
	}
	if link, err = netlink.LinkByName(n.Bridge); err == nil {
		err = n.configureBridge(link)
	}
	if err != nil {
		_ = netlink.LinkDel(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge}})
		return err
	}
	return nil
	// lab:06 end
}

// configureBridge gives the bridge the gateway address, unless it has it, and brings it up.
func (n *Network) configureBridge(bridge netlink.Link) error {
	addrs, err := netlink.AddrList(bridge, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list the addresses of %s: %w", n.Bridge, err)
	}
	gateway := n.Gateway()
	found := false
	for _, a := range addrs {
		if p := prefixOf(a.IPNet); p == gateway {
			found = true
		} else {
			return fmt.Errorf("bridge %s has address %s, not %s: it belongs to another network (remove it with cleanup, or choose another bridge name)", n.Bridge, p, gateway)
		}
	}
	if !found {
		if err := netlink.AddrAdd(bridge, &netlink.Addr{IPNet: ipNet(gateway)}); err != nil {
			return fmt.Errorf("add address %s to %s: %w", gateway, n.Bridge, err)
		}
	}
	if n.Isolated && bridge.Attrs().Group != IsolationGroup {
		if err := netlink.LinkSetGroup(bridge, IsolationGroup); err != nil {
			return fmt.Errorf("put %s into interface group %#x: %w", n.Bridge, IsolationGroup, err)
		}
	}
	if err := netlink.LinkSetUp(bridge); err != nil {
		return fmt.Errorf("bring %s up: %w", n.Bridge, err)
	}
	return nil
}

// checkSubnetFree fails if a route of the host's main table overlaps the subnet: the
// bridge's own route would then compete with it.
func (n *Network) checkSubnetFree() error {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list the host's routes: %w", err)
	}
	for _, r := range routes {
		// A default route (0.0.0.0/0) overlaps everything, and the bridge's more specific
		// route wins over it, as it should.
		if r.Dst == nil || prefixOf(r.Dst).Bits() == 0 {
			continue
		}
		if dst := prefixOf(r.Dst); dst.Overlaps(n.Subnet) {
			dev := fmt.Sprintf("interface %d", r.LinkIndex)
			if link, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
				dev = link.Attrs().Name
			}
			return fmt.Errorf("subnet %s overlaps the host's route to %s on %s: choose another subnet", n.Subnet, dst, dev)
		}
	}
	return nil
}

// Connect gives the process pid (the container's init, or any process in its network
// namespace) a cable to the bridge: a veth pair whose one end is created directly inside
// the process's network namespace as eth0, and whose other end, with a new name, is
// plugged into the bridge and brought up. With isolated, the bridge port is isolated
// (--no-icc): the container then reaches the host and the outside but no other isolated
// container.
//
// Creating the peer inside the namespace, rather than on the host and moving it there,
// means the host never sees an interface named eth0 appear and disappear, and concurrent
// starts cannot collide on its name.
//
// Equivalent to: `ip link add vlabsXXXXXXXX master labs0 type veth peer name eth0 netns PID;
// bridge link set dev vlabsXXXXXXXX hairpin on; ip link set vlabsXXXXXXXX up` (and
// `bridge link set dev vlabsXXXXXXXX isolated on`).
func (n *Network) Connect(pid int, isolated bool) (*Endpoint, error) {
	return n.ConnectAs(pid, ContainerInterface, isolated)
}

// ConnectAs is Connect with another name for the container's end: a container on several
// networks has one cable to each, eth0, eth1, ...
func (n *Network) ConnectAs(pid int, name string, isolated bool) (*Endpoint, error) {
	// lab:06 begin: a veth pair (netlink.Veth) named "vlabs" + 8 random hex digits, its master n.Bridge, its peer called name made in the namespace of pid (netlink.NsPid); then plugIn
	bridge, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return nil, fmt.Errorf("find bridge %s (make it with EnsureBridge): %w", n.Bridge, err)
	}
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return nil, err
	}
	// "vlabs" and 8 hex digits: 13 bytes, within IFNAMSIZ-1 (15), unique in practice.
	host := "vlabs" + hex.EncodeToString(suffix)
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: host, MasterIndex: bridge.Attrs().Index},
		PeerName:      name,
		PeerNamespace: netlink.NsPid(pid),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		// LinkAdd may have made the pair and failed to plug it in.
		_ = netlink.LinkDel(veth)
		return nil, fmt.Errorf("create veth pair %s on %s with %s in the network namespace of PID %d: %w", host, n.Bridge, name, pid, err)
	}
	ep, err := plugIn(host, name, isolated)
	if err != nil {
		_ = netlink.LinkDel(veth)
		return nil, err
	}
	return ep, nil
	// lab:06 end
}

// plugIn sets the bridge port's modes, brings it up, and describes the pair: name is the
// host's end, peer the container's.
func plugIn(name, peer string, isolated bool) (*Endpoint, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", name, err)
	}
	// A container that connects to its own published port through a host address sends a
	// packet that DNAT returns to it. With br_netfilter the kernel bridges that packet back
	// out of the port it came in on, which a bridge does only in hairpin mode (Docker turns
	// it on too when it publishes ports without its userland proxy).
	if err := netlink.LinkSetHairpin(link, true); err != nil {
		return nil, fmt.Errorf("set hairpin mode on bridge port %s: %w", name, err)
	}
	if isolated {
		if err := netlink.LinkSetIsolated(link, true); err != nil {
			return nil, fmt.Errorf("isolate bridge port %s (bridge port isolation needs Linux 4.18 or later): %w", name, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("bring %s up: %w", name, err)
	}
	return &Endpoint{
		HostName:  name,
		HostIndex: link.Attrs().Index,
		PeerName:  peer,
		// IFLA_LINK of a veth is its peer's index, in the peer's namespace.
		PeerIndex: link.Attrs().ParentIndex,
	}, nil
}

// Remove unplugs the container: it deletes the host's end of the veth pair, which deletes
// the other end with it. When the container's network namespace died first, the kernel has
// already removed both, and Remove does nothing.
//
// Equivalent to: `ip link del vlabsXXXXXXXX`.
func (e *Endpoint) Remove() error {
	link, err := netlink.LinkByName(e.HostName)
	if errors.As(err, &netlink.LinkNotFoundError{}) || (err == nil && link.Attrs().Index != e.HostIndex) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find %s: %w", e.HostName, err)
	}
	if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s: %w", e.HostName, err)
	}
	return nil
}

// ConfigureInside configures the container's end of the cable. It runs in the child, inside
// the container's network namespace, after the parent has connected it: it brings lo up
// (a new namespace's loopback is down), gives the interface its address, brings it up, and
// routes everything that is not on the subnet through the gateway (unless the gateway is
// the zero address: a container's second network, or an internal one, routes only its
// own subnet).
//
// Equivalent to: `ip link set lo up; ip addr add 10.88.0.2/16 dev eth0; ip link set eth0 up;
// ip route add default via 10.88.0.1`.
func ConfigureInside(in Inside) error {
	// lab:06 begin: bring lo up; give in.Interface the address in.Address (netlink.AddrAdd) and bring it up; wait until it is up (waitOperUp); add the default route via in.Gateway (netlink.RouteAdd)
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	eth, err := netlink.LinkByName(in.Interface)
	if err != nil {
		return fmt.Errorf("find %s (did the parent connect this namespace?): %w", in.Interface, err)
	}
	if err := netlink.AddrAdd(eth, &netlink.Addr{IPNet: ipNet(in.Address)}); err != nil {
		return fmt.Errorf("add address %s to %s: %w", in.Address, in.Interface, err)
	}
	if err := netlink.LinkSetUp(eth); err != nil {
		return fmt.Errorf("bring %s up: %w", in.Interface, err)
	}
	if err := waitOperUp(in.Interface); err != nil {
		return err
	}
	if !in.Gateway.IsValid() {
		return nil
	}
	route := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.IP(in.Gateway.AsSlice())}
	if err := netlink.RouteAdd(route); err != nil {
		return fmt.Errorf("add default route via %s on %s: %w", in.Gateway, in.Interface, err)
	}
	return nil
	// lab:06 end
}

// waitOperUp waits until the interface is operationally up. When eth0 comes up, both ends
// of the pair get a carrier, and the kernel's link watcher, a work queue, records that a
// moment later: longer when the host is busy creating or destroying namespaces, which
// holds the lock the watcher needs. Only then does the bridge start forwarding from the
// host's end; until then the container's first frames are dropped, and its first
// connection waits for a retransmission. The watcher handles both ends of the pair in one
// run, so once eth0 shows up, the host's end is ready too.
func waitOperUp(name string) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		link, err := netlink.LinkByName(name)
		if err != nil {
			return fmt.Errorf("find %s: %w", name, err)
		}
		if link.Attrs().OperState == netlink.OperUp {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is %s, not up, 2s after it was brought up: is the host's end of the pair up?", name, link.Attrs().OperState)
		}
		time.Sleep(time.Millisecond)
	}
}

// deleteBridge removes the network's bridge, if it exists; its ports fall off it.
//
// Equivalent to: `ip link del labs0`.
func (n *Network) deleteBridge() (bool, error) {
	link, err := netlink.LinkByName(n.Bridge)
	if errors.As(err, &netlink.LinkNotFoundError{}) {
		return false, nil
	}
	if err == nil && link.Type() != "bridge" {
		return false, fmt.Errorf("%s is a %s, not a bridge: left alone", n.Bridge, link.Type())
	}
	if err == nil {
		err = netlink.LinkDel(link)
	}
	if err != nil {
		return false, fmt.Errorf("delete bridge %s: %w", n.Bridge, err)
	}
	return true, nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func prefixOf(n *net.IPNet) netip.Prefix {
	addr, _ := netip.AddrFromSlice(n.IP)
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(addr.Unmap(), bits)
}

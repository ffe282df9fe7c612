package network

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"containerlabs/labs/state"
)

// DefaultBridge and DefaultSubnet are the network the labs use unless told otherwise, as
// docker0 and 172.17.0.0/16 are Docker's.
const (
	DefaultBridge = "labs0"
	DefaultSubnet = "10.88.0.0/16"
)

// ContainerInterface is the name of the container's end of its veth pair.
const ContainerInterface = "eth0"

// Network is one bridge network: a bridge, the subnet its containers get addresses from,
// and the directory where its leases are kept. Its methods do the parent's half of
// connecting a container.
type Network struct {
	// Bridge is the name of the bridge interface ("labs0"). It also names the network's
	// iptables chains and its state directory.
	Bridge string
	// Subnet holds the containers' addresses; its first host address is the gateway, on the
	// bridge.
	Subnet netip.Prefix
	// StateDir holds the lock and the leases, in a directory named after the bridge.
	StateDir string
	// Internal cuts the network off from everything but itself and the host: nothing is
	// forwarded between its bridge and any other interface, nothing is masqueraded, and its
	// containers get no default route (Docker's `network create --internal`).
	Internal bool
	// Isolated puts the bridge into the interface group IsolationGroup and drops what is
	// forwarded from it into any other bridge of that group, so that containers on two
	// isolated networks cannot reach each other (as Docker separates its bridge networks).
	Isolated bool
}

// IsolationGroup is the interface group (`ip link set BRIDGE group N`) of the bridges of
// isolated networks. One rule per network then says "nothing from my bridge into another
// bridge of the group", whatever the other bridges are called and however many there are.
const IsolationGroup = 0x434c // "CL"

// New describes the network of bridge on subnet (in CIDR form, "10.88.0.0/16"), keeping
// its state under stateDir. It checks the values, and the error names the one that is bad;
// it changes nothing on the host.
func New(bridge, subnet, stateDir string) (*Network, error) {
	if err := checkInterfaceName(bridge); err != nil {
		return nil, fmt.Errorf("bridge name %q: %w", bridge, err)
	}
	prefix, err := netip.ParsePrefix(subnet)
	if err != nil {
		return nil, fmt.Errorf("subnet %q is not an address range in CIDR form such as %s", subnet, DefaultSubnet)
	}
	switch {
	case !prefix.Addr().Is4():
		return nil, fmt.Errorf("subnet %s: only IPv4 subnets are supported", subnet)
	case prefix != prefix.Masked():
		return nil, fmt.Errorf("subnet %s has host bits set: did you mean %s?", subnet, prefix.Masked())
	case !prefix.Addr().IsPrivate():
		return nil, fmt.Errorf("subnet %s is not a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)", subnet)
	case prefix.Bits() > 30:
		// A /31 or /32 has no room for a gateway and a container.
		return nil, fmt.Errorf("subnet %s is too small: it needs a gateway and at least one container (/30 or larger)", subnet)
	}
	if stateDir == "" {
		return nil, fmt.Errorf("no state directory for network %s", bridge)
	}
	return &Network{Bridge: bridge, Subnet: prefix, StateDir: stateDir}, nil
}

// checkInterfaceName accepts the names the kernel accepts for an interface (at most
// IFNAMSIZ-1 = 15 bytes), restricted to characters that need no quoting in iptables rules
// and file names.
func checkInterfaceName(name string) error {
	if name == "" || len(name) > 15 {
		return fmt.Errorf("an interface name has 1 to 15 characters")
	}
	if !state.SafeName(name) || name == "." || name == ".." {
		return fmt.Errorf("use only letters, digits, '.', '_' and '-'")
	}
	return nil
}

// checkName checks a container name, which names a lease and labels iptables rules, or a
// hostname; what says which of the two it is.
func checkName(what, name string) error {
	if len(name) > 64 || !state.SafeName(name) {
		return fmt.Errorf("%s %q: use 1 to 64 letters, digits, '.', '_' and '-', starting with a letter or digit", what, name)
	}
	return nil
}

// Gateway is the bridge's address: the first host address of the subnet, with the subnet's
// prefix length (10.88.0.1/16). Containers use it as their default route.
func (n *Network) Gateway() netip.Prefix {
	return netip.PrefixFrom(n.Subnet.Addr().Next(), n.Subnet.Bits())
}

// broadcast is the last address of the subnet.
func (n *Network) broadcast() netip.Addr {
	a := n.Subnet.Addr().As4()
	hostBits := 32 - n.Subnet.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= 1<<hostBits - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// checkHostAddress reports whether addr may be given to a container.
func (n *Network) checkHostAddress(addr netip.Addr) error {
	switch {
	case !n.Subnet.Contains(addr):
		return fmt.Errorf("address %s is not in subnet %s of %s", addr, n.Subnet, n.Bridge)
	case addr == n.Subnet.Addr():
		return fmt.Errorf("address %s is the network address of %s", addr, n.Subnet)
	case addr == n.Gateway().Addr():
		return fmt.Errorf("address %s is the gateway of %s", addr, n.Subnet)
	case addr == n.broadcast():
		return fmt.Errorf("address %s is the broadcast address of %s", addr, n.Subnet)
	}
	return nil
}

// dir is the network's own state directory.
func (n *Network) dir() string { return filepath.Join(n.StateDir, n.Bridge) }

// The network's iptables chains, named after the bridge (an iptables chain name has at
// most 28 characters: 6 + 15 + 5 fit).
func (n *Network) portsChain() string   { return "CLABS-" + n.Bridge }
func (n *Network) postChain() string    { return "CLABS-" + n.Bridge + "-POST" }
func (n *Network) forwardChain() string { return "CLABS-" + n.Bridge + "-FWD" }

// separationChain is in the mangle table (see separation).
func (n *Network) separationChain() string { return "CLABS-" + n.Bridge + "-SEP" }

// Port is a published port: connections to the host's port Host are forwarded to the
// container's port Container.
type Port struct {
	Host      uint16 `json:"host"`
	Container uint16 `json:"container"`
	// Proto is "tcp" or "udp".
	Proto string `json:"proto"`
}

// ParsePort reads a port in the form of docker run -p: "8080:80", or "5353:53/udp".
func ParsePort(s string) (Port, error) {
	spec, proto, found := strings.Cut(s, "/")
	if !found {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return Port{}, fmt.Errorf("published port %q: protocol %q is neither tcp nor udp", s, proto)
	}
	host, ctr, ok := strings.Cut(spec, ":")
	if !ok {
		return Port{}, fmt.Errorf("published port %q is not HOST:CONTAINER, such as 8080:80", s)
	}
	h, err1 := parsePortNumber(host)
	c, err2 := parsePortNumber(ctr)
	if err1 != nil || err2 != nil {
		return Port{}, fmt.Errorf("published port %q: ports are numbers from 1 to 65535", s)
	}
	return Port{Host: h, Container: c, Proto: proto}, nil
}

func parsePortNumber(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return uint16(n), nil
}

// String is the port as docker ps shows it: "8080->80/tcp".
func (p Port) String() string {
	return fmt.Sprintf("%d->%d/%s", p.Host, p.Container, p.Proto)
}

// Lease is an address given to one container. It is kept as a file in the network's state
// directory until Release, or until the next Allocate or Cleanup finds its holder dead.
type Lease struct {
	// Owner is the container's name.
	Owner string `json:"owner"`
	// Address is the container's address.
	Address netip.Addr `json:"address"`
	// PID is the process that holds the lease (the one that allocated it), and Started its
	// start time in clock ticks after boot (field 22 of /proc/PID/stat): a PID can be
	// reused by another process once its holder is gone, a PID with its start time cannot.
	PID     int    `json:"pid"`
	Started uint64 `json:"started"`
	// Ports are the container's published ports (see Publish).
	Ports []Port `json:"ports,omitempty"`

	network *Network
}

// Inside is what the child needs to configure its end of the cable (see ConfigureInside).
// It travels from parent to child as JSON.
type Inside struct {
	// Interface is the container's end of the veth pair, "eth0".
	Interface string `json:"interface"`
	// Address is the container's address with the subnet's prefix length (10.88.0.2/16).
	Address netip.Prefix `json:"address"`
	// Gateway is the bridge's address, the container's default route; the zero address
	// means no default route through this interface.
	Gateway netip.Addr `json:"gateway"`
}

// Inside returns the configuration of the container's interface that goes with the lease.
// An internal network gives no default route: there is no way out through it.
func (l *Lease) Inside() Inside {
	in := Inside{
		Interface: ContainerInterface,
		Address:   netip.PrefixFrom(l.Address, l.network.Subnet.Bits()),
		Gateway:   l.network.Gateway().Addr(),
	}
	if l.network.Internal {
		in.Gateway = netip.Addr{}
	}
	return in
}

// Endpoint is a container's cable: a veth pair with one end on the bridge and the other,
// eth0, in the container's network namespace.
type Endpoint struct {
	// HostName and HostIndex are the host's end: its name and interface index.
	HostName  string
	HostIndex int
	// PeerName and PeerIndex are the container's end, as the container's namespace numbers
	// it (each namespace numbers its interfaces on its own).
	PeerName  string
	PeerIndex int
}

// HostLink is the host's end as `ip link` on the host shows it: index, name, and after the
// "@if" the index of its peer in the other namespace ("12: vlabs1a2b3c4d@if2").
func (e *Endpoint) HostLink() string {
	return fmt.Sprintf("%d: %s@if%d", e.HostIndex, e.HostName, e.PeerIndex)
}

// InsideLink is the container's end as `ip link` inside the container shows it
// ("2: eth0@if12"): the peer of the host's interface 12.
func (e *Endpoint) InsideLink() string {
	return fmt.Sprintf("%d: %s@if%d", e.PeerIndex, e.PeerName, e.HostIndex)
}

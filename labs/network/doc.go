// Package network plugs a container into a network of its own: a bridge on the host, a veth
// cable per container, an address from a small IPAM, a default route, NAT to the outside and
// published ports, the way Docker's default bridge network does it.
//
// A new network namespace holds nothing but a loopback interface that is down. To reach
// anything, the container needs a cable to the host:
//
//	host                                         container (its own network namespace)
//	  labs0  bridge, 10.88.0.1/16 (the gateway)
//	   ├── vlabs1a2b3c4d ═══════ veth pair ═══════ eth0  10.88.0.2/16, default via 10.88.0.1
//	   └── vlabs5e6f7a8b ═══════ veth pair ═══════ eth0  10.88.0.3/16, default via 10.88.0.1
//
// A veth pair is two interfaces joined back to back: what is sent into one comes out of the
// other. Connect creates the pair with one end in the container's namespace, already named
// eth0, and plugs the other end into the bridge, a virtual switch. Containers on the same
// bridge reach each other directly, at layer 2; the bridge itself carries the gateway
// address, so a container reaches the host through it. `ip link` shows each end with the
// interface index of its peer: eth0@if12 inside is the peer of interface 12 outside, and
// vlabs1a2b3c4d@if2 outside is the peer of interface 2 inside (Endpoint.HostLink and
// Endpoint.InsideLink print exactly that).
//
// # Addresses
//
// Allocate hands each container an address of the subnet that no other container holds,
// never the network, gateway or broadcast address. Each lease is a file named by its
// address in the state directory, recording the container's name and the PID (with its
// start time, so a reused PID is not mistaken for the owner) of the process that holds it.
// Concurrent starts are separate processes, so an in-memory mutex cannot keep them apart:
// they take an flock(2) on a lock file first. A lease whose owner died without releasing it
// (kill -9) is stale; the next Allocate or Cleanup removes it, with its rules.
//
// # NAT and published ports
//
// Container addresses are private: the rest of the world has no route back to them. Two
// kinds of network address translation, done by iptables in the kernel, fix that:
//
//   - Going out, MASQUERADE rewrites a container's source address to the host's address on
//     the outgoing interface, and conntrack rewrites the replies back.
//   - Coming in, a published port (-p 8080:80) is a DNAT rule: a connection to any of the
//     host's own addresses on port 8080 has its destination rewritten to the container's
//     address and port 80. The rule sits in PREROUTING for packets that arrive from other
//     hosts and in OUTPUT for connections the host makes itself, which never pass
//     PREROUTING.
//
// A host routes packets between interfaces only with net.ipv4.ip_forward=1, which EnsureNAT
// sets (remembering the value it found, for Cleanup to restore).
//
// All rules live in chains of our own, named after the bridge, as Docker keeps its own in
// DOCKER chains: one jump from each built-in chain leads to them, so removing the network's
// rules is exact (flush and delete our chains, delete the jumps) and never touches anyone
// else's. Each container's rules carry its name as a comment, so they are removed exactly
// when it exits.
//
// # Published ports on 127.0.0.1
//
// curl 127.0.0.1:8080 on the host needs two more things, and they show how the kernel
// guards the loopback range. The connection starts with source 127.0.0.1; after DNAT it
// must leave through the bridge. The kernel refuses to route a packet with a loopback
// address out of a non-loopback interface (such a packet is a "martian") unless
// route_localnet is set on that interface, so EnsureNAT sets it on the bridge. The packet
// then leaves, but with source 127.0.0.1 the container would drop it as a martian too, and
// could not answer it anyway: 127.0.0.1 is its own loopback. So a MASQUERADE rule rewrites
// the source of loopback-sourced packets leaving through the bridge to the gateway address;
// the container answers the gateway, and conntrack undoes both translations on the reply.
// (Docker solves the same problem with a userland proxy listening on the port, or with
// exactly these two settings when the proxy is disabled.)
//
// # No inter-container traffic (--no-icc)
//
// Containers on a bridge talk at layer 2, switched by the bridge, so iptables, which works
// at layer 3, sees their packets only if br_netfilter passes bridged frames to it
// (/proc/sys/net/bridge/bridge-nf-call-iptables), which depends on the host's kernel and
// settings. Bridge port isolation (Linux 4.18) needs no such help: the bridge never
// forwards a frame from one isolated port to another isolated port. Traffic between an
// isolated port and the bridge device itself is not port-to-port forwarding, so an
// isolated container still reaches the gateway, the host and, through the host, the
// outside, and the host and other hosts still reach its published ports.
//
// Isolation forbids isolated-to-isolated only: a container started without it still
// reaches an isolated one. So --no-icc is meant for every container of a network, as
// Docker's icc=false is a setting of the whole network.
//
// One container reaching another's published port through a host address ("hairpin") is
// container-to-container traffic too, and whether isolation stops it depends on
// br_netfilter. With it, the kernel sees that DNAT sent the packet back into the bridge it
// came from and forwards it as a bridged frame, from port to port, which isolation drops
// (Docker's icc=false drops it as well), even when a container calls its own published
// port. Without it, the host routes the packet, from the bridge device to the port, which
// isolation allows.
//
// # Several networks: isolated and internal
//
// An engine may make many bridge networks, one per application, and Docker's promise is
// that containers on different networks do not reach each other. Between two bridges the
// host routes (layer 3, the FORWARD chain), and each network's own chain accepts whatever
// comes from its bridge, so by default they do. An Isolated network puts its bridge into an
// interface group (IsolationGroup, `ip link set BRIDGE group 0x434c`) and adds one rule:
// nothing forwarded from its bridge into another bridge of the group, unless DNAT sent it
// there (a published port is open to everyone who reaches the host, other networks
// included). Each network's rule covers the traffic its own containers start, so between
// two isolated networks neither side can open a connection, however many networks there
// are and whatever their names; Docker writes the same as two chains of rules naming every
// pair of bridges (DOCKER-ISOLATION-STAGE-1 and -2).
//
// An Internal network has no way out at all: nothing is forwarded between its bridge and
// any other interface in either direction, its subnet is not masqueraded, and its
// containers get no default route. They reach each other and the host's address on their
// bridge, nothing else.
//
// These rules drop, and each network's forwarding chain accepts everything from its bridge,
// so the order the kernel meets them in matters, and it would depend on which network was
// made last. So they live in a chain of the mangle table (CLABS-BRIDGE-SEP): the kernel
// runs mangle's FORWARD chain before filter's for every forwarded packet, so the drops
// always come first.
//
// A container on two networks has a cable to each (eth0, eth1: ConnectAs), and only the
// first gives it a default route.
//
// # Inside the container
//
// The parent does everything above from the host's side, before it releases the child.
// The child, in its own namespaces, then brings up lo and eth0, adds the address and the
// default route (ConfigureInside), and writes /etc/hosts, /etc/hostname and
// /etc/resolv.conf into its root (WriteEtcFiles). The host's loopback name servers
// (systemd-resolved's 127.0.0.53, a local dnsmasq) are left out: inside the container
// 127.0.0.53 is the container's own loopback, where nothing answers.
//
// When the container ends, the parent removes its veth (deleting one end deletes both, and
// the kernel does it anyway when the namespace dies), its rules and its lease. The bridge
// and the network's chains stay for the next container, as Docker's docker0 does, until
// Cleanup removes them.
package network

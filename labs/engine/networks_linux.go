package engine

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/vishvananda/netlink"

	"containerlabs/labs/network"
)

// attachment is a container's connection to one network while its monitor sets it up.
type attachment struct {
	name     string
	net      *network.Network
	lease    *network.Lease
	endpoint *network.Endpoint
	// iface is the container's end: eth0 for the first network, eth1 for the next, ...
	iface string
}

// allocate leases the container an address on each of its networks (the monitor's step
// 3), making each network's bridge and rules first if they are missing (after a reboot,
// or a prune, they are), and records the addresses in c.Network.
func (m *monitor) allocate() error {
	c := m.c
	c.Network = NetworkState{}
	for i, name := range containerNetworks(c.Config) {
		rec, err := m.e.LookupNetwork(name)
		if err != nil {
			return fmt.Errorf("container %s: %w", c.Name, err)
		}
		nw, err := m.e.bridgeNetwork(rec)
		if err != nil {
			return err
		}
		if err := nw.EnsureBridge(); err != nil {
			return err
		}
		if err := nw.EnsureNAT(); err != nil {
			return err
		}
		lease, err := nw.Allocate(c.ID, netip.Addr{})
		if err != nil {
			return err
		}
		a := &attachment{name: name, net: nw, lease: lease, iface: "eth" + strconv.Itoa(i)}
		m.attachments = append(m.attachments, a)
		in := a.inside(i == 0)
		ep := &Endpoint{NetworkID: rec.ID, IPAddress: lease.Address.String(), IPPrefixLen: nw.Subnet.Bits(),
			Aliases: c.Config.Networks[name].Aliases, Interface: a.iface}
		if in.Gateway.IsValid() {
			ep.Gateway = in.Gateway.String()
		}
		if c.Network.Networks == nil {
			c.Network.Networks = map[string]*Endpoint{}
		}
		c.Network.Networks[name] = ep
		if i == 0 {
			c.Network.Bridge, c.Network.IPAddress, c.Network.Gateway = nw.Bridge, ep.IPAddress, nw.Gateway().Addr().String()
		}
	}
	return nil
}

// inside is what the container's end is configured with: only the first network gives a
// default route.
func (a *attachment) inside(first bool) network.Inside {
	in := a.lease.Inside()
	in.Interface = a.iface
	if !first {
		in.Gateway = netip.Addr{}
	}
	return in
}

// connect plugs the container into each of its networks, now that its network namespace
// exists and before its command runs (lab 06's step 5, and Docker's through a prestart
// hook), and publishes its ports on the first.
func (m *monitor) connect(pid int) error {
	for i, a := range m.attachments {
		var err error
		if a.endpoint, err = a.net.ConnectAs(pid, a.iface, false); err != nil {
			return err
		}
		m.c.Network.Networks[a.name].HostVeth = a.endpoint.HostName
		if err := inNetNS(pid, func() error { return network.ConfigureInside(a.inside(i == 0)) }); err != nil {
			return err
		}
		if i > 0 {
			continue
		}
		m.c.Network.HostVeth = a.endpoint.HostName
		var ports []network.Port
		for _, p := range m.c.Config.Publish {
			port, err := network.ParsePort(p)
			if err != nil {
				return err
			}
			ports = append(ports, port)
			m.c.Network.Ports = append(m.c.Network.Ports, port.String())
		}
		if err := a.net.Publish(a.lease, ports); err != nil {
			return err
		}
	}
	return nil
}

// detach undoes a container's networks: it removes the host's end of each of its veth
// pairs and gives back every address it holds, also the ones `network connect` added while
// it ran, which its monitor never saw. It works from the record, so it serves a monitor, a
// clean-up after the idle monitor, and rm after a monitor was killed alike.
func (e *Engine) detach(c *Container) {
	names := containerNetworks(c.Config)
	records := []*Container{c}
	// A Go monitor's record is the one it started the container with: what was connected
	// since is only on disk.
	if fresh, err := e.Store.load(c.ID); err == nil {
		records = append(records, fresh)
		names = append(names, containerNetworks(fresh.Config)...)
	}
	for _, r := range records {
		for name, ep := range r.Network.Networks {
			removeVeth(ep.HostVeth)
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	for _, name := range names {
		rec, err := e.LookupNetwork(name)
		if err != nil {
			continue
		}
		e.releaseLease(rec, c.ID)
	}
}

// releaseLease gives back the address the container id holds on a network, if any.
func (e *Engine) releaseLease(rec *Network, id string) {
	nw, err := e.bridgeNetwork(rec)
	if err != nil {
		return
	}
	leases, err := nw.Leases()
	if err != nil {
		return
	}
	for _, l := range leases {
		if l.Owner == id {
			_ = l.Release()
		}
	}
}

// removeVeth deletes the host's end of a veth pair, and with it the container's end.
func removeVeth(name string) {
	if name == "" {
		return
	}
	if veth, err := net.InterfaceByName(name); err == nil {
		_ = (&network.Endpoint{HostName: veth.Name, HostIndex: veth.Index}).Remove()
	}
}

// ConnectNetwork joins a container to a user-defined network, with aliases there: a
// stopped container when it next starts, a running one at once, through a new interface
// (eth1, eth2, ...) whose address its monitor holds, so that it is given back when the
// container ends. The containers on the network then find it by name.
//
// Equivalent to: `docker network connect [--alias A] NETWORK CONTAINER`.
func (e *Engine) ConnectNetwork(netRef, ref string, aliases []string) error {
	rec, c, unlock, err := e.lockForNetworkChange(netRef, ref)
	if err != nil {
		return err
	}
	err = e.connectLocked(c, rec, aliases)
	unlock()
	if err != nil {
		return err
	}
	return e.refreshHosts(userNetworksOf(c))
}

func (e *Engine) connectLocked(c *Container, rec *Network, aliases []string) error {
	if c.Config.NetworkMode == HostNetwork || c.Config.NetworkMode == NoNetwork {
		return fmt.Errorf("container %s uses --network %s: it cannot join another network", c.Name, c.Config.NetworkMode)
	}
	if _, ok := c.Config.Networks[rec.Name]; ok {
		return fmt.Errorf("container %s is already connected to network %s", c.Name, rec.Name)
	}
	cfg := c.Config
	cfg.Networks = map[string]EndpointConfig{rec.Name: {Aliases: aliases}}
	for name, ep := range c.Config.Networks {
		cfg.Networks[name] = ep
	}
	cfg.Publish = nil // checked when the container was made
	if err := e.checkNetworks(&cfg); err != nil {
		return err
	}
	c.Config.Networks = cfg.Networks
	if c.State.Status == StatusRunning {
		ep, err := e.plugIn(c, rec, aliases)
		if err != nil {
			return err
		}
		if c.Network.Networks == nil {
			c.Network.Networks = map[string]*Endpoint{}
		}
		c.Network.Networks[rec.Name] = ep
	}
	return e.Store.Save(c)
}

// plugIn connects a running container to a network: an address held by its monitor, a
// veth pair to the network's bridge, the interface configured inside (no default route:
// the container has one already).
func (e *Engine) plugIn(c *Container, rec *Network, aliases []string) (*Endpoint, error) {
	nw, err := e.bridgeNetwork(rec)
	if err != nil {
		return nil, err
	}
	if err := nw.EnsureBridge(); err != nil {
		return nil, err
	}
	if err := nw.EnsureNAT(); err != nil {
		return nil, err
	}
	lease, err := nw.AllocateFor(c.State.MonitorPid, c.ID, netip.Addr{})
	if err != nil {
		return nil, err
	}
	a := &attachment{name: rec.Name, net: nw, lease: lease, iface: nextInterface(c)}
	if a.endpoint, err = nw.ConnectAs(c.State.Pid, a.iface, false); err != nil {
		_ = lease.Release()
		return nil, err
	}
	if err := inNetNS(c.State.Pid, func() error { return network.ConfigureInside(a.inside(false)) }); err != nil {
		_ = a.endpoint.Remove()
		_ = lease.Release()
		return nil, err
	}
	return &Endpoint{NetworkID: rec.ID, IPAddress: lease.Address.String(), IPPrefixLen: nw.Subnet.Bits(),
		Aliases: aliases, Interface: a.iface, HostVeth: a.endpoint.HostName}, nil
}

// nextInterface is the first of eth0, eth1, ... that the container does not have.
func nextInterface(c *Container) string {
	for i := 0; ; i++ {
		name := "eth" + strconv.Itoa(i)
		used := false
		for _, ep := range c.Network.Networks {
			used = used || ep.Interface == name
		}
		if !used {
			return name
		}
	}
}

// DisconnectNetwork takes a container off a user-defined network: a running one loses the
// interface and the address at once. If it was the container's first network, the next
// one becomes first; with none left, the container has no network (none).
//
// Equivalent to: `docker network disconnect NETWORK CONTAINER`.
func (e *Engine) DisconnectNetwork(netRef, ref string) error {
	rec, c, unlock, err := e.lockForNetworkChange(netRef, ref)
	if err != nil {
		return err
	}
	before := userNetworksOf(c)
	if _, ok := c.Config.Networks[rec.Name]; !ok {
		unlock()
		return fmt.Errorf("container %s is not connected to network %s", c.Name, rec.Name)
	}
	if ep := c.Network.Networks[rec.Name]; ep != nil {
		removeVeth(ep.HostVeth)
		e.releaseLease(rec, c.ID)
		delete(c.Network.Networks, rec.Name)
	}
	delete(c.Config.Networks, rec.Name)
	if c.Config.NetworkMode == rec.Name {
		c.Config.NetworkMode = NoNetwork
		if rest := containerNetworks(c.Config); len(rest) > 0 {
			c.Config.NetworkMode = rest[0]
		}
	}
	err = e.Store.Save(c)
	unlock()
	if err != nil {
		return err
	}
	return e.refreshHosts(before)
}

// hostRoutePrefixes lists the destinations of the host's routes, but the default route:
// a new network's subnet must not overlap any of them.
func hostRoutePrefixes() []netip.Prefix {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil
	}
	var prefixes []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		addr, ok := netip.AddrFromSlice(r.Dst.IP)
		bits, _ := r.Dst.Mask.Size()
		if ok && bits > 0 {
			prefixes = append(prefixes, netip.PrefixFrom(addr.Unmap(), bits))
		}
	}
	return prefixes
}

// lockForNetworkChange finds a user-defined network and a container, and returns the
// container as its record stands under its lock, which the caller releases with unlock.
func (e *Engine) lockForNetworkChange(netRef, ref string) (*Network, *Container, func(), error) {
	rec, err := e.LookupNetwork(netRef)
	if err != nil {
		return nil, nil, nil, err
	}
	if builtin(rec.Name) {
		return nil, nil, nil, fmt.Errorf("network %s is built in: only user-defined networks are connected and disconnected", rec.Name)
	}
	c, err := e.Store.Get(ref)
	if err != nil {
		return nil, nil, nil, err
	}
	unlock, err := e.Store.Lock(c.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	if c, err = e.Store.load(c.ID); err != nil {
		unlock()
		return nil, nil, nil, err
	}
	return rec, c, unlock, nil
}

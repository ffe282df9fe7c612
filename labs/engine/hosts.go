package engine

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"syscall"

	"containerlabs/labs/network"
)

// Names on user-defined networks.
//
// On a network of its own making a container finds another by name ("web"), by alias, or
// by its short ID, as on Docker's user-defined networks; on the default bridge it does not,
// as on Docker's. Docker answers those names from a DNS server inside its daemon, which
// each container reaches at 127.0.0.11; podman starts aardvark-dns, a DNS server for all
// its networks, when the first container needs it and stops it after the last. Both are a
// process that must live as long as any container uses a name, which is what a daemonless
// engine does not have. So this engine does what nerdctl does: it writes the names into
// each container's /etc/hosts (the file is the container's own, in its directory, and
// bind-mounted in; see WriteEtcFiles) and rewrites the files of the containers on a
// network whenever one of them starts, stops, is renamed or removed, or joins or leaves.
// No process has to stay, a lookup reads a file as it always did, and after a reboot there
// is nothing to restart.
//
// What that costs: each change rewrites the file of every container on its networks (a few
// hundred bytes each, so a start costs a few file writes per neighbour); a program that
// cached an address, or reads only DNS (nslookup, dig) does not see the names; and the
// file is rewritten in place, because the bind mount holds the old file, so a lookup at the
// very moment of a rewrite may read part of the old list. A DNS server has none of these,
// and costs a process, its memory, and its own life cycle to get right.

// refreshHosts rewrites /etc/hosts of every running container on any of the networks, so
// that each lists the other running containers of every user-defined network it is on.
// The lists come from the containers' records, believed only for containers whose init is
// alive, so a container killed with its monitor falls out at the next change.
func (e *Engine) refreshHosts(networks []string) error {
	networks = slices.DeleteFunc(slices.Clone(networks), builtin)
	if len(networks) == 0 {
		return nil
	}
	unlock, err := e.lockHosts()
	if err != nil {
		return err
	}
	defer unlock()
	live := e.liveContainers()
	var failed error
	for _, c := range live {
		if !slices.ContainsFunc(networks, func(n string) bool { return c.Network.Networks[n] != nil }) {
			continue
		}
		addr, err := netip.ParseAddr(c.Network.IPAddress)
		if err != nil {
			continue // on no network with an address
		}
		err = network.WriteHosts(e.Store.Dir(c.ID), c.Config.Hostname, addr, neighbours(c, live))
		if err != nil && failed == nil && !os.IsNotExist(err) {
			failed = fmt.Errorf("names of container %s: %w", c.Name, err)
		}
	}
	return failed
}

// writeEtcFiles writes a starting container's /etc files (network.WriteEtcFiles), its
// hosts file already listing its neighbours, so that its command finds them from its
// first instruction; the neighbours learn its name once it runs (refreshHosts).
func (e *Engine) writeEtcFiles(c *Container, addr netip.Addr) error {
	dir := e.Store.Dir(c.ID)
	if err := network.WriteEtcFiles(dir, c.Config.Hostname, addr); err != nil {
		return err
	}
	if len(userNetworksOf(c)) == 0 {
		return nil
	}
	unlock, err := e.lockHosts()
	if err != nil {
		return err
	}
	defer unlock()
	return network.WriteHosts(dir, c.Config.Hostname, addr, neighbours(c, e.liveContainers()))
}

// liveContainers are the containers whose records say they run and whose init is alive.
func (e *Engine) liveContainers() []*Container {
	ids, _ := e.Store.IDs()
	var live []*Container
	for _, id := range ids {
		c, err := e.Store.load(id)
		if err == nil && c.State.Status == StatusRunning && Alive(c.State.Pid, c.State.PidStart) {
			live = append(live, c)
		}
	}
	return live
}

// neighbours are the lines of c's /etc/hosts for the other containers on its user-defined
// networks: each one's address there, its name, its aliases there and its short ID.
func neighbours(c *Container, live []*Container) []network.Host {
	var nets []string
	for name := range c.Network.Networks {
		if !builtin(name) {
			nets = append(nets, name)
		}
	}
	sort.Strings(nets)
	var hosts []network.Host
	for _, name := range nets {
		for _, other := range live {
			ep := other.Network.Networks[name]
			if other.ID == c.ID || ep == nil {
				continue
			}
			addr, err := netip.ParseAddr(ep.IPAddress)
			if err != nil {
				continue
			}
			names := append(append([]string{other.Name}, ep.Aliases...), short(other.ID))
			hosts = append(hosts, network.Host{Address: addr, Names: names})
		}
	}
	return hosts
}

// userNetworksOf lists the user-defined networks a container is configured for or
// attached to.
func userNetworksOf(c *Container) []string {
	names := containerNetworks(c.Config)
	// Then the ones it was connected to later, by name: a map has no order of its own.
	for _, name := range slices.Sorted(maps.Keys(c.Network.Networks)) {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return slices.DeleteFunc(names, builtin)
}

// lockHosts serialises the rewrites of the hosts files, so that two of them, each made
// from the records it read, cannot end with the older list written last.
func (e *Engine) lockHosts() (func(), error) {
	if err := os.MkdirAll(e.networksDir(), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(e.networksDir(), ".hosts.lock"), os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the hosts files: %w", err)
	}
	if err := flockRetry(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock the hosts files: %w", err)
	}
	return func() { f.Close() }, nil
}

//go:build !linux

package network

import (
	"errors"
	"net/netip"
)

var errNotLinux = errors.New("container networking needs Linux (netlink, veth, bridges, iptables)")

// EnsureBridge creates the network's bridge (Linux only).
func (n *Network) EnsureBridge() error { return errNotLinux }

// EnsureNAT sets up the network's NAT rules and IP forwarding (Linux only).
func (n *Network) EnsureNAT() error { return errNotLinux }

// Allocate leases an address of the subnet (Linux only).
func (n *Network) Allocate(owner string, want netip.Addr) (*Lease, error) { return nil, errNotLinux }

// AllocateFor leases an address held by another process (Linux only).
func (n *Network) AllocateFor(holder int, owner string, want netip.Addr) (*Lease, error) {
	return nil, errNotLinux
}

// Release gives the address back and removes the container's rules (Linux only).
func (l *Lease) Release() error { return errNotLinux }

// Leases lists the network's leases (Linux only).
func (n *Network) Leases() ([]*Lease, error) { return nil, errNotLinux }

// Publish forwards host ports to the container (Linux only).
func (n *Network) Publish(l *Lease, ports []Port) error { return errNotLinux }

// Connect gives a process's network namespace a veth pair to the bridge (Linux only).
func (n *Network) Connect(pid int, isolated bool) (*Endpoint, error) { return nil, errNotLinux }

// ConnectAs is Connect with another interface name (Linux only).
func (n *Network) ConnectAs(pid int, name string, isolated bool) (*Endpoint, error) {
	return nil, errNotLinux
}

// Remove deletes the veth pair (Linux only).
func (e *Endpoint) Remove() error { return errNotLinux }

// ConfigureInside configures the container's interface (Linux only).
func ConfigureInside(in Inside) error { return errNotLinux }

// Cleanup removes the network from the host (Linux only).
func (n *Network) Cleanup() ([]string, error) { return nil, errNotLinux }

// EtcFiles are the files WriteEtcFiles writes into a directory's etc/.
var EtcFiles = []string{"hostname", "hosts", "resolv.conf"}

// BindEtcFiles bind-mounts the written files over the container's (Linux only).
func BindEtcFiles(dir, root string) error { return errNotLinux }

package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lock takes the network's lock, an flock(2) on the file "lock" in its state directory, and
// returns the function that releases it. Everything that changes the network's leases or
// rules holds it, so concurrent starts, which are separate processes, take turns. The
// kernel drops the lock when its holder dies, so a killed start cannot leave it taken.
//
// Equivalent to: `flock STATEDIR/BRIDGE/lock COMMAND`.
func (n *Network) lock() (unlock func(), err error) {
	path := filepath.Join(n.dir(), "lock")
	for {
		if err := os.MkdirAll(n.leaseDir(), 0o700); err != nil { // root's alone, like the rest of the state root
			return nil, fmt.Errorf("make the state directory of network %s: %w", n.Bridge, err)
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open the lock of network %s: %w", n.Bridge, err)
		}
		if err := flock(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock network %s (%s): %w", n.Bridge, path, err)
		}
		// Cleanup removes the state directory, lock file included, while holding the lock.
		// A process that waited for the lock meanwhile now holds it on a file that nobody
		// else will open; it must start over with the file that is at path now.
		var held, current unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) == nil && unix.Stat(path, &current) == nil &&
			held.Dev == current.Dev && held.Ino == current.Ino {
			return func() { f.Close() }, nil
		}
		f.Close()
	}
}

// flock waits for an exclusive lock on f. The wait is interrupted whenever the Go runtime
// signals the thread (it does, to preempt goroutines), so EINTR means: wait again.
func flock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func (n *Network) leaseDir() string { return filepath.Join(n.dir(), "leases") }

func (n *Network) leasePath(addr netip.Addr) string {
	return filepath.Join(n.leaseDir(), addr.String())
}

// Allocate gives the container owner an address of the network's subnet: want if it is
// valid (pass the zero netip.Addr for any), or else the lowest free one. The lease is held
// by the calling process; release it with Release when the container ends. Leases of dead
// holders are collected first, with their rules. Allocate refuses a second lease to an
// owner that holds one: the name labels the container's rules.
func (n *Network) Allocate(owner string, want netip.Addr) (*Lease, error) {
	return n.AllocateFor(os.Getpid(), owner, want)
}

// AllocateFor is Allocate for a lease that process holder holds: a command that connects
// a running container to a network ends at once, so the lease is its monitor's.
func (n *Network) AllocateFor(holder int, owner string, want netip.Addr) (*Lease, error) {
	if err := checkName("container name", owner); err != nil {
		return nil, err
	}
	if want.IsValid() {
		if err := n.checkHostAddress(want); err != nil {
			return nil, err
		}
	}
	started, err := startTime(holder)
	if err != nil {
		return nil, fmt.Errorf("the holder of a lease, process %d: %w", holder, err)
	}
	unlock, err := n.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	live, _, err := n.sweep()
	if err != nil {
		return nil, err
	}
	taken := make(map[netip.Addr]*Lease, len(live))
	for _, l := range live {
		if l.Owner == owner {
			return nil, fmt.Errorf("container name %s is in use on %s (address %s, held by PID %d)", owner, n.Bridge, l.Address, l.PID)
		}
		taken[l.Address] = l
	}
	addr := want
	if addr.IsValid() {
		if l, ok := taken[addr]; ok {
			return nil, fmt.Errorf("address %s is taken by container %s", addr, l.Owner)
		}
	} else {
		for a := n.Gateway().Addr().Next(); a != n.broadcast(); a = a.Next() {
			if taken[a] == nil {
				addr = a
				break
			}
		}
		if !addr.IsValid() {
			return nil, fmt.Errorf("no free address left in %s (%d containers)", n.Subnet, len(live))
		}
	}
	lease := &Lease{Owner: owner, Address: addr, PID: holder, Started: started, network: n}
	if err := n.writeLease(lease); err != nil {
		return nil, err
	}
	return lease, nil
}

// Release gives the address back and removes the container's published-port rules. It is
// a no-op for a lease already released.
func (l *Lease) Release() error {
	n := l.network
	unlock, err := n.lock()
	if err != nil {
		return err
	}
	defer unlock()
	// The file, not l, says which rules exist: Publish records them there first.
	stored, err := n.readLease(l.Address.String())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if stored.Owner != l.Owner {
		return nil // released, and given to another container since
	}
	return n.dropLease(stored)
}

// dropLease removes a lease and its rules; the caller holds the lock.
func (n *Network) dropLease(l *Lease) error {
	if len(l.Ports) > 0 {
		if err := n.removeRulesOf(l.Owner); err != nil {
			return err
		}
	}
	if err := os.Remove(n.leasePath(l.Address)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("release %s: %w", l.Address, err)
	}
	return nil
}

// Leases lists the network's leases, of live and dead holders alike, by address.
//
// Equivalent to: `cat STATEDIR/BRIDGE/leases/*`.
func (n *Network) Leases() ([]*Lease, error) {
	entries, err := os.ReadDir(n.leaseDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the leases of %s: %w", n.Bridge, err)
	}
	var leases []*Lease
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue // a lease being written
		}
		l, err := n.readLease(e.Name())
		if errors.Is(err, fs.ErrNotExist) {
			continue // released since the listing
		}
		if err != nil {
			return nil, err
		}
		leases = append(leases, l)
	}
	return leases, nil
}

func (n *Network) readLease(name string) (*Lease, error) {
	path := filepath.Join(n.leaseDir(), name)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	l := &Lease{network: n}
	if err := json.Unmarshal(data, l); err != nil {
		return nil, fmt.Errorf("read lease %s: %w", path, err)
	}
	return l, nil
}

// writeLease stores a lease. It writes a temporary file and renames it into place, so a
// reader without the lock (Leases) sees the old lease or the new, never half of one.
func (n *Network) writeLease(l *Lease) error {
	data, err := json.Marshal(l)
	if err != nil {
		return err
	}
	path := n.leasePath(l.Address)
	tmp := filepath.Join(n.leaseDir(), "."+l.Address.String())
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write lease %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write lease %s: %w", path, err)
	}
	return nil
}

// sweep removes the leases whose holder is dead, with their rules, and returns the leases
// of live holders and the ones it removed. The caller holds the lock.
func (n *Network) sweep() (live, stale []*Lease, err error) {
	leases, err := n.Leases()
	if err != nil {
		return nil, nil, err
	}
	for _, l := range leases {
		if l.alive() {
			live = append(live, l)
			continue
		}
		if err := n.dropLease(l); err != nil {
			return nil, nil, fmt.Errorf("collect the stale lease of %s (PID %d is gone): %w", l.Owner, l.PID, err)
		}
		stale = append(stale, l)
	}
	return live, stale, nil
}

// alive reports whether the lease's holder still runs: its PID exists, was started when
// the holder was, and has not exited (a zombie has, its parent just has not reaped it).
func (l *Lease) alive() bool {
	state, started, err := procStat(l.PID)
	return err == nil && state != "Z" && started == l.Started
}

// startTime reads when process pid started, in clock ticks after boot.
func startTime(pid int) (uint64, error) {
	_, started, err := procStat(pid)
	return started, err
}

// procStat reads the state (field 3) and start time (field 22) of process pid from
// /proc/PID/stat, counting fields after the command name, which may contain spaces and ")".
func procStat(pid int) (state string, started uint64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, err
	}
	end := strings.LastIndexByte(string(data), ')')
	fields := strings.Fields(string(data[end+1:]))
	const starttime = 22 - 3 // fields[0] is field 3
	if end < 0 || len(fields) <= starttime {
		return "", 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	started, err = strconv.ParseUint(fields[starttime], 10, 64)
	return fields[0], started, err
}

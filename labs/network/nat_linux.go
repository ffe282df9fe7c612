package network

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
)

// rule is one iptables rule: its table, its chain, and its match and target.
type rule struct {
	table, chain string
	// insert puts the rule first in its chain, ahead of rules that would decide first.
	insert bool
	spec   []string
}

// chains are the network's own chains, by table. The one in the mangle table holds the
// separation rules, and only an internal or isolated network makes it; Cleanup removes it
// whenever it is there.
func (n *Network) chains() []rule {
	return []rule{
		{table: "nat", chain: n.portsChain()},
		{table: "nat", chain: n.postChain()},
		{table: "filter", chain: n.forwardChain()},
		{table: "mangle", chain: n.separationChain()},
	}
}

// separated reports whether the network has separation rules.
func (n *Network) separated() bool { return n.Internal || n.Isolated }

// rules are the network's rules, the same for all of its containers. The rules in its own
// chains come before the jumps into them, so traffic never meets a half-filled chain.
func (n *Network) rules() []rule {
	// lab:06 begin: the rules, in order: MASQUERADE of the subnet's traffic leaving by another interface (and of 127.0.0.0/8 and hairpin DNAT traffic into the bridge), FORWARD accepts, and the jumps from PREROUTING, OUTPUT, POSTROUTING and FORWARD into the network's chains
	br, subnet := n.Bridge, n.Subnet.String()
	return []rule{
		// A container's connection to anywhere outside the subnet leaves with the host's
		// address on the outgoing interface: the world has no route back to the subnet.
		{table: "nat", chain: n.postChain(), spec: []string{"-s", subnet, "!", "-o", br, "-j", "MASQUERADE"}},
		// A connection from the host's loopback (curl 127.0.0.1:8080) that DNAT sends into
		// the bridge would reach the container with source 127.0.0.1, which the container
		// drops as a martian and could only answer to itself: give it the gateway's address.
		{table: "nat", chain: n.postChain(), spec: []string{"-s", "127.0.0.0/8", "-o", br, "-j", "MASQUERADE"}},
		// Hairpin: a container that reaches a published port through a host address is
		// sent back into the bridge. Unless br_netfilter tracks bridged traffic, the answer
		// would go straight from container to container, with a source the client does not
		// expect; with the gateway as the source, it goes back through the host.
		{table: "nat", chain: n.postChain(), spec: []string{"-s", subnet, "-o", br, "-m", "conntrack", "--ctstate", "DNAT", "-j", "MASQUERADE"}},
		// The forwarding rules matter on hosts whose FORWARD policy is DROP (any host with
		// Docker): answers to the containers' own connections may come in ...
		{table: "filter", chain: n.forwardChain(), spec: []string{"-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"}},
		// ... and so may new connections, but only those a published port's DNAT
		// translated: a container is not reachable at its own address from other hosts ...
		{table: "filter", chain: n.forwardChain(), spec: []string{"-o", br, "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"}},
		// ... and containers may send anywhere. When br_netfilter shows iptables the
		// traffic between containers on the bridge, that is accepted here too.
		{table: "filter", chain: n.forwardChain(), spec: []string{"-i", br, "-j", "ACCEPT"}},
		// Connections from other hosts (and from containers) to any of this host's own
		// addresses (--dst-type LOCAL) go through the published ports ...
		{table: "nat", chain: "PREROUTING", spec: []string{"-m", "addrtype", "--dst-type", "LOCAL", "-j", n.portsChain()}},
		// ... and so do connections the host makes itself, which do not pass PREROUTING.
		{table: "nat", chain: "OUTPUT", spec: []string{"-m", "addrtype", "--dst-type", "LOCAL", "-j", n.portsChain()}},
		// Every packet leaving the host passes the masquerading rules.
		{table: "nat", chain: "POSTROUTING", spec: []string{"-j", n.postChain()}},
		// Forwarded packets meet our rules before the host's own, which may drop them.
		{table: "filter", chain: "FORWARD", insert: true, spec: []string{"-j", n.forwardChain()}},
	}
	// lab:06 starter:
	// fmt.Fprintln(os.Stderr, "TODO(lab 06): the network's NAT and forwarding rules (skipped)")
	// return nil
	// lab:06 end
}

// allRules are the rules EnsureNAT makes sure of: rules, without the outbound
// masquerading on an internal network, and the separation rules.
func (n *Network) allRules() []rule {
	outbound := []string{"-s", n.Subnet.String(), "!", "-o", n.Bridge, "-j", "MASQUERADE"}
	var all []rule
	for _, r := range n.rules() {
		if n.Internal && slices.Equal(r.spec, outbound) {
			continue // nothing of an internal network goes out, so nothing is masqueraded
		}
		all = append(all, r)
	}
	return append(all, n.separation()...)
}

// separation are the rules that keep an internal or isolated network apart from the
// others. They live in a chain of the mangle table, not the filter table: mangle's FORWARD
// chain sees every forwarded packet before filter's, so they drop what they must before
// any network's own chain accepts it (each accepts everything from its bridge), whatever
// order the networks were made in. (Docker gets that order by keeping its isolation chains
// first in FORWARD, which it can, being the one daemon that owns every rule.)
func (n *Network) separation() []rule {
	br, sep := n.Bridge, n.separationChain()
	var rules []rule
	if n.Internal {
		// Nothing forwarded out of the bridge or into it: the containers reach each other
		// (switched by the bridge, not forwarded) and the host, and nothing else.
		rules = append(rules,
			rule{table: "mangle", chain: sep, spec: []string{"-i", br, "!", "-o", br, "-j", "DROP"}},
			rule{table: "mangle", chain: sep, spec: []string{"-o", br, "!", "-i", br, "-j", "DROP"}})
	}
	if n.Isolated {
		// Nothing from this bridge into another isolated bridge, except through a published
		// port (DNAT), which is open to anyone who can reach the host. The network on the
		// other side has the same rule the other way round.
		rules = append(rules, rule{table: "mangle", chain: sep, spec: []string{
			"-i", br, "!", "-o", br, "-m", "devgroup", "--dst-group", fmt.Sprintf("0x%x", IsolationGroup),
			"-m", "conntrack", "!", "--ctstate", "DNAT", "-j", "DROP"}})
	}
	if n.separated() {
		rules = append(rules, rule{table: "mangle", chain: "FORWARD", spec: []string{"-j", sep}})
	}
	return rules
}

// EnsureNAT sets up what all the network's containers share: its iptables chains and
// rules (outbound masquerading, the chains for published ports), route_localnet on the
// bridge (see the package documentation), and IP forwarding, whose previous value it
// remembers for Cleanup. It is idempotent: rules that exist are not added again.
//
// Equivalent to: `iptables -t nat -N CLABS-labs0; iptables -t nat -A POSTROUTING -j
// CLABS-labs0-POST; ...` (see rules), `sysctl net.ipv4.conf.labs0.route_localnet=1` and
// `sysctl net.ipv4.ip_forward=1`.
func (n *Network) EnsureNAT() error {
	unlock, err := n.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := writeSysctl(n.routeLocalnet(), "1"); err != nil {
		return fmt.Errorf("%w (make the bridge first with EnsureBridge)", err)
	}
	// One listing answers for every chain and rule, instead of an iptables process per
	// check: with the chains in place, a container's start runs iptables-save once.
	listings, err := listRules()
	if err != nil {
		return err
	}
	for _, c := range n.chains() {
		if slices.Contains(listings[c.table], "-N "+c.chain) || (c.table == "mangle" && !n.separated()) {
			continue
		}
		if _, err := iptables(c.table, "-N", c.chain); err != nil {
			return err
		}
	}
	for _, r := range n.allRules() {
		// A rule listed as written is there. iptables prints some matches in a form of
		// its own, so one not found that way is checked with -C before it is added.
		if slices.Contains(listings[r.table], "-A "+r.chain+" "+strings.Join(r.spec, " ")) {
			continue
		}
		if err := ensureRule(r); err != nil {
			return err
		}
	}
	return n.enableForwarding()
}

// Publish forwards each port of the host to the container that holds l: a DNAT rule in the
// network's port chain, labelled with the container's name, so that Release removes it
// exactly. It refuses a host port another container has published. EnsureNAT must have
// set the chains up.
//
// Equivalent to: `iptables -t nat -A CLABS-labs0 -p tcp --dport 8080 -m comment --comment c1
// -j DNAT --to-destination 10.88.0.2:80` for each port.
func (n *Network) Publish(l *Lease, ports []Port) error {
	unlock, err := n.lock()
	if err != nil {
		return err
	}
	defer unlock()
	live, _, err := n.sweep()
	if err != nil {
		return err
	}
	used := map[string]string{}
	for _, other := range live {
		for _, p := range other.Ports {
			used[fmt.Sprintf("%d/%s", p.Host, p.Proto)] = other.Owner
		}
	}
	for _, p := range ports {
		key := fmt.Sprintf("%d/%s", p.Host, p.Proto)
		if owner, ok := used[key]; ok {
			return fmt.Errorf("host port %s is already published by container %s", key, owner)
		}
		used[key] = l.Owner
	}
	// The lease records the ports before the rules exist, so that whatever happens next,
	// Release, or a sweep after a crash, knows there are rules to remove.
	l.Ports = append(l.Ports, ports...)
	if err := n.writeLease(l); err != nil {
		return err
	}
	// lab:06 begin: append a DNAT rule for each port to the network's port chain: iptables -t nat -A n.portsChain() with n.dnatSpec(l, p)
	for _, p := range ports {
		if _, err := iptables("nat", append([]string{"-A", n.portsChain()}, n.dnatSpec(l, p)...)...); err != nil {
			return fmt.Errorf("publish port %s of %s (has EnsureNAT made the chains?): %w", p, l.Owner, err)
		}
	}
	return nil
	// lab:06 starter:
	// if len(ports) > 0 {
	// 	return errors.New("TODO(lab 06): publish the ports: a DNAT rule for each")
	// }
	// return nil
	// lab:06 end
}

// dnatSpec matches connections to the host's port p.Host and sends them to the container.
func (n *Network) dnatSpec(l *Lease, p Port) []string {
	return []string{
		"-p", p.Proto, "--dport", strconv.Itoa(int(p.Host)),
		"-m", "comment", "--comment", l.Owner,
		"-j", "DNAT", "--to-destination", fmt.Sprintf("%s:%d", l.Address, p.Container),
	}
}

// removeRulesOf deletes the rules labelled with the container's name from the port chain.
//
// Equivalent to: `iptables -t nat -S CLABS-labs0 | grep -- '--comment "c1"'` and
// `iptables -t nat -D ...` for each line.
func (n *Network) removeRulesOf(owner string) error {
	listings, err := listRules("nat")
	if err != nil {
		return err
	}
	for _, spec := range ruleLines(listings["nat"]) {
		if spec[0] != n.portsChain() {
			continue
		}
		if i := slices.Index(spec, "--comment"); i < 0 || i+1 >= len(spec) || spec[i+1] != owner {
			continue
		}
		if _, err := iptables("nat", append([]string{"-D"}, spec...)...); err != nil {
			return fmt.Errorf("remove the rules of %s: %w", owner, err)
		}
	}
	return nil
}

// removeChains deletes the jumps into the network's chains, then the chains and everything
// in them, and returns what it removed.
//
// Equivalent to: `iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CLABS-labs0;
// ...; iptables -t nat -F CLABS-labs0; iptables -t nat -X CLABS-labs0; ...`.
func (n *Network) removeChains() ([]string, error) {
	var removed []string
	listings, err := listRules()
	if err != nil {
		return removed, err
	}
	for _, table := range []string{"nat", "filter", "mangle"} {
		var ours []string
		for _, c := range n.chains() {
			if c.table == table && slices.Contains(listings[table], "-N "+c.chain) {
				ours = append(ours, c.chain)
			}
		}
		for _, spec := range ruleLines(listings[table]) {
			if slices.Contains(ours, spec[0]) || !slices.Contains(ours, spec[len(spec)-1]) {
				continue // a rule in our chains goes with them; a rule not jumping to one stays
			}
			if _, err := iptables(table, append([]string{"-D"}, spec...)...); err != nil {
				return removed, err
			}
		}
		for _, chain := range ours {
			if _, err := iptables(table, "-F", chain); err != nil {
				return removed, err
			}
			if _, err := iptables(table, "-X", chain); err != nil {
				return removed, err
			}
			removed = append(removed, fmt.Sprintf("iptables chain %s (table %s)", chain, table))
		}
	}
	return removed, nil
}

// listRules lists the rules of the tables named (every table when none is) in the form of
// `iptables -S`, by table: "-P CHAIN POLICY" for a built-in chain, "-N CHAIN" for one of
// ours, "-A CHAIN MATCH... -j TARGET" for each rule. One iptables-save prints them all, in
// one process where `iptables -S` takes one per table (each about 6 ms here, most of a
// bridged container's start). A table no rule has loaded yet is absent, as if empty.
//
// Equivalent to: `iptables-save`.
func listRules(tables ...string) (map[string][]string, error) {
	args := []string{}
	if len(tables) == 1 {
		args = append(args, "-t", tables[0])
	}
	cmd := exec.Command("iptables-save", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if errors.Is(err, exec.ErrNotFound) {
		return nil, errors.New("iptables-save is not installed (install the iptables package)")
	}
	if err != nil {
		return nil, fmt.Errorf("iptables-save %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	listings := map[string][]string{}
	table := ""
	for line := range strings.SplitSeq(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "*"):
			table = line[1:]
		case strings.HasPrefix(line, ":"):
			// ":CHAIN POLICY [PACKETS:BYTES]", the policy "-" for a chain of our own.
			if f := strings.Fields(line[1:]); len(f) >= 2 && f[1] == "-" {
				listings[table] = append(listings[table], "-N "+f[0])
			} else if len(f) >= 2 {
				listings[table] = append(listings[table], "-P "+f[0]+" "+f[1])
			}
		case strings.HasPrefix(line, "-A "):
			listings[table] = append(listings[table], line)
		}
	}
	return listings, nil
}

// ruleLines reads the rules of a listing (listRules), each as its chain followed by its
// match and target, with the quotes iptables puts around comments taken off.
func ruleLines(listing []string) [][]string {
	var rules [][]string
	for _, line := range listing {
		fields := strings.Fields(line)
		if len(fields) < 3 || fields[0] != "-A" {
			continue
		}
		for i, f := range fields {
			fields[i] = strings.Trim(f, `"`)
		}
		rules = append(rules, fields[1:])
	}
	return rules
}

// ensureRule adds r unless it is there: `iptables -C` checks for a rule with the same
// match and target.
func ensureRule(r rule) error {
	if _, err := iptables(r.table, append([]string{"-C", r.chain}, r.spec...)...); err == nil {
		return nil
	}
	args := append([]string{"-A", r.chain}, r.spec...)
	if r.insert {
		args = append([]string{"-I", r.chain, "1"}, r.spec...)
	}
	_, err := iptables(r.table, args...)
	return err
}

// iptables runs the iptables command on table and returns its output. -w makes it wait for
// the xtables lock instead of failing while another program changes rules.
func iptables(table string, args ...string) (string, error) {
	full := append([]string{"-w", "-t", table}, args...)
	cmd := exec.Command("iptables", full...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if errors.Is(err, exec.ErrNotFound) {
		return "", errors.New("iptables is not installed (install the iptables package)")
	}
	if err != nil {
		return "", fmt.Errorf("iptables %s: %v: %s", strings.Join(full, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

const ipForward = "/proc/sys/net/ipv4/ip_forward"

func (n *Network) forwardRecord() string { return filepath.Join(n.dir(), "ip_forward") }

func (n *Network) routeLocalnet() string {
	return filepath.Join("/proc/sys/net/ipv4/conf", n.Bridge, "route_localnet")
}

// enableForwarding turns IP forwarding on. If it was off, the network remembers that, so
// that Cleanup can turn it off again and leave the host as it found it.
func (n *Network) enableForwarding() error {
	old, err := os.ReadFile(ipForward)
	if err != nil {
		return fmt.Errorf("read %s: %w", ipForward, err)
	}
	if strings.TrimSpace(string(old)) == "1" {
		return nil
	}
	if _, err := os.Stat(n.forwardRecord()); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(n.forwardRecord(), old, 0o644); err != nil {
			return fmt.Errorf("remember the value of %s: %w", ipForward, err)
		}
	}
	return writeSysctl(ipForward, "1")
}

// restoreForwarding sets IP forwarding back to what enableForwarding found, if it changed
// it. The host has one setting for all: while another network of the same state directory
// still has its bridge, the record passes to it instead, and forwarding stays on until the
// last of them goes. (A network of another program, or of another state directory, that
// turned forwarding on after this one did, has forwarding turned off under it.)
func (n *Network) restoreForwarding() (string, error) {
	old, err := os.ReadFile(n.forwardRecord())
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if heir := n.forwardingHeir(); heir != nil {
		return "", os.Rename(n.forwardRecord(), heir.forwardRecord())
	}
	value := strings.TrimSpace(string(old))
	if err := writeSysctl(ipForward, value); err != nil {
		return "", err
	}
	return "net.ipv4.ip_forward back to " + value, os.Remove(n.forwardRecord())
}

// forwardingHeir finds another network in the state directory whose bridge exists.
func (n *Network) forwardingHeir() *Network {
	entries, _ := os.ReadDir(n.StateDir)
	for _, e := range entries {
		if !e.IsDir() || e.Name() == n.Bridge || checkInterfaceName(e.Name()) != nil {
			continue
		}
		other := &Network{Bridge: e.Name(), Subnet: n.Subnet, StateDir: n.StateDir}
		if _, err := os.Stat(other.forwardRecord()); err == nil {
			continue // it restores forwarding itself
		}
		if link, err := netlink.LinkByName(other.Bridge); err == nil && link.Type() == "bridge" {
			return other
		}
	}
	return nil
}

// writeSysctl sets a kernel setting under /proc/sys.
//
// Equivalent to: `sysctl -w NAME=VALUE`.
func writeSysctl(path, value string) error {
	if err := os.WriteFile(path, []byte(value+"\n"), 0o644); err != nil {
		return fmt.Errorf("set %s to %s: %w", path, value, err)
	}
	return nil
}

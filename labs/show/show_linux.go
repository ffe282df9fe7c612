package show

import (
	"fmt"
	"math/bits"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/mount"
	"containerlabs/labs/procfs"
)

// Gather reads the picture of process pid, a container's first process, from the kernel.
// Parts the kernel will not show (a cgroup controller the host lacks, a network
// namespace that is the host's) are left empty; a process that does not exist is an error.
func Gather(pid int) (*Picture, error) {
	p := &Picture{PID: pid}
	proc, err := procfs.Inspect(pid)
	if err != nil {
		return nil, fmt.Errorf("show process %d: %w", pid, err)
	}
	p.Command = proc.Cmdline
	if err := p.gatherNamespaces(); err != nil {
		return nil, err
	}
	p.gatherCgroup()
	if err := p.gatherMounts(); err != nil {
		return nil, err
	}
	if !p.Shares("net") {
		if err := p.gatherNetwork(); err != nil {
			return nil, err
		}
	}
	p.gatherHardening()
	return p, nil
}

// Equivalent to: `ls -l /proc/PID/ns /proc/1/ns`.
func (p *Picture) gatherNamespaces() error {
	nss, err := procfs.Namespaces(p.PID)
	if err != nil {
		return err
	}
	_, host, err := procfs.HostReference()
	if err != nil {
		return err
	}
	hostInode := map[string]uint64{}
	for _, ns := range host {
		hostInode[ns.Type] = ns.Inode
	}
	for _, ns := range nss {
		p.Namespaces = append(p.Namespaces, Namespace{Type: ns.Type, Inode: ns.Inode, HostInode: hostInode[ns.Type]})
	}
	return nil
}

// Equivalent to: `cat /proc/PID/cgroup` and the files of that group.
func (p *Picture) gatherCgroup() {
	dirs, err := cgroup.Of(p.PID)
	if err != nil {
		return
	}
	// The memory controller's group, where the limits are drawn from; else the unified one.
	for _, controller := range []string{"memory", ""} {
		if d, ok := dirs[controller]; ok && p.Cgroup == "" {
			p.Cgroup = d
		}
	}
	read := func(controller, v1, v2 string) string {
		value, _, err := cgroup.ReadOf(p.PID, controller, v1, v2)
		if err != nil {
			return ""
		}
		return value
	}
	if used := read("memory", "memory.usage_in_bytes", "memory.current"); used != "" {
		p.Gauges = append(p.Gauges, gauge("memory", used, read("memory", "memory.limit_in_bytes", "memory.max"), "bytes"))
	}
	if used := read("pids", "pids.current", "pids.current"); used != "" {
		p.Gauges = append(p.Gauges, gauge("pids", used, read("pids", "pids.max", "pids.max"), "tasks"))
	}
	quota := read("cpu", "cpu.cfs_quota_us", "cpu.max")
	period := read("cpu", "cpu.cfs_period_us", "cpu.max")
	if q, per, ok := strings.Cut(quota, " "); ok { // v2: "QUOTA PERIOD"
		quota, period = q, per
	}
	if quota != "" {
		g := Gauge{Name: "cpu", Unit: "CPUs"}
		q, err1 := strconv.ParseFloat(quota, 64)
		per, err2 := strconv.ParseFloat(period, 64)
		if err1 == nil && err2 == nil && q > 0 && per > 0 {
			g.Limit = q / per
		}
		p.Gauges = append(p.Gauges, g)
	}
}

// gauge turns a cgroup's counter and limit into a Gauge; "max" or a v1 limit near 2^63 is
// no limit.
func gauge(name, used, limit, unit string) Gauge {
	g := Gauge{Name: name, Unit: unit}
	g.Used, _ = strconv.ParseFloat(used, 64)
	if l, err := strconv.ParseFloat(limit, 64); err == nil && l < 1<<62 {
		g.Limit = l
	}
	return g
}

// Equivalent to: `cat /proc/PID/mountinfo`.
func (p *Picture) gatherMounts() error {
	table, err := mount.TableOf(strconv.Itoa(p.PID))
	if err != nil {
		return fmt.Errorf("read the mounts of process %d: %w", p.PID, err)
	}
	for _, m := range table {
		p.Mounts = append(p.Mounts, Mount{Target: m.Target, FSType: m.FSType, Source: m.Source,
			ReadOnly: hasOption(m.Options, "ro"), Root: m.Root})
		if m.Target != "/" {
			continue
		}
		// The last mount at "/" is the one the process sees.
		p.Root = Root{FSType: m.FSType, Source: m.Source, Dir: m.Root}
		for opt := range strings.SplitSeq(m.SuperOptions, ",") {
			key, value, _ := strings.Cut(opt, "=")
			switch key {
			case "lowerdir":
				// Top layer first, as the kernel takes them; "::" separates data-only layers.
				for _, dir := range strings.Split(value, ":") {
					if dir != "" {
						p.Root.Lowers = append(p.Root.Lowers, dir)
					}
				}
			case "upperdir":
				p.Root.Upper = value
			case "workdir":
				p.Root.Work = value
			}
		}
	}
	return nil
}

func hasOption(options, want string) bool {
	for o := range strings.SplitSeq(options, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// gatherNetwork reads the links, addresses and routes inside the container's network
// namespace, the host ends of its veth pairs and their bridges, and the iptables rules that
// name them.
//
// Equivalent to: `nsenter -t PID -n ip -d addr; ip route`, then `ip -d link show` of each
// peer on the host, and `iptables-save | grep` for the addresses and bridges.
func (p *Picture) gatherNetwork() error {
	handle, err := netns.GetFromPid(p.PID)
	if err != nil {
		return fmt.Errorf("open the network namespace of process %d: %w", p.PID, err)
	}
	defer handle.Close()
	inside, err := netlink.NewHandleAt(handle)
	if err != nil {
		return fmt.Errorf("talk to the network namespace of process %d: %w", p.PID, err)
	}
	defer inside.Close()
	links, err := inside.LinkList()
	if err != nil {
		return fmt.Errorf("list the links of process %d: %w", p.PID, err)
	}
	var words []string // what a rule must mention to be this container's
	for _, l := range links {
		link := describe(inside, l)
		p.Inside = append(p.Inside, link)
		for _, a := range link.Addresses {
			if !strings.HasPrefix(a, "127.") {
				addr, _, _ := strings.Cut(a, "/")
				words = append(words, addr)
			}
		}
		if l.Type() != "veth" || l.Attrs().ParentIndex == 0 {
			continue
		}
		peer, err := netlink.LinkByIndex(l.Attrs().ParentIndex)
		if err != nil {
			continue // its peer is not in the host's namespace
		}
		hostEnd := describe(nil, peer)
		hostEnd.Peer = l.Attrs().Name
		if master := peer.Attrs().MasterIndex; master != 0 {
			if bridge, err := netlink.LinkByIndex(master); err == nil {
				hostEnd.Master = bridge.Attrs().Name
				if !p.hasBridge(hostEnd.Master) {
					p.Bridges = append(p.Bridges, describe(nil, bridge))
					words = append(words, hostEnd.Master)
				}
			}
		}
		if iso, err := os.ReadFile(filepath.Join("/sys/class/net", peer.Attrs().Name, "brport/isolated")); err == nil {
			hostEnd.Isolated = strings.TrimSpace(string(iso)) == "1"
		}
		p.HostEnds = append(p.HostEnds, hostEnd)
	}
	routes, err := inside.RouteList(nil, netlink.FAMILY_V4)
	if err == nil {
		for _, r := range routes {
			if r.Dst == nil && r.Gw != nil {
				p.Gateway = r.Gw.String()
			}
		}
	}
	p.Rules = rulesMentioning(words)
	return nil
}

func (p *Picture) hasBridge(name string) bool {
	for _, b := range p.Bridges {
		if b.Name == name {
			return true
		}
	}
	return false
}

// describe reads a link's name, kind, index and IPv4 addresses; h nil means the host's
// namespace.
func describe(h *netlink.Handle, l netlink.Link) Link {
	link := Link{Name: l.Attrs().Name, Kind: l.Type(), Index: l.Attrs().Index, Up: l.Attrs().Flags&1 != 0}
	var addrs []netlink.Addr
	if h != nil {
		addrs, _ = h.AddrList(l, netlink.FAMILY_V4)
	} else {
		addrs, _ = netlink.AddrList(l, netlink.FAMILY_V4)
	}
	for _, a := range addrs {
		link.Addresses = append(link.Addresses, a.IPNet.String())
	}
	return link
}

// rulesMentioning returns the iptables rules (nat, then filter) that name any of words as
// a whole address, port target or interface.
//
// Equivalent to: `iptables -t nat -S; iptables -S`, filtered.
func rulesMentioning(words []string) []string {
	if len(words) == 0 {
		return nil
	}
	var rules []string
	for _, table := range []string{"nat", "filter"} {
		out, err := exec.Command("iptables", "-w", "-t", table, "-S").Output()
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(out), "\n") {
			if !strings.HasPrefix(line, "-A ") {
				continue
			}
			for _, w := range words {
				if mentions(line, w) {
					rules = append(rules, "-t "+table+" "+line)
					break
				}
			}
		}
	}
	return rules
}

// mentions reports whether word appears in line as a whole field, or as the address of a
// field ("10.88.0.2:80", "10.88.0.2/32").
func mentions(line, word string) bool {
	for _, f := range strings.Fields(line) {
		if f == word || strings.HasPrefix(f, word+":") || strings.HasPrefix(f, word+"/") {
			return true
		}
	}
	return false
}

// gatherHardening reads what the process may do: its capabilities, seccomp mode and
// no_new_privs, and its user namespace's ID map.
//
// Equivalent to: `grep -E 'Cap|Seccomp|NoNewPrivs' /proc/PID/status; cat /proc/PID/uid_map`.
func (p *Picture) gatherHardening() {
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.PID), "status"))
	if err != nil {
		return
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		key, value, _ := strings.Cut(line, ":")
		value = strings.TrimSpace(value)
		switch key {
		case "CapEff":
			caps, _ := strconv.ParseUint(value, 16, 64)
			p.Hardening.Capabilities = bits.OnesCount64(caps)
			p.Hardening.CapEff = value
		case "Seccomp":
			p.Hardening.Seccomp = map[string]string{"0": "none", "1": "strict", "2": "filter"}[value]
		case "NoNewPrivs":
			p.Hardening.NoNewPrivs = value == "1"
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		last, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		p.Hardening.AllCapabilities = last + 1
	}
	if data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.PID), "uid_map")); err == nil {
		p.Hardening.UIDMap = strings.Join(strings.Fields(string(data)), " ")
	}
}

package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"containerlabs/labs/network"
	"containerlabs/labs/state"
)

// The networks every engine has, as Docker has them: the default bridge (lab 06's labs0),
// the host's own network namespace, and none (a namespace with only lo).
const (
	DefaultNetwork = "bridge"
	HostNetwork    = "host"
	NoNetwork      = "none"
)

// EnvNetworkPool names the environment variable that sets the range the subnets of new
// networks are taken from, one /24 each, when `network create` is given none.
const EnvNetworkPool = "CONTAINERLABS_NETWORK_POOL"

// DefaultNetworkPool is that range unless EnvNetworkPool says otherwise: 256 networks,
// beside the default bridge's 10.88.0.0/16, as Docker takes 172.18.0.0/16 and on after
// docker0's 172.17.0.0/16.
const DefaultNetworkPool = "10.89.0.0/16"

// bridgeNameOption is the option under which Docker's network inspect shows the bridge.
const bridgeNameOption = "com.docker.network.bridge.name"

// ErrNoNetwork means no network matches a name or ID.
var ErrNoNetwork = errors.New("no such network")

// Network is a network as `network ls` and `network inspect` show it. A user-defined
// network is a bridge of its own with a subnet of its own (lab 06's Network, isolated from
// the others); its record is kept in ROOT/engine/networks/NAME.json.
type Network struct {
	Name    string    `json:"Name"`
	ID      string    `json:"Id"`
	Created time.Time `json:"Created"`
	Scope   string    `json:"Scope"`
	// Driver is "bridge", or "host" and "null" for the two networks without a bridge.
	Driver string `json:"Driver"`
	// Internal networks have no way out (labs/network's Internal).
	Internal bool `json:"Internal"`
	IPAM     IPAM `json:"IPAM"`
	// Options name the bridge (com.docker.network.bridge.name), as Docker's do.
	Options map[string]string `json:"Options,omitempty"`
	Labels  map[string]string `json:"Labels,omitempty"`
	// Containers are the running containers on the network, by ID (filled in by
	// InspectNetwork, never stored).
	Containers map[string]NetworkContainer `json:"Containers,omitempty"`
}

// IPAM is a network's address range, as Docker's inspect shows it.
type IPAM struct {
	Driver string       `json:"Driver"`
	Config []IPAMConfig `json:"Config"`
}

// IPAMConfig is one subnet of a network and its gateway.
type IPAMConfig struct {
	Subnet  string `json:"Subnet"`
	Gateway string `json:"Gateway,omitempty"`
}

// NetworkContainer is a container as `network inspect` lists it.
type NetworkContainer struct {
	Name        string `json:"Name"`
	IPv4Address string `json:"IPv4Address"`
}

// EndpointConfig is how a container joins a user-defined network: the names it has there
// besides its own (run --network-alias, compose's service name).
type EndpointConfig struct {
	Aliases []string `json:"Aliases,omitempty"`
}

// Endpoint is a container's place on one network while it runs.
type Endpoint struct {
	NetworkID   string   `json:"NetworkID"`
	IPAddress   string   `json:"IPAddress"`
	IPPrefixLen int      `json:"IPPrefixLen"`
	Gateway     string   `json:"Gateway,omitempty"`
	Aliases     []string `json:"Aliases,omitempty"`
	// Interface is its name inside the container (eth0, eth1, ...), HostVeth the host's end.
	Interface string `json:"Interface"`
	HostVeth  string `json:"HostVeth,omitempty"`
}

// NetworkRequest is what `network create` asks for.
type NetworkRequest struct {
	Name string
	// Subnet is the network's range in CIDR form; empty takes the next free /24 of the pool.
	Subnet   string
	Internal bool
	Labels   map[string]string
}

// Bridge is the name of a user-defined network's bridge interface.
func (n *Network) Bridge() string { return n.Options[bridgeNameOption] }

// builtin reports whether name is one of the networks every engine has.
func builtin(name string) bool {
	return name == DefaultNetwork || name == HostNetwork || name == NoNetwork
}

func (e *Engine) networksDir() string { return filepath.Join(e.Store.Root(), "networks") }

// lockNetworks serialises the commands that create and remove networks, so that two of
// them cannot take the same name or subnet.
func (e *Engine) lockNetworks() (func(), error) {
	if err := os.MkdirAll(e.networksDir(), 0o700); err != nil {
		return nil, fmt.Errorf("open the networks: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(e.networksDir(), ".lock"), os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the networks: %w", err)
	}
	if err := flockRetry(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock the networks: %w", err)
	}
	return func() { f.Close() }, nil
}

// flockRetry waits for an exclusive lock on f, waiting again when a signal interrupts it.
func flockRetry(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// builtinNetwork describes one of the three networks every engine has.
func (e *Engine) builtinNetwork(name string) *Network {
	sum := sha256.Sum256([]byte("containerlabs network " + e.Root + " " + name))
	n := &Network{Name: name, ID: hex.EncodeToString(sum[:]), Scope: "local", Driver: name, IPAM: IPAM{Driver: "default"}}
	switch name {
	case NoNetwork:
		n.Driver = "null"
	case DefaultNetwork:
		gateway := ""
		if p, err := netip.ParsePrefix(e.Subnet); err == nil {
			gateway = p.Addr().Next().String()
		}
		n.IPAM.Config = []IPAMConfig{{Subnet: e.Subnet, Gateway: gateway}}
		n.Options = map[string]string{bridgeNameOption: e.Bridge}
	}
	return n
}

// userNetworks reads the records of the user-defined networks, by name.
func (e *Engine) userNetworks() ([]*Network, error) {
	entries, err := os.ReadDir(e.networksDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	var all []*Network
	for _, entry := range entries {
		name, ok := strings.CutSuffix(entry.Name(), ".json")
		if !ok || strings.HasPrefix(name, ".") {
			continue
		}
		n, err := e.loadNetwork(name)
		if err != nil {
			return nil, err
		}
		all = append(all, n)
	}
	return all, nil
}

func (e *Engine) loadNetwork(name string) (*Network, error) {
	data, err := os.ReadFile(filepath.Join(e.networksDir(), name+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoNetwork, name)
	}
	if err != nil {
		return nil, err
	}
	var n Network
	if err := json.Unmarshal(data, &n); err != nil {
		return nil, fmt.Errorf("read network %s: %w", name, err)
	}
	return &n, nil
}

// Networks lists every network, the three built-in ones first, as `network ls` does.
func (e *Engine) Networks() ([]*Network, error) {
	user, err := e.userNetworks()
	if err != nil {
		return nil, err
	}
	sort.Slice(user, func(i, j int) bool { return user[i].Name < user[j].Name })
	return append([]*Network{e.builtinNetwork(DefaultNetwork), e.builtinNetwork(HostNetwork), e.builtinNetwork(NoNetwork)}, user...), nil
}

// LookupNetwork finds the network ref names: by name, by full ID or by a unique prefix of
// its ID.
func (e *Engine) LookupNetwork(ref string) (*Network, error) {
	all, err := e.Networks()
	if err != nil {
		return nil, err
	}
	var matches []*Network
	for _, n := range all {
		if n.Name == ref || n.ID == ref {
			return n, nil
		}
		if ref != "" && strings.HasPrefix(n.ID, ref) {
			matches = append(matches, n)
		}
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("%w: %s", ErrNoNetwork, ref)
	case 1:
		return matches[0], nil
	}
	return nil, fmt.Errorf("%q matches %d networks: give more of the ID", ref, len(matches))
}

// CreateNetwork makes a user-defined network: its record, its bridge with the gateway
// address, and its rules (NAT out unless internal; isolation from the other networks).
// A subnet that overlaps another network's, or a route of the host's, is refused. Either
// everything is made or nothing is.
//
// Equivalent to: `docker network create [--subnet CIDR] [--internal] NAME`.
func (e *Engine) CreateNetwork(req NetworkRequest) (*Network, error) {
	if err := state.ValidName(req.Name); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	if builtin(req.Name) {
		return nil, fmt.Errorf("network %s is built in: choose another name", req.Name)
	}
	unlock, err := e.lockNetworks()
	if err != nil {
		return nil, err
	}
	defer unlock()
	existing, err := e.userNetworks()
	if err != nil {
		return nil, err
	}
	taken := map[netip.Prefix]string{}
	if p, err := netip.ParsePrefix(e.Subnet); err == nil {
		taken[p] = DefaultNetwork
	}
	for _, n := range existing {
		if n.Name == req.Name {
			return nil, fmt.Errorf("network with name %s already exists", req.Name)
		}
		for _, c := range n.IPAM.Config {
			if p, err := netip.ParsePrefix(c.Subnet); err == nil {
				taken[p] = n.Name
			}
		}
	}
	subnet, err := e.chooseSubnet(req.Subnet, taken)
	if err != nil {
		return nil, err
	}
	n := &Network{
		Name: req.Name, ID: NewID(), Created: time.Now().UTC(), Scope: "local",
		Driver: "bridge", Internal: req.Internal, Labels: req.Labels,
		IPAM: IPAM{Driver: "default", Config: []IPAMConfig{{Subnet: subnet.String(), Gateway: subnet.Addr().Next().String()}}},
	}
	// "labs-" and 10 digits of the ID: 15 characters, the most an interface name may have.
	n.Options = map[string]string{bridgeNameOption: "labs-" + n.ID[:10]}
	nw, err := e.bridgeNetwork(n)
	if err != nil {
		return nil, err
	}
	if err := nw.EnsureBridge(); err != nil {
		_, _ = nw.Cleanup()
		return nil, fmt.Errorf("network %s: %w", req.Name, err)
	}
	if err := nw.EnsureNAT(); err != nil {
		_, _ = nw.Cleanup()
		return nil, fmt.Errorf("network %s: %w", req.Name, err)
	}
	if err := e.saveNetwork(n); err != nil {
		_, _ = nw.Cleanup()
		return nil, err
	}
	return n, nil
}

// chooseSubnet checks the subnet asked for against those taken, or picks the first free
// /24 of the pool.
func (e *Engine) chooseSubnet(want string, taken map[netip.Prefix]string) (netip.Prefix, error) {
	overlap := func(p netip.Prefix) string {
		for other, name := range taken {
			if other.Overlaps(p) {
				return fmt.Sprintf("%s of network %s", other, name)
			}
		}
		return ""
	}
	if want != "" {
		// labs/network checks the range itself (private, IPv4, not too small, no host bits).
		if _, err := network.New("check", want, e.networksDir()); err != nil {
			return netip.Prefix{}, fmt.Errorf("--subnet: %w", err)
		}
		p := netip.MustParsePrefix(want)
		if other := overlap(p); other != "" {
			return netip.Prefix{}, fmt.Errorf("--subnet %s overlaps %s: choose another range", want, other)
		}
		return p, nil
	}
	poolText := os.Getenv(EnvNetworkPool)
	if poolText == "" {
		poolText = DefaultNetworkPool
	}
	pool, err := netip.ParsePrefix(poolText)
	if err != nil || !pool.Addr().Is4() || pool.Bits() > 24 || pool != pool.Masked() {
		return netip.Prefix{}, fmt.Errorf("%s=%q: want an IPv4 range of /24 or larger, such as %s", EnvNetworkPool, poolText, DefaultNetworkPool)
	}
	hostRoutes := hostRoutePrefixes()
	for p := netip.PrefixFrom(pool.Addr(), 24); pool.Contains(p.Addr()); p = nextSubnet(p) {
		if overlap(p) == "" && !slices.ContainsFunc(hostRoutes, p.Overlaps) {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("every /24 of %s is taken: remove a network, or give --subnet", pool)
}

// nextSubnet is the /24 after p.
func nextSubnet(p netip.Prefix) netip.Prefix {
	a := p.Addr().As4()
	v := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8) + 256
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), 24)
}

func (e *Engine) saveNetwork(n *Network) error {
	data, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(e.networksDir(), n.Name+".json")
	if err := os.WriteFile(path+".tmp", data, 0o600); err != nil {
		return fmt.Errorf("save network %s: %w", n.Name, err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return fmt.Errorf("save network %s: %w", n.Name, err)
	}
	return nil
}

// bridgeNetwork is lab 06's view of a network: its bridge, subnet and leases, isolated from
// the engine's other networks.
func (e *Engine) bridgeNetwork(n *Network) (*network.Network, error) {
	if n.Name == DefaultNetwork {
		return e.Network()
	}
	if n.Driver != "bridge" || len(n.IPAM.Config) == 0 {
		return nil, fmt.Errorf("network %s has no bridge", n.Name)
	}
	nw, err := network.New(n.Bridge(), n.IPAM.Config[0].Subnet, filepath.Join(e.Root, "network"))
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	nw.Internal, nw.Isolated = n.Internal, true
	return nw, nil
}

// networkUsers lists the running containers attached to the network name, by ID.
func (e *Engine) networkUsers(name string) (map[string]*Container, error) {
	all, err := e.Store.List()
	if err != nil {
		return nil, err
	}
	users := map[string]*Container{}
	for _, c := range all {
		if c.State.Running() && c.Network.Networks[name] != nil {
			users[c.ID] = c
		}
	}
	return users, nil
}

// InspectNetwork describes a network with the running containers on it.
//
// Equivalent to: `docker network inspect NAME`.
func (e *Engine) InspectNetwork(ref string) (*Network, error) {
	n, err := e.LookupNetwork(ref)
	if err != nil {
		return nil, err
	}
	users, err := e.networkUsers(n.Name)
	if err != nil {
		return nil, err
	}
	n.Containers = map[string]NetworkContainer{}
	for id, c := range users {
		ep := c.Network.Networks[n.Name]
		addr := ep.IPAddress
		if addr != "" {
			addr = fmt.Sprintf("%s/%d", addr, ep.IPPrefixLen)
		}
		n.Containers[id] = NetworkContainer{Name: c.Name, IPv4Address: addr}
	}
	return n, nil
}

// RemoveNetwork removes a user-defined network: its bridge, its rules, its leases and its
// record. It refuses while a running container is on it; a stopped container that names it
// fails to start until it is connected elsewhere, as with Docker.
//
// Equivalent to: `docker network rm NAME`.
func (e *Engine) RemoveNetwork(ref string) error {
	n, err := e.LookupNetwork(ref)
	if err != nil {
		return err
	}
	if builtin(n.Name) {
		return fmt.Errorf("network %s is built in and cannot be removed", n.Name)
	}
	unlock, err := e.lockNetworks()
	if err != nil {
		return err
	}
	defer unlock()
	users, err := e.networkUsers(n.Name)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		var names []string
		for _, c := range users {
			names = append(names, c.Name)
		}
		sort.Strings(names)
		return fmt.Errorf("network %s has active endpoints: %s (stop them, or network disconnect them, first)", n.Name, strings.Join(names, ", "))
	}
	nw, err := e.bridgeNetwork(n)
	if err != nil {
		return err
	}
	if _, err := nw.Cleanup(); err != nil {
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	if err := os.Remove(filepath.Join(e.networksDir(), n.Name+".json")); err != nil {
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	return nil
}

// PruneNetworks removes every user-defined network no running container is on, and
// returns their names.
//
// Equivalent to: `docker network prune -f`.
func (e *Engine) PruneNetworks() ([]string, error) {
	user, err := e.userNetworks()
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, n := range user {
		users, err := e.networkUsers(n.Name)
		if err != nil {
			return removed, err
		}
		if len(users) > 0 {
			continue
		}
		if err := e.RemoveNetwork(n.Name); err != nil {
			return removed, err
		}
		removed = append(removed, n.Name)
	}
	return removed, nil
}

// containerNetworks lists the networks a container joins, in the order its interfaces get
// them: NetworkMode's first, then the other user-defined networks by name. host and none
// join none.
func containerNetworks(cfg Config) []string {
	var names []string
	if cfg.NetworkMode == DefaultNetwork || (!builtin(cfg.NetworkMode) && cfg.NetworkMode != "") {
		names = append(names, cfg.NetworkMode)
	}
	var others []string
	for name := range cfg.Networks {
		if name != cfg.NetworkMode {
			others = append(others, name)
		}
	}
	sort.Strings(others)
	return append(names, others...)
}

// checkNetworks checks a new container's networks: host and none alone, every other
// network known, aliases only on user-defined networks, published ports only on a network
// that leads out.
func (e *Engine) checkNetworks(cfg *Config) error {
	if cfg.NetworkMode == "" {
		cfg.NetworkMode = DefaultNetwork
	}
	mode := cfg.NetworkMode
	if !builtin(mode) {
		if cfg.Networks == nil {
			cfg.Networks = map[string]EndpointConfig{}
		}
		if _, ok := cfg.Networks[mode]; !ok {
			cfg.Networks[mode] = EndpointConfig{}
		}
	}
	if (mode == HostNetwork || mode == NoNetwork) && len(cfg.Networks) > 0 {
		return fmt.Errorf("--network %s cannot be combined with other networks", mode)
	}
	for name, ep := range cfg.Networks {
		if builtin(name) {
			return fmt.Errorf("--network %s: the built-in networks cannot be joined besides another one; aliases work on user-defined networks only", name)
		}
		n, err := e.LookupNetwork(name)
		if err != nil {
			return fmt.Errorf("--network %s: %w (make it with: network create %s)", name, err, name)
		}
		for _, alias := range ep.Aliases {
			if err := state.ValidName(alias); err != nil {
				return fmt.Errorf("--network-alias: %w", err)
			}
		}
		if n.Internal && name == mode && len(cfg.Publish) > 0 {
			return fmt.Errorf("-p: network %s is internal: nothing from outside reaches it", name)
		}
	}
	if len(cfg.Publish) > 0 && (mode == HostNetwork || mode == NoNetwork) {
		return fmt.Errorf("-p needs a bridge network, not --network %s (published ports are forwarded to a container's own address)", mode)
	}
	return nil
}

// DefaultNetworkFormat is what `network ls` prints without --format: Docker's columns.
const DefaultNetworkFormat = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"

// NetworkSummary is one line of `network ls`.
type NetworkSummary struct {
	ID, Name, Driver, Scope, Subnet, Internal, Labels string
}

// NetworkHeader is the header row of a `network ls` table.
var NetworkHeader = NetworkSummary{ID: "NETWORK ID", Name: "NAME", Driver: "DRIVER", Scope: "SCOPE", Subnet: "SUBNET", Internal: "INTERNAL", Labels: "LABELS"}

// SummarizeNetwork describes a network as `network ls` shows it.
func SummarizeNetwork(n *Network) NetworkSummary {
	s := NetworkSummary{ID: short(n.ID), Name: n.Name, Driver: n.Driver, Scope: n.Scope, Internal: fmt.Sprint(n.Internal)}
	if len(n.IPAM.Config) > 0 {
		s.Subnet = n.IPAM.Config[0].Subnet
	}
	var labels []string
	for k, v := range n.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	s.Labels = strings.Join(labels, ",")
	return s
}

package engine

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/network"
	"containerlabs/labs/runtime"
)

// Config is what `run` and `create` were asked for: the image's defaults with the command
// line's changes. It is kept in the container's record, so `start` can make the container
// again the same way.
type Config struct {
	// Image is the image as the command line named it ("busybox"; the record's Image is
	// the reference it was resolved to).
	Image string `json:"Image"`
	// Cmd replaces the image's Cmd when set; Entrypoint replaces its Entrypoint when
	// EntrypointSet (an empty --entrypoint clears it, as Docker's does).
	Cmd           []string `json:"Cmd"`
	Entrypoint    []string `json:"Entrypoint"`
	EntrypointSet bool     `json:"EntrypointSet,omitempty"`
	// Env adds to (and overrides) the image's environment: NAME=value lines.
	Env        []string `json:"Env"`
	WorkingDir string   `json:"WorkingDir"`
	User       string   `json:"User"`
	Hostname   string   `json:"Hostname"`
	// Tty gives the container a terminal; OpenStdin keeps its standard input open.
	Tty        bool `json:"Tty"`
	OpenStdin  bool `json:"OpenStdin"`
	AutoRemove bool `json:"AutoRemove"`
	// Memory (bytes, swap included), CPUs and PidsLimit are the cgroup limits (lab 04).
	Memory    int64   `json:"Memory"`
	CPUs      float64 `json:"NanoCpus"`
	PidsLimit int64   `json:"PidsLimit"`
	// ReadOnly mounts the root file system read-only. Privileged lifts the default
	// hardening: every capability, no seccomp filter, no masked or read-only paths.
	ReadOnly   bool     `json:"ReadonlyRootfs"`
	Privileged bool     `json:"Privileged"`
	CapAdd     []string `json:"CapAdd"`
	CapDrop    []string `json:"CapDrop"`
	// NetworkMode is "bridge" (lab 06), "host" (the host's network namespace), "none"
	// (a network namespace with only lo) or a user-defined network's name.
	NetworkMode string `json:"NetworkMode"`
	// Networks are the user-defined networks the container joins, with its aliases on each
	// (see networks.go).
	Networks map[string]EndpointConfig `json:"Networks,omitempty"`
	// RestartPolicy says when the monitor starts the container again (restart.go), and
	// Healthcheck how it checks the container's health (health.go).
	RestartPolicy RestartPolicy     `json:"RestartPolicy"`
	Healthcheck   *v1.HealthConfig  `json:"Healthcheck,omitempty"`
	Labels        map[string]string `json:"Labels,omitempty"`
	// Publish are the published ports, as -p takes them (8080:80, 5353:53/udp).
	Publish []string `json:"PortBindings"`
	// Volumes are the -v arguments; VolumesFrom the containers whose mounts to share.
	Volumes     []string `json:"Binds"`
	VolumesFrom []string `json:"VolumesFrom"`
	// LogMaxSize and LogMaxFile rotate the json-file log (0: 10 MiB and 3 files).
	LogMaxSize int64 `json:"LogMaxSize"`
	LogMaxFile int   `json:"LogMaxFile"`
}

// Mount is a volume or bind mount of a container, as inspect shows it.
type Mount struct {
	// Type is "volume" for a named or anonymous volume, "bind" for a host path.
	Type string `json:"Type"`
	// Name is the volume's name (empty for a bind mount).
	Name        string `json:"Name,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	// RW is false for a read-only mount (-v ...:ro), as in Docker's inspect.
	RW bool `json:"RW"`
	// Anonymous volumes are made for this container and removed with it by rm -v.
	Anonymous bool `json:"Anonymous,omitempty"`
}

// NetworkState is the container's place on the network while it runs: its first network's
// address at the top, as Docker's NetworkSettings has it, and every network's in Networks.
type NetworkState struct {
	Bridge    string   `json:"Bridge,omitempty"`
	IPAddress string   `json:"IPAddress,omitempty"`
	Gateway   string   `json:"Gateway,omitempty"`
	Ports     []string `json:"Ports,omitempty"`
	HostVeth  string   `json:"HostVeth,omitempty"`
	// Networks are the container's endpoints, by network name.
	Networks map[string]*Endpoint `json:"Networks,omitempty"`
}

// CgroupParent is where the engine's containers' cgroups live, apart from the labs'
// /containerlabs, whose stale-group collector must never see a running engine container.
const CgroupParent = "containerlabs-engine"

// Process is what the container runs, with the image's config and the command line's
// changes already applied, and its user resolved inside the container's root.
type Process struct {
	Args       []string
	Env        []string
	WorkingDir string
	UID, GID   uint32
}

// BuildSpec turns a container's record and its resolved process into the OCI
// configuration its bundle holds: Docker's defaults (runtime.DockerSpec: namespaces, the
// default mounts, capabilities, seccomp, masked paths), then everything the command line
// changed. The bundle directory is the container's directory; the root is "rootfs" in it.
func BuildSpec(c *Container, p Process, stateDir string) (*specs.Spec, error) {
	spec := runtime.DockerSpec(p.Args)
	spec.Process.Env = p.Env
	spec.Process.Cwd = p.WorkingDir
	spec.Process.User = specs.User{UID: p.UID, GID: p.GID}
	spec.Process.Terminal = c.Config.Tty
	spec.Hostname = c.Config.Hostname
	spec.Root.Readonly = c.Config.ReadOnly
	spec.Linux.CgroupsPath = "/" + CgroupParent + "/" + c.ID

	// Resources (lab 04): memory with swap included, a CFS quota, a pids limit.
	res := spec.Linux.Resources
	if c.Config.Memory > 0 {
		limit := c.Config.Memory
		res.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &limit}
	}
	if c.Config.CPUs > 0 {
		quota, period := cgroup.Quota(c.Config.CPUs), uint64(cgroup.CPUPeriod)
		res.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	}
	if c.Config.PidsLimit > 0 {
		limit := c.Config.PidsLimit
		res.Pids = &specs.LinuxPids{Limit: &limit}
	}

	// The network namespace: a new one (plugged in after create) for bridge and none, the
	// host's own for host.
	// host's own for host (Create has checked the rest: bridge, none or a user network).
	if c.Config.NetworkMode == "host" {
		spec.Linux.Namespaces = slices.DeleteFunc(spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
			return ns.Type == specs.NetworkNamespace
		})
	}

	// Volumes and bind mounts, then the network's /etc files, which the engine writes into
	// the container's directory (so they stay out of its writable layer, and out of commits).
	for _, m := range c.Mounts {
		opts := []string{"rbind", "rprivate"}
		if !m.RW {
			opts = append(opts, "ro")
		}
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: opts})
	}
	if c.Config.NetworkMode != "host" {
		for _, name := range network.EtcFiles {
			spec.Mounts = append(spec.Mounts, specs.Mount{
				Destination: "/etc/" + name, Type: "bind",
				Source: filepath.Join(stateDir, "etc", name), Options: []string{"rbind", "rprivate"},
			})
		}
	}

	// ping without CAP_NET_RAW (runtime.DefaultSysctls), in a network namespace of the
	// container's own: in the host's, the sysctl would change the host.
	if c.Config.NetworkMode != "host" {
		spec.Linux.Sysctl = runtime.DefaultSysctls()
	}

	if err := applyCapabilities(spec, c.Config); err != nil {
		return nil, err
	}
	return spec, nil
}

// applyCapabilities applies --privileged, --cap-add and --cap-drop to the capability sets,
// and keeps the seccomp profile in step with them (Docker's profile allows, for instance,
// mount only to a container that has CAP_SYS_ADMIN).
func applyCapabilities(spec *specs.Spec, cfg Config) error {
	caps, err := Capabilities(runtime.DefaultCapabilities, cfg.CapAdd, cfg.CapDrop, cfg.Privileged)
	if err != nil {
		return err
	}
	if cfg.Privileged {
		spec.Linux.Seccomp = nil
		spec.Linux.MaskedPaths = nil
		spec.Linux.ReadonlyPaths = nil
		spec.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		for i, m := range spec.Mounts {
			if m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup" {
				spec.Mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
			}
		}
	}
	spec.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	if spec.Linux.Seccomp != nil {
		spec.Linux.Seccomp = runtime.DefaultSeccomp(caps)
	}
	return nil
}

// allCapabilities is the word --cap-add and --cap-drop take for every capability.
const allCapabilities = "ALL"

// Capabilities computes a container's capability set from the defaults and the command
// line, with Docker's rules:
//
//   - names are matched in any case, with or without CAP_ (net_raw, NET_RAW, CAP_NET_RAW);
//     an unknown name is an error that names it;
//   - a capability both added and dropped is added (--cap-add wins), and ALL in either list
//     stands for every capability;
//   - the drops apply first, then the adds: --cap-drop ALL --cap-add NET_BIND_SERVICE
//     leaves exactly NET_BIND_SERVICE; --cap-add ALL --cap-drop NET_RAW leaves all but it;
//   - --privileged gives every capability, whatever the lists say.
//
// Equivalent to what `docker run --cap-drop ... --cap-add ...` computes (the CLI's
// EffectiveCapAddCapDrop, then the daemon's TweakCapabilities).
func Capabilities(defaults, add, drop []string, privileged bool) ([]string, error) {
	if privileged {
		return runtime.AllCapabilities(), nil
	}
	adds, err := normalizeCapabilities("--cap-add", add)
	if err != nil {
		return nil, err
	}
	drops, err := normalizeCapabilities("--cap-drop", drop)
	if err != nil {
		return nil, err
	}
	if slices.Contains(adds, allCapabilities) {
		adds = []string{allCapabilities}
	}
	if slices.Contains(drops, allCapabilities) {
		drops = []string{allCapabilities}
	}
	drops = slices.DeleteFunc(drops, func(c string) bool { return slices.Contains(adds, c) })

	var caps []string
	switch {
	case slices.Contains(adds, allCapabilities):
		for _, c := range runtime.AllCapabilities() {
			if !slices.Contains(drops, c) {
				caps = append(caps, c)
			}
		}
	case slices.Contains(drops, allCapabilities):
		caps = adds
	default:
		for _, c := range defaults {
			if !slices.Contains(drops, c) {
				caps = append(caps, c)
			}
		}
		for _, c := range adds {
			if !slices.Contains(caps, c) {
				caps = append(caps, c)
			}
		}
	}
	return caps, nil
}

// normalizeCapabilities writes each name as the OCI configuration does (CAP_NET_RAW), or
// ALL, without duplicates.
func normalizeCapabilities(option string, names []string) ([]string, error) {
	var out []string
	for _, name := range names {
		c := allCapabilities
		if !strings.EqualFold(name, allCapabilities) {
			var err error
			if c, err = runtime.CapabilityName(name); err != nil {
				return nil, fmt.Errorf("%s: %w", option, err)
			}
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

package cgroup

import (
	"fmt"
	"math"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// OCI is a container's group placed the way an OCI runtime places it: at the cgroupsPath of
// the container's config.json, in every cgroup v1 hierarchy the host mounts (or once, in the
// unified tree of v2), with the config's linux.resources written into it.
//
// It differs from Cgroup, which names groups itself under one parent: here the caller (a
// container engine, containerd) chooses the path, the resources are the OCI spec's full set
// (devices, cpuset, freezer, block IO throttles, hugepages, ...), and the group can be frozen
// (pause), updated and signalled as a whole. Its fields are all a later command needs to find
// the group again, so a runtime stores the value in its state file.
type OCI struct {
	// Mode is the host's cgroup mode when the group was made: V1 and Hybrid use the v1
	// hierarchies, V2 the unified tree.
	Mode Mode `json:"mode"`
	// Paths maps each controller ("memory", "cpu", ...; "" on v2) to the group's directory
	// in the hierarchy that holds it. Controllers mounted together share a directory.
	Paths map[string]string `json:"paths"`
	// Made lists the directories Create made, parents before children, so that Destroy
	// removes exactly those and never a group someone else made.
	Made []string `json:"made,omitempty"`
	// Later maps the v1 controllers the group was left out of (see NewOCI) to the
	// directory it gets in their hierarchy if an update needs one of them.
	Later map[string]string `json:"later,omitempty"`
	// Devices is the device filter in force, on v2 only. v1's kernel keeps the result of
	// every rule written, so an update's rules apply on top of the earlier ones; on v2 the
	// program is rebuilt whole each time, from this filter with the update's rules applied.
	Devices *DeviceFilter `json:"devices,omitempty"`
}

// CleanOCIPath checks an OCI cgroupsPath and returns it cleaned, with whether it is absolute
// (from the hierarchy's root) or relative (to the runtime's own group). An empty path means
// the container's ID, relative, as runc reads it. A path in systemd's "slice:prefix:name"
// form is read the same way, as runc reads it without its systemd driver (which this package
// does not have): one relative directory of that name. containerd's CRI plugin writes that
// form whenever a pod's cgroup parent ends in ".slice", whichever driver the runtime has.
func CleanOCIPath(cgroupsPath, id string) (p string, absolute bool, err error) {
	if cgroupsPath == "" {
		cgroupsPath = id
	}
	absolute = strings.HasPrefix(cgroupsPath, "/")
	// Cleaning it as an absolute path keeps ".." from climbing above the hierarchy's root
	// (or above the runtime's own group, for a relative path).
	p = path.Clean("/" + cgroupsPath)
	if p == "/" {
		return "", false, fmt.Errorf("cgroupsPath %q names the root group: a container needs a group of its own", cgroupsPath)
	}
	return p, absolute, nil
}

// DeviceRule renders an OCI device cgroup rule as the v1 devices controller reads it
// ("c 1:3 rwm"), with the file it goes to: devices.allow or devices.deny. A missing type
// means all ("a"), a missing major or minor any ("*"), a missing access all of "rwm".
func DeviceRule(allow bool, typ string, major, minor *int64, access string) (file, rule string) {
	if typ == "" {
		typ = "a"
	}
	number := func(n *int64) string {
		if n == nil || *n < 0 {
			return "*"
		}
		return fmt.Sprint(*n)
	}
	if access == "" {
		access = "rwm"
	}
	file = "devices.deny"
	if allow {
		file = "devices.allow"
	}
	return file, fmt.Sprintf("%s %s:%s %s", typ, number(major), number(minor), access)
}

// zeroAsUnset returns r with every field that runc reads as "not set" when it is zero made
// nil, so that only what the config really asks for is written. Engines fill these fields
// from zero defaults of their own: Docker's spec carries blockIO.weight 0 and cpu.shares 0
// for a container that asked for neither. Written, they would fail (a kernel without the
// BFQ scheduler has no blkio.weight file) or do harm (cpu.shares 0 becomes the kernel's
// lowest weight, 2; memory.low 0 on v2 read as "max" would protect all the group's memory).
//
// The class, as runc's drivers skip it: memory limit, reservation, swap, kernel and
// kernelTCP; cpu shares, quota, period, realtimePeriod and realtimeRuntime; blockIO weight
// and leafWeight, and those of each weightDevice entry (an entry left with neither is
// dropped); network classID; and memory.swappiness -1 (Docker's "default", which arrives
// as the largest uint64). Zero stays meaningful, and is kept, where the kernel gives it a
// meaning: cpu.idle, cpu.burst, memory.swappiness, and pids.limit (the specification asks
// runtimes to treat a limit of 0 as 0), and a throttle rate of 0, which removes a device's
// limit.
func zeroAsUnset(r *specs.LinuxResources) *specs.LinuxResources {
	if r == nil {
		return nil
	}
	out := *r
	if m := r.Memory; m != nil {
		c := *m
		c.Limit, c.Reservation, c.Swap = nonZero(m.Limit), nonZero(m.Reservation), nonZero(m.Swap)
		c.Kernel, c.KernelTCP = nonZero(m.Kernel), nonZero(m.KernelTCP)
		if m.Swappiness != nil && *m.Swappiness == math.MaxUint64 {
			c.Swappiness = nil
		}
		out.Memory = &c
	}
	if cpu := r.CPU; cpu != nil {
		c := *cpu
		c.Shares, c.Period, c.RealtimePeriod = nonZero(cpu.Shares), nonZero(cpu.Period), nonZero(cpu.RealtimePeriod)
		c.Quota, c.RealtimeRuntime = nonZero(cpu.Quota), nonZero(cpu.RealtimeRuntime)
		out.CPU = &c
	}
	if b := r.BlockIO; b != nil {
		c := *b
		c.Weight, c.LeafWeight = nonZero(b.Weight), nonZero(b.LeafWeight)
		c.WeightDevice = nil
		for _, d := range b.WeightDevice {
			d.Weight, d.LeafWeight = nonZero(d.Weight), nonZero(d.LeafWeight)
			if d.Weight != nil || d.LeafWeight != nil {
				c.WeightDevice = append(c.WeightDevice, d)
			}
		}
		out.BlockIO = &c
	}
	if n := r.Network; n != nil {
		c := *n
		c.ClassID = nonZero(n.ClassID)
		out.Network = &c
	}
	return &out
}

// nonZero is p, or nil if it points to zero.
func nonZero[T comparable](p *T) *T {
	var zero T
	if p == nil || *p == zero {
		return nil
	}
	return p
}

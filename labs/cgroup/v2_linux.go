package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// v2 drives the unified hierarchy: one tree, every controller in every group whose parent
// enabled it.
type v2 struct{}

// v2Controllers are the controllers a container's group needs on v2. io is added where
// the kernel offers it.
var v2Controllers = []string{"memory", "cpu", "pids"}

func (v2) hierarchies(root string) ([]hierarchy, error) {
	return []hierarchy{{dir: root}}, nil
}

// prepare enables the controllers for dir's children. A v2 group has the interface files
// of a controller (memory.max, ...) only if its parent lists that controller in
// cgroup.subtree_control, and the parent may list only what it has itself (its
// cgroup.controllers). So the controllers are enabled level by level, from the root down
// to the containers' parent. The parent holds no processes of its own: a group that
// hands controllers to its children may not (the no-internal-processes rule, from which
// only the root is exempt), and none is ever added to it.
//
// Equivalent to: `echo "+memory +cpu +pids +io" > /sys/fs/cgroup/cgroup.subtree_control`,
// and the same for /sys/fs/cgroup/containerlabs.
func (v2) prepare(c *Cgroup, dir string) error {
	available, err := readList(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("enable controllers in %s: %w", dir, err)
	}
	enabled, err := readList(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return fmt.Errorf("enable controllers in %s: %w", dir, err)
	}
	var missing []string
	for _, name := range append(slices.Clone(v2Controllers), "io") {
		switch {
		case slices.Contains(enabled, name):
		case slices.Contains(available, name):
			missing = append(missing, "+"+name)
		case name != "io":
			return fmt.Errorf("%w: cgroup controller %s is not available in %s (cgroup.controllers lists %q)", ErrUnsupported, name, dir, strings.Join(available, " "))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	err = c.write(filepath.Join(dir, "cgroup.subtree_control"), strings.Join(missing, " "))
	if errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("%w (%s holds processes of its own, which a group that hands controllers to its children may not: move them out)", err, dir)
	}
	return err
}

// apply writes the limits:
//
//	memory.max       the memory limit
//	memory.swap.max  0: no swap on top of it, so the limit is the real total
//	cpu.max          "QUOTA PERIOD" in microseconds
//	cpu.weight       the relative weight, converted from shares
//	pids.max         the task limit
//	io.bfq.weight    the IO weight, for devices scheduled by BFQ; else io.weight
func (v2) apply(c *Cgroup, l Limits) error {
	// lab:04 begin: write each limit that is set into its v2 file in c.dirs[0] (see above; c.write; c.limitSwap for memory.swap.max, Quota and CPUPeriod for cpu.max, SharesToWeight for cpu.weight)
	dir := c.dirs[0]
	if l.MemoryBytes > 0 {
		if err := c.write(filepath.Join(dir, "memory.max"), strconv.FormatInt(l.MemoryBytes, 10)); err != nil {
			return err
		}
		if err := c.limitSwap(filepath.Join(dir, "memory.swap.max"), "0"); err != nil {
			return err
		}
	}
	if l.CPUs > 0 {
		if err := c.write(filepath.Join(dir, "cpu.max"), fmt.Sprintf("%d %d", Quota(l.CPUs), CPUPeriod)); err != nil {
			return err
		}
	}
	if l.CPUShares > 0 {
		if err := c.write(filepath.Join(dir, "cpu.weight"), strconv.FormatUint(SharesToWeight(l.CPUShares), 10)); err != nil {
			return err
		}
	}
	if l.PidsMax > 0 {
		if err := c.write(filepath.Join(dir, "pids.max"), strconv.FormatInt(l.PidsMax, 10)); err != nil {
			return err
		}
	}
	if l.IOWeight > 0 {
		if _, err := os.Stat(filepath.Join(dir, "io.bfq.weight")); err == nil {
			return c.write(filepath.Join(dir, "io.bfq.weight"), strconv.Itoa(int(l.IOWeight)))
		}
		return c.writeOptional(dir, "io weight", strconv.FormatUint(BlkioToIOWeight(l.IOWeight), 10), "io.weight")
	}
	return nil
	// lab:04 end
}

// stats reads memory.current, memory.peak, memory.events (whose oom_kill counts the OOM
// killer's victims in the group), cpu.stat, pids.current and pids.events.
func (v2) stats(c *Cgroup) (Stats, error) {
	dir := c.dirs[0]
	var st Stats
	var err error
	if st.MemoryBytes, err = readUint(filepath.Join(dir, "memory.current")); err != nil {
		return st, err
	}
	// memory.peak appeared in Linux 5.19.
	if st.MemoryPeakBytes, err = readUint(filepath.Join(dir, "memory.peak")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return st, err
	}
	// lab:04 begin: read memory.events (readKeyed): "max" is how often the limit was hit, "oom_kill" the OOM killer's victims
	events, err := readKeyed(filepath.Join(dir, "memory.events"))
	if err != nil {
		return st, err
	}
	st.MemoryLimitHits, st.OOMKills = events["max"], events["oom_kill"]
	// lab:04 end
	cpu, err := readKeyed(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return st, err
	}
	st.CPUUsage = time.Duration(cpu["usage_usec"]) * time.Microsecond
	st.CPUThrottled = time.Duration(cpu["throttled_usec"]) * time.Microsecond
	if st.Pids, err = readUint(filepath.Join(dir, "pids.current")); err != nil {
		return st, err
	}
	pids, err := readKeyed(filepath.Join(dir, "pids.events"))
	if err != nil {
		return st, err
	}
	st.ForksRefused = pids["max"]
	return st, nil
}

// killFile is cgroup.kill (Linux 5.14): writing 1 kills every process in the group at
// once, in the kernel, so a process forking at that moment cannot slip away the way it
// can from a loop that reads cgroup.procs and signals each PID.
func (v2) killFile() string { return "cgroup.kill" }

// readList reads a space-separated list such as cgroup.controllers.
func readList(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(data)), nil
}

package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// v1 drives the legacy hierarchies, on v1 and hybrid hosts: a tree per controller, and the
// container's group made in each.
type v1 struct{}

// v1Controllers are the controllers a container's group is made in, the memory one first
// (it holds the group's lock). cpuacct does the CPU accounting that v2 folded into cpu;
// blkio is used where it is mounted.
var v1Controllers = []string{"memory", "cpu", "cpuacct", "pids", "blkio"}

// hierarchies finds each controller at ROOT/CONTROLLER. Distributions often mount two
// controllers together (cpu,cpuacct) and add symlinks named after each, so the links are
// resolved and a shared hierarchy gets one group, not two.
func (v1) hierarchies(root string) ([]hierarchy, error) {
	var hs []hierarchy
	for _, name := range v1Controllers {
		dir, err := filepath.EvalSymlinks(filepath.Join(root, name))
		if errors.Is(err, fs.ErrNotExist) && name == "blkio" {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: cgroup v1 controller %s is not mounted at %s", ErrUnsupported, name, filepath.Join(root, name))
		}
		if i := slices.IndexFunc(hs, func(h hierarchy) bool { return h.dir == dir }); i >= 0 {
			hs[i].controllers = append(hs[i].controllers, name)
			continue
		}
		hs = append(hs, hierarchy{dir: dir, controllers: []string{name}})
	}
	return hs, nil
}

// prepare has nothing to do on v1: every group of a hierarchy has its controllers' files.
func (v1) prepare(*Cgroup, string) error { return nil }

// apply writes the limits:
//
//	memory.limit_in_bytes        the RAM limit
//	memory.memsw.limit_in_bytes  the RAM+swap limit, the same value: no swap on top
//	cpu.cfs_period_us            the period, 100000us
//	cpu.cfs_quota_us             the CPU time allowed in each period
//	cpu.shares                   the relative weight
//	pids.max                     the task limit
//	blkio.bfq.weight             the IO weight, for devices scheduled by BFQ; blkio.weight
//	                             on kernels before 5.0, whose CFQ scheduler read it
func (v1) apply(c *Cgroup, l Limits) error {
	// lab:04 begin: write each limit that is set into its v1 file (see above; c.dir(controller), c.write; c.limitSwap for memsw, Quota for the CPU quota, c.writeOptional for the IO weight)
	if l.MemoryBytes > 0 {
		dir, value := c.dir("memory"), strconv.FormatInt(l.MemoryBytes, 10)
		// The RAM limit first: the kernel refuses a memsw limit below the RAM limit, and
		// both start out unlimited.
		if err := c.write(filepath.Join(dir, "memory.limit_in_bytes"), value); err != nil {
			return err
		}
		if err := c.limitSwap(filepath.Join(dir, "memory.memsw.limit_in_bytes"), value); err != nil {
			return err
		}
	}
	if l.CPUs > 0 {
		dir := c.dir("cpu")
		if err := c.write(filepath.Join(dir, "cpu.cfs_period_us"), strconv.Itoa(CPUPeriod)); err != nil {
			return err
		}
		if err := c.write(filepath.Join(dir, "cpu.cfs_quota_us"), strconv.FormatInt(Quota(l.CPUs), 10)); err != nil {
			return err
		}
	}
	if l.CPUShares > 0 {
		if err := c.write(filepath.Join(c.dir("cpu"), "cpu.shares"), strconv.FormatUint(l.CPUShares, 10)); err != nil {
			return err
		}
	}
	if l.PidsMax > 0 {
		if err := c.write(filepath.Join(c.dir("pids"), "pids.max"), strconv.FormatInt(l.PidsMax, 10)); err != nil {
			return err
		}
	}
	if l.IOWeight > 0 {
		dir := c.dir("blkio")
		if dir == "" {
			return fmt.Errorf("%w: io weight: the blkio controller is not mounted", ErrUnsupported)
		}
		return c.writeOptional(dir, "io weight", strconv.Itoa(int(l.IOWeight)), "blkio.bfq.weight", "blkio.weight")
	}
	return nil
	// lab:04 end
}

// stats reads memory.usage_in_bytes, memory.max_usage_in_bytes, memory.failcnt and
// memory.memsw.failcnt, memory.oom_control (whose oom_kill counts the OOM killer's victims, since Linux 4.13),
// cpuacct.usage (nanoseconds), cpu.stat, pids.current and pids.events.
func (v1) stats(c *Cgroup) (Stats, error) {
	mem := c.dir("memory")
	var st Stats
	var err error
	if st.MemoryBytes, err = readUint(filepath.Join(mem, "memory.usage_in_bytes")); err != nil {
		return st, err
	}
	if st.MemoryPeakBytes, err = readUint(filepath.Join(mem, "memory.max_usage_in_bytes")); err != nil {
		return st, err
	}
	if st.MemoryLimitHits, err = readUint(filepath.Join(mem, "memory.failcnt")); err != nil {
		return st, err
	}
	// With swap accounted, the RAM+swap limit is usually the one reached (it is checked
	// first), and counted apart.
	if memsw, err := readUint(filepath.Join(mem, "memory.memsw.failcnt")); err == nil {
		st.MemoryLimitHits += memsw
	}
	// lab:04 begin: count the OOM killer's victims: oom_kill in memory.oom_control (readKeyed) into st.OOMKills
	oom, err := readKeyed(filepath.Join(mem, "memory.oom_control"))
	if err != nil {
		return st, err
	}
	st.OOMKills = oom["oom_kill"]
	// lab:04 end
	usage, err := readUint(filepath.Join(c.dir("cpuacct"), "cpuacct.usage"))
	if err != nil {
		return st, err
	}
	st.CPUUsage = time.Duration(usage)
	cpu, err := readKeyed(filepath.Join(c.dir("cpu"), "cpu.stat"))
	if err != nil {
		return st, err
	}
	st.CPUThrottled = time.Duration(cpu["throttled_time"])
	pidsDir := c.dir("pids")
	if st.Pids, err = readUint(filepath.Join(pidsDir, "pids.current")); err != nil {
		return st, err
	}
	pids, err := readKeyed(filepath.Join(pidsDir, "pids.events"))
	if err != nil {
		return st, err
	}
	st.ForksRefused = pids["max"]
	return st, nil
}

// killFile: v1 has no cgroup.kill, so Remove signals each process itself.
func (v1) killFile() string { return "" }

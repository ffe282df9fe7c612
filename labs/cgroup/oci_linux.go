package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// freezeTimeout bounds how long Freeze waits for the kernel to stop every task.
const freezeTimeout = 5 * time.Second

// ociControllers are the v1 controllers every container's group is placed in: limits and
// accounting (memory, cpu, cpuacct, pids, blkio), device rules (devices), pause and a
// fork-proof kill (freezer).
var ociControllers = []string{"memory", "cpu", "cpuacct", "pids", "blkio", "devices", "freezer"}

// NewOCI works out where the group of container id goes, from its config's cgroupsPath (see
// CleanOCIPath), without creating anything. An absolute path starts at the root of each
// hierarchy; a relative one at the group the calling process is in, as /proc/self/cgroup
// says.
//
// On a v1 or hybrid host the group is placed in the hierarchies of ociControllers, and in
// those of cpuset, hugetlb, net_cls, net_prio and rdma only when r uses them. runc places
// it in every hierarchy; leaving the others out keeps a container start lean: making a
// cpuset group alone costs about 2ms, as the kernel rebuilds its scheduling domains. A
// container left out of a hierarchy stays in the runtime's own group there, until an
// update needs that controller: then its processes move in (see join).
//
// Equivalent to: `cat /proc/self/cgroup` and joining the path onto each hierarchy.
func NewOCI(cgroupsPath, id string, r *specs.LinuxResources) (*OCI, error) {
	mode, err := Detect()
	if err != nil {
		return nil, err
	}
	p, absolute, err := CleanOCIPath(cgroupsPath, id)
	if err != nil {
		return nil, err
	}
	own, err := ownGroups()
	if err != nil {
		return nil, err
	}
	g := &OCI{Mode: mode, Paths: map[string]string{}}
	for _, h := range own {
		if (mode == V1 && h.controllers == "") || (mode == V2 && h.controllers != "") || strings.HasPrefix(h.controllers, "name=") {
			// v2 uses only the unified line; v1 only the controllers' lines (named
			// hierarchies such as systemd's carry no controller); hybrid both, its
			// unified tree holding no controller but telling systemd and others which
			// group a process is in.
			continue
		}
		if mode == Hybrid && h.controllers == "" {
			base := "/"
			if !absolute {
				base = h.path
			}
			g.Paths[""] = filepath.Join(DefaultRoot, "unified", base, p)
			continue
		}
		later := mode != V2 && !slices.ContainsFunc(strings.Split(h.controllers, ","), func(c string) bool {
			return slices.Contains(ociControllers, c) || usesController(r, c)
		})
		mountPoint := filepath.Join(DefaultRoot, h.controllers)
		if _, err := os.Stat(mountPoint); err != nil {
			mountPoint = filepath.Join(DefaultRoot, strings.Split(h.controllers, ",")[0])
		}
		base := "/"
		if !absolute {
			base = h.path
		}
		dir := filepath.Join(mountPoint, base, p)
		for _, c := range strings.Split(h.controllers, ",") {
			if later {
				if g.Later == nil {
					g.Later = map[string]string{}
				}
				g.Later[c] = dir
			} else {
				g.Paths[c] = dir
			}
		}
	}
	if len(g.Paths) == 0 {
		return nil, fmt.Errorf("place cgroup %s: /proc/self/cgroup lists no %s hierarchy", p, mode)
	}
	return g, nil
}

// usesController reports whether r sets anything of an optional v1 controller.
func usesController(r *specs.LinuxResources, controller string) bool {
	if r == nil {
		return false
	}
	switch controller {
	case "cpuset":
		return r.CPU != nil && (r.CPU.Cpus != "" || r.CPU.Mems != "")
	case "hugetlb":
		return len(r.HugepageLimits) > 0
	case "net_cls":
		return r.Network != nil && r.Network.ClassID != nil
	case "net_prio":
		return r.Network != nil && len(r.Network.Priorities) > 0
	case "rdma":
		return len(r.Rdma) > 0
	}
	return false
}

// ownGroup is one line of /proc/self/cgroup: "ID:CONTROLLERS:PATH".
type ownGroup struct {
	controllers, path string
}

func ownGroups() ([]ownGroup, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read own cgroups: %w", err)
	}
	defer f.Close()
	var groups []ownGroup
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) == 3 {
			groups = append(groups, ownGroup{controllers: parts[1], path: parts[2]})
		}
	}
	return groups, s.Err()
}

// dirs lists the group's directories, each once, in a stable order.
func (g *OCI) dirs() []string {
	var dirs []string
	for _, d := range g.Paths {
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	slices.Sort(dirs)
	return dirs
}

// dir is the group's directory that holds controller's files, or "" if no hierarchy has it.
func (g *OCI) dir(controller string) string {
	if g.Mode == V2 {
		return g.Paths[""]
	}
	return g.Paths[controller]
}

// Create makes the group's directories (and missing parents) and writes r into them. On v1,
// a new cpuset group starts with no CPUs and no memory nodes, and the kernel refuses to add
// a process to it; so each new level copies its parent's. On v2, the controllers are enabled
// in every ancestor's cgroup.subtree_control, so that the group has their files. If a
// resource cannot be applied, what was made is removed again.
//
// Equivalent to: `mkdir -p` in each hierarchy, then an `echo VALUE > FILE` per resource.
func (g *OCI) Create(r *specs.LinuxResources) error {
	for _, dir := range g.dirs() {
		made, err := mkdirAll(dir)
		g.Made = append(g.Made, made...)
		if err != nil {
			_ = g.Destroy()
			return err
		}
	}
	if g.Mode == V2 {
		enableControllers(g.Paths[""])
	} else if cpuset := g.dir("cpuset"); cpuset != "" {
		if err := inheritCpuset(cpuset, g.Made); err != nil {
			_ = g.Destroy()
			return err
		}
	}
	if err := g.Apply(r); err != nil {
		_ = g.Destroy()
		return err
	}
	return nil
}

// mkdirAll makes dir and its missing parents, and returns the ones it made, parents first.
func mkdirAll(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) || d == "/" {
			return nil, fmt.Errorf("make cgroup %s: %w", dir, err)
		}
		missing = append(missing, d)
	}
	var made []string
	for _, d := range slices.Backward(missing) {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return made, fmt.Errorf("make cgroup %s: %w", d, err)
		}
		made = append(made, d)
	}
	return made, nil
}

// inheritCpuset fills cpuset.cpus and cpuset.mems of each new cpuset group from its parent.
func inheritCpuset(leaf string, made []string) error {
	for _, dir := range made {
		if dir != leaf && !strings.HasPrefix(leaf, dir+"/") {
			continue
		}
		for _, file := range []string{"cpuset.cpus", "cpuset.mems"} {
			data, err := os.ReadFile(filepath.Join(filepath.Dir(dir), file))
			if err != nil {
				return fmt.Errorf("make cpuset group %s: %w", dir, err)
			}
			if err := writeFile(filepath.Join(dir, file), strings.TrimSpace(string(data))); err != nil {
				return fmt.Errorf("make cpuset group %s: %w", dir, err)
			}
		}
	}
	return nil
}

// enableControllers enables every available controller for the children of each ancestor of
// leaf, from the root down. A level that holds processes refuses (the no-internal-processes
// rule); then the leaf simply lacks those files, and Apply reports what is missing.
func enableControllers(leaf string) {
	rel, err := filepath.Rel(DefaultRoot, filepath.Dir(leaf))
	if err != nil {
		return
	}
	dir := DefaultRoot
	for _, part := range append([]string{""}, strings.Split(rel, "/")...) {
		if part != "" && part != "." {
			dir = filepath.Join(dir, part)
		}
		available, err1 := readList(filepath.Join(dir, "cgroup.controllers"))
		enabled, err2 := readList(filepath.Join(dir, "cgroup.subtree_control"))
		if err1 != nil || err2 != nil {
			return
		}
		var add []string
		for _, c := range available {
			if !slices.Contains(enabled, c) {
				add = append(add, "+"+c)
			}
		}
		if len(add) > 0 {
			_ = writeFile(filepath.Join(dir, "cgroup.subtree_control"), strings.Join(add, " "))
		}
	}
}

// Apply writes resources into the existing group: Create does it first, `update` again
// later. Each field goes to its controller's file; a field this host cannot apply fails
// with an error that wraps ErrUnsupported and names the field, never silently. A field
// whose zero value means "not set" (see zeroAsUnset) is not written at all, as with runc.
func (g *OCI) Apply(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	r = zeroAsUnset(r)
	steps := []func(*specs.LinuxResources) error{g.applyDevices, g.applyMemory, g.applyCPU, g.applyPids,
		g.applyBlockIO, g.applyHugepages, g.applyNetwork, g.applyRdma, g.applyUnified}
	for _, step := range steps {
		if err := step(r); err != nil {
			return err
		}
	}
	return nil
}

// set writes value to file in the directory of controller; field names the OCI field the
// value comes from, for the error.
func (g *OCI) set(controller, file, value, field string) error {
	dir := g.dir(controller)
	if dir == "" && g.Later[controller] != "" {
		if err := g.join(controller); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		dir = g.dir(controller)
	}
	if dir == "" {
		return fmt.Errorf("%w: %s needs the %s cgroup controller, which is not mounted or was not used when the container was created", ErrUnsupported, field, controller)
	}
	p := filepath.Join(dir, file)
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s: %s does not exist (the kernel or its IO scheduler lacks it)", ErrUnsupported, field, p)
	}
	if err := writeFile(p, value); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

// join places the group in the hierarchy of controller, which NewOCI left it out of: it
// makes the group's directory there and moves every process of the group in. The group is
// frozen meanwhile, so that no process forks a child the move would miss.
//
// Equivalent to: `mkdir /sys/fs/cgroup/cpuset/PATH` and an `echo PID > cgroup.procs` for each
// process of the group.
func (g *OCI) join(controller string) error {
	dir := g.Later[controller]
	made, err := mkdirAll(dir)
	g.Made = append(g.Made, made...)
	if err != nil {
		return err
	}
	if controller == "cpuset" {
		if err := inheritCpuset(dir, made); err != nil {
			return err
		}
	}
	wasFrozen, err := g.Frozen()
	if err != nil {
		return err
	}
	if !wasFrozen && g.dir("freezer") != "" {
		if err := g.Freeze(); err != nil {
			return err
		}
		defer func() { _ = g.Thaw() }()
	}
	pids, err := g.Pids()
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("move process %d to the %s cgroup: %w", pid, controller, err)
		}
	}
	for c, d := range g.Later {
		if d == dir {
			g.Paths[c] = dir
			delete(g.Later, c)
		}
	}
	return nil
}

// hasFile reports whether the group's directory for controller has file.
func (g *OCI) hasFile(controller, file string) bool {
	dir := g.dir(controller)
	if dir == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, file))
	return err == nil
}

// unlimited renders a limit where -1 means none: "-1" in v1's files, "max" in v2's.
func (g *OCI) unlimited(v int64) string {
	switch {
	case v < 0 && g.Mode == V2:
		return "max"
	case v < 0:
		return "-1"
	}
	return strconv.FormatInt(v, 10)
}

// applyDevices puts the device rules in force. v1 has a devices controller: each rule is
// written, in order, to devices.allow or devices.deny, and the kernel keeps the result. v2
// has none: the new rules are applied to the filter in force (g.Devices) to give a new
// DeviceFilter, the same result worked out here, and its eBPF program replaces the group's
// (AttachDeviceFilter). Either way a bad rule fails before anything is written.
func (g *OCI) applyDevices(r *specs.LinuxResources) error {
	if len(r.Devices) == 0 {
		return nil
	}
	current := DeviceFilter{DefaultAllow: true}
	if g.Devices != nil {
		current = *g.Devices
	}
	filter, err := current.With(r.Devices)
	if err != nil {
		return err
	}
	if g.Mode == V2 {
		if err := AttachDeviceFilter(g.Paths[""], filter); err != nil {
			return fmt.Errorf("linux.resources.devices: %w", err)
		}
		g.Devices = &filter
		return nil
	}
	for _, d := range r.Devices {
		file, rule := DeviceRule(d.Allow, d.Type, d.Major, d.Minor, d.Access)
		if err := g.set("devices", file, rule, "linux.resources.devices"); err != nil {
			return err
		}
	}
	return nil
}

func (g *OCI) applyMemory(r *specs.LinuxResources) error {
	m := r.Memory
	if m == nil {
		return nil
	}
	if m.Kernel != nil {
		return fmt.Errorf("%w: linux.resources.memory.kernel: kernel memory limits are deprecated and gone from recent kernels", ErrUnsupported)
	}
	if m.CheckBeforeUpdate != nil && *m.CheckBeforeUpdate && m.Limit != nil && *m.Limit > 0 {
		usageFile := "memory.usage_in_bytes"
		if g.Mode == V2 {
			usageFile = "memory.current"
		}
		usage, err := readUint(filepath.Join(g.dir("memory"), usageFile))
		if err == nil && usage > uint64(*m.Limit) {
			return fmt.Errorf("linux.resources.memory.limit %d is below the %d bytes the group uses now", *m.Limit, usage)
		}
	}
	if m.Limit != nil && *m.Limit < 0 && m.Swap == nil {
		// Lifting the RAM limit lifts the RAM+swap one too, as runc does: v1 refuses a RAM
		// limit above the memsw one, and on v2 a swap limit left in place would still hold
		// the group back.
		swapFile := "memory.memsw.limit_in_bytes"
		if g.Mode == V2 {
			swapFile = "memory.swap.max"
		}
		if g.hasFile("memory", swapFile) {
			lifted, unlimited := *m, int64(-1)
			lifted.Swap = &unlimited
			m = &lifted
		}
	}
	if g.Mode == V2 {
		return g.applyMemoryV2(m)
	}
	if m.Swap != nil {
		if err := g.limitMemoryAndSwapV1(m); err != nil {
			return err
		}
	} else if m.Limit != nil {
		if err := g.set("memory", "memory.limit_in_bytes", g.unlimited(*m.Limit), "linux.resources.memory.limit"); err != nil {
			return err
		}
	}
	for _, w := range []struct {
		value       *int64
		file, field string
	}{
		{m.Reservation, "memory.soft_limit_in_bytes", "linux.resources.memory.reservation"},
		{m.KernelTCP, "memory.kmem.tcp.limit_in_bytes", "linux.resources.memory.kernelTCP"},
	} {
		if w.value != nil {
			if err := g.set("memory", w.file, g.unlimited(*w.value), w.field); err != nil {
				return err
			}
		}
	}
	if m.Swappiness != nil {
		if *m.Swappiness > 100 {
			return fmt.Errorf("linux.resources.memory.swappiness %d out of range: want 0 to 100", *m.Swappiness)
		}
		if err := g.set("memory", "memory.swappiness", strconv.FormatUint(*m.Swappiness, 10), "linux.resources.memory.swappiness"); err != nil {
			return err
		}
	}
	if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
		if err := g.set("memory", "memory.oom_control", "1", "linux.resources.memory.disableOOMKiller"); err != nil {
			return err
		}
	}
	if m.UseHierarchy != nil {
		if err := g.set("memory", "memory.use_hierarchy", map[bool]string{true: "1", false: "0"}[*m.UseHierarchy], "linux.resources.memory.useHierarchy"); err != nil {
			return err
		}
	}
	return nil
}

// limitMemoryAndSwapV1 sets the RAM limit and the RAM+swap limit (OCI's swap is the sum, as
// v1's memsw is). The kernel insists that memsw never be below the RAM limit, whatever the
// order of updates, so memsw is lifted first, then RAM set, then memsw set.
func (g *OCI) limitMemoryAndSwapV1(m *specs.LinuxMemory) error {
	if !g.hasFile("memory", "memory.memsw.limit_in_bytes") {
		on, swapErr := swapOn()
		if swapErr != nil {
			return swapErr
		}
		if on && *m.Swap >= 0 {
			return fmt.Errorf("%w: linux.resources.memory.swap: memory.memsw.limit_in_bytes is missing (boot with swapaccount=1) and swap is on", ErrUnsupported)
		}
		// Without swap there is nothing to limit beyond RAM.
		if m.Limit != nil {
			return g.set("memory", "memory.limit_in_bytes", g.unlimited(*m.Limit), "linux.resources.memory.limit")
		}
		return nil
	}
	if err := g.set("memory", "memory.memsw.limit_in_bytes", "-1", "linux.resources.memory.swap"); err != nil {
		return err
	}
	if m.Limit != nil {
		if err := g.set("memory", "memory.limit_in_bytes", g.unlimited(*m.Limit), "linux.resources.memory.limit"); err != nil {
			return err
		}
	}
	return g.set("memory", "memory.memsw.limit_in_bytes", g.unlimited(*m.Swap), "linux.resources.memory.swap")
}

func (g *OCI) applyMemoryV2(m *specs.LinuxMemory) error {
	if m.Limit != nil {
		if err := g.set("memory", "memory.max", g.unlimited(*m.Limit), "linux.resources.memory.limit"); err != nil {
			return err
		}
	}
	if m.Reservation != nil {
		if err := g.set("memory", "memory.low", g.unlimited(*m.Reservation), "linux.resources.memory.reservation"); err != nil {
			return err
		}
	}
	if m.Swap != nil {
		// v2 limits swap alone; OCI's swap is RAM plus swap.
		value := "max"
		if *m.Swap >= 0 {
			if m.Limit == nil || *m.Limit <= 0 || *m.Swap < *m.Limit {
				return fmt.Errorf("linux.resources.memory.swap %d needs a memory limit no larger than it on cgroup v2", *m.Swap)
			}
			value = strconv.FormatInt(*m.Swap-*m.Limit, 10)
		}
		if err := g.set("memory", "memory.swap.max", value, "linux.resources.memory.swap"); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		set   bool
		field string
	}{
		{m.KernelTCP != nil, "kernelTCP"}, {m.Swappiness != nil, "swappiness"},
		{m.DisableOOMKiller != nil && *m.DisableOOMKiller, "disableOOMKiller"},
	} {
		if f.set {
			return fmt.Errorf("%w: linux.resources.memory.%s has no cgroup v2 equivalent", ErrUnsupported, f.field)
		}
	}
	return nil
}

func (g *OCI) applyCPU(r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	if g.Mode == V2 {
		return g.applyCPUV2(c)
	}
	var writes []struct{ controller, file, value, field string }
	add := func(controller, file, value, field string) {
		writes = append(writes, struct{ controller, file, value, field string }{controller, file, value, "linux.resources.cpu." + field})
	}
	if c.Shares != nil {
		add("cpu", "cpu.shares", strconv.FormatUint(*c.Shares, 10), "shares")
	}
	// The period first: the kernel checks a quota against the period in force.
	if c.Period != nil {
		add("cpu", "cpu.cfs_period_us", strconv.FormatUint(*c.Period, 10), "period")
	}
	if c.Quota != nil {
		add("cpu", "cpu.cfs_quota_us", g.unlimited(*c.Quota), "quota")
	}
	if c.Burst != nil {
		add("cpu", "cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10), "burst")
	}
	if c.RealtimePeriod != nil {
		add("cpu", "cpu.rt_period_us", strconv.FormatUint(*c.RealtimePeriod, 10), "realtimePeriod")
	}
	if c.RealtimeRuntime != nil {
		add("cpu", "cpu.rt_runtime_us", strconv.FormatInt(*c.RealtimeRuntime, 10), "realtimeRuntime")
	}
	if c.Idle != nil {
		add("cpu", "cpu.idle", strconv.FormatInt(*c.Idle, 10), "idle")
	}
	if c.Cpus != "" {
		add("cpuset", "cpuset.cpus", c.Cpus, "cpus")
	}
	if c.Mems != "" {
		add("cpuset", "cpuset.mems", c.Mems, "mems")
	}
	for i := 0; i < len(writes); i++ {
		err := g.set(writes[i].controller, writes[i].file, writes[i].value, writes[i].field)
		// The kernel checks a new period against the quota in force, and against the
		// parent's ratio: shrinking both can need the quota first. One more try, swapped.
		if errors.Is(err, unix.EINVAL) && writes[i].file == "cpu.cfs_period_us" && i+1 < len(writes) && writes[i+1].file == "cpu.cfs_quota_us" {
			writes[i], writes[i+1] = writes[i+1], writes[i]
			err = g.set(writes[i].controller, writes[i].file, writes[i].value, writes[i].field)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (g *OCI) applyCPUV2(c *specs.LinuxCPU) error {
	if c.RealtimePeriod != nil || c.RealtimeRuntime != nil {
		return fmt.Errorf("%w: linux.resources.cpu.realtimePeriod and realtimeRuntime have no cgroup v2 equivalent", ErrUnsupported)
	}
	if c.Shares != nil {
		if err := g.set("cpu", "cpu.weight", strconv.FormatUint(SharesToWeight(*c.Shares), 10), "linux.resources.cpu.shares"); err != nil {
			return err
		}
	}
	if c.Quota != nil || c.Period != nil {
		quota, period := "max", uint64(CPUPeriod)
		if c.Quota != nil && *c.Quota > 0 {
			quota = strconv.FormatInt(*c.Quota, 10)
		}
		if c.Period != nil {
			period = *c.Period
		}
		if err := g.set("cpu", "cpu.max", fmt.Sprintf("%s %d", quota, period), "linux.resources.cpu.quota"); err != nil {
			return err
		}
	}
	if c.Burst != nil {
		if err := g.set("cpu", "cpu.max.burst", strconv.FormatUint(*c.Burst, 10), "linux.resources.cpu.burst"); err != nil {
			return err
		}
	}
	if c.Idle != nil {
		if err := g.set("cpu", "cpu.idle", strconv.FormatInt(*c.Idle, 10), "linux.resources.cpu.idle"); err != nil {
			return err
		}
	}
	if c.Cpus != "" {
		if err := g.set("cpuset", "cpuset.cpus", c.Cpus, "linux.resources.cpu.cpus"); err != nil {
			return err
		}
	}
	if c.Mems != "" {
		return g.set("cpuset", "cpuset.mems", c.Mems, "linux.resources.cpu.mems")
	}
	return nil
}

func (g *OCI) applyPids(r *specs.LinuxResources) error {
	if r.Pids == nil || r.Pids.Limit == nil {
		return nil
	}
	// 0 is a limit like any other (no new task at all), as the specification says; only a
	// negative limit means none.
	value := "max"
	if *r.Pids.Limit >= 0 {
		value = strconv.FormatInt(*r.Pids.Limit, 10)
	}
	return g.set("pids", "pids.max", value, "linux.resources.pids.limit")
}

func (g *OCI) applyBlockIO(r *specs.LinuxResources) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	controller, weightFile := "blkio", "blkio.weight"
	if g.Mode == V2 {
		controller, weightFile = "io", "io.weight"
	}
	bfq := filepath.Join(g.dir(controller), strings.Replace(weightFile, ".", ".bfq.", 1))
	_, err := os.Stat(bfq)
	useBFQ := err == nil
	weight := func(w uint16) string {
		if g.Mode == V2 && !useBFQ {
			return strconv.FormatUint(BlkioToIOWeight(w), 10)
		}
		return strconv.Itoa(int(w))
	}
	if useBFQ {
		weightFile = filepath.Base(bfq)
	}
	if b.Weight != nil {
		value := weight(*b.Weight)
		if g.Mode == V2 && !useBFQ {
			value = "default " + value
		}
		if err := g.set(controller, weightFile, value, "linux.resources.blockIO.weight"); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil {
		if err := g.set(controller, "blkio.leaf_weight", strconv.Itoa(int(*b.LeafWeight)), "linux.resources.blockIO.leafWeight"); err != nil {
			return err
		}
	}
	for _, d := range b.WeightDevice {
		if d.Weight != nil {
			if err := g.set(controller, deviceFile(weightFile, g.Mode), fmt.Sprintf("%d:%d %s", d.Major, d.Minor, weight(*d.Weight)), "linux.resources.blockIO.weightDevice"); err != nil {
				return err
			}
		}
		if d.LeafWeight != nil {
			if err := g.set(controller, "blkio.leaf_weight_device", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, *d.LeafWeight), "linux.resources.blockIO.weightDevice.leafWeight"); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		devices   []specs.LinuxThrottleDevice
		v1, v2key string
		field     string
	}{
		{b.ThrottleReadBpsDevice, "blkio.throttle.read_bps_device", "rbps", "throttleReadBpsDevice"},
		{b.ThrottleWriteBpsDevice, "blkio.throttle.write_bps_device", "wbps", "throttleWriteBpsDevice"},
		{b.ThrottleReadIOPSDevice, "blkio.throttle.read_iops_device", "riops", "throttleReadIOPSDevice"},
		{b.ThrottleWriteIOPSDevice, "blkio.throttle.write_iops_device", "wiops", "throttleWriteIOPSDevice"},
	} {
		for _, d := range t.devices {
			file, value := t.v1, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Rate)
			if g.Mode == V2 {
				file, value = "io.max", fmt.Sprintf("%d:%d %s=%d", d.Major, d.Minor, t.v2key, d.Rate)
			}
			if err := g.set(controller, file, value, "linux.resources.blockIO."+t.field); err != nil {
				return err
			}
		}
	}
	return nil
}

// deviceFile names the per-device weight file that goes with weightFile: v1 has
// blkio.weight_device (and blkio.bfq.weight_device), v2 takes device weights in io.weight
// (and io.bfq.weight) itself.
func deviceFile(weightFile string, mode Mode) string {
	if mode == V2 {
		return weightFile
	}
	return weightFile + "_device"
}

func (g *OCI) applyHugepages(r *specs.LinuxResources) error {
	for _, h := range r.HugepageLimits {
		file := "hugetlb." + h.Pagesize + ".limit_in_bytes"
		if g.Mode == V2 {
			file = "hugetlb." + h.Pagesize + ".max"
		}
		if err := g.set("hugetlb", file, strconv.FormatUint(h.Limit, 10), "linux.resources.hugepageLimits"); err != nil {
			return err
		}
	}
	return nil
}

func (g *OCI) applyNetwork(r *specs.LinuxResources) error {
	n := r.Network
	if n == nil {
		return nil
	}
	if g.Mode == V2 && (n.ClassID != nil || len(n.Priorities) > 0) {
		return fmt.Errorf("%w: linux.resources.network: net_cls and net_prio exist only on cgroup v1", ErrUnsupported)
	}
	if n.ClassID != nil {
		if err := g.set("net_cls", "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10), "linux.resources.network.classID"); err != nil {
			return err
		}
	}
	for _, p := range n.Priorities {
		if err := g.set("net_prio", "net_prio.ifpriomap", fmt.Sprintf("%s %d", p.Name, p.Priority), "linux.resources.network.priorities"); err != nil {
			return err
		}
	}
	return nil
}

func (g *OCI) applyRdma(r *specs.LinuxResources) error {
	for device, limit := range r.Rdma {
		value := device
		if limit.HcaHandles != nil {
			value += fmt.Sprintf(" hca_handle=%d", *limit.HcaHandles)
		}
		if limit.HcaObjects != nil {
			value += fmt.Sprintf(" hca_object=%d", *limit.HcaObjects)
		}
		if err := g.set("rdma", "rdma.max", value, "linux.resources.rdma"); err != nil {
			return err
		}
	}
	return nil
}

// applyUnified writes v2 files by name, for settings the OCI fields do not cover.
func (g *OCI) applyUnified(r *specs.LinuxResources) error {
	if len(r.Unified) == 0 {
		return nil
	}
	if g.Mode != V2 {
		return fmt.Errorf("invalid configuration: %w: linux.resources.unified needs cgroup v2; this host is %s", ErrUnsupported, g.Mode)
	}
	for file, value := range r.Unified {
		if strings.Contains(file, "/") || strings.HasPrefix(file, ".") {
			return fmt.Errorf("linux.resources.unified: %q is not a file name of the group", file)
		}
		if err := g.set("", file, value, "linux.resources.unified."+file); err != nil {
			return err
		}
	}
	return nil
}

// Add moves process pid into the group, in every hierarchy.
//
// Equivalent to: `echo PID > DIR/cgroup.procs` for each directory.
func (g *OCI) Add(pid int) error {
	for _, dir := range g.dirs() {
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("add process %d to its cgroup: %w", pid, err)
		}
	}
	return nil
}

// Pids lists the processes in the group.
//
// Equivalent to: `cat DIR/cgroup.procs`.
func (g *OCI) Pids() ([]int, error) {
	dir := g.dir("pids")
	if dir == "" {
		dir = g.dirs()[0]
	}
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the processes of cgroup %s: %w", dir, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("list the processes of cgroup %s: bad PID %q", dir, f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// Freeze stops every process of the group where it is, without a signal it could notice,
// and waits until the kernel reports them all stopped. A frozen process cannot fork, which
// is also why Signal freezes first.
//
// Equivalent to: `echo FROZEN > freezer.state` (v1) or `echo 1 > cgroup.freeze` (v2), then
// reading it back until it says so.
func (g *OCI) Freeze() error {
	return g.setFrozen(true)
}

// Thaw lets the processes of a frozen group run again.
//
// Equivalent to: `echo THAWED > freezer.state` (v1) or `echo 0 > cgroup.freeze` (v2).
func (g *OCI) Thaw() error {
	return g.setFrozen(false)
}

func (g *OCI) setFrozen(frozen bool) error {
	file, value := "freezer.state", map[bool]string{true: "FROZEN", false: "THAWED"}[frozen]
	if g.Mode == V2 {
		file, value = "cgroup.freeze", map[bool]string{true: "1", false: "0"}[frozen]
	}
	deadline := time.Now().Add(freezeTimeout)
	for {
		if err := g.set("freezer", file, value, "freezer"); err != nil {
			return err
		}
		now, err := g.Frozen()
		if err != nil || now == frozen {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the kernel did not finish freezing (%s) the cgroup within %v", value, freezeTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// Frozen reports whether the group is frozen, entirely.
func (g *OCI) Frozen() (bool, error) {
	dir := g.dir("freezer")
	if dir == "" {
		return false, nil
	}
	if g.Mode == V2 {
		events, err := readKeyed(filepath.Join(dir, "cgroup.events"))
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return events["frozen"] == 1, err
	}
	data, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return strings.TrimSpace(string(data)) == "FROZEN", err
}

// Signal sends sig to every process in the group. The group is frozen meanwhile, so that no
// process can fork a child that the list read from cgroup.procs would miss; a group that
// was paused stays frozen unless the signal is SIGKILL, which a frozen process only acts on
// once thawed.
//
// Equivalent to: freeze, `kill -SIG $(cat cgroup.procs)`, thaw.
func (g *OCI) Signal(sig unix.Signal) error {
	wasFrozen, err := g.Frozen()
	if err != nil {
		return err
	}
	canFreeze := g.dir("freezer") != ""
	if canFreeze && !wasFrozen {
		if err := g.Freeze(); err != nil {
			return err
		}
	}
	pids, err := g.Pids()
	for _, pid := range pids {
		if killErr := unix.Kill(pid, sig); killErr != nil && !errors.Is(killErr, unix.ESRCH) && err == nil {
			err = fmt.Errorf("signal process %d: %w", pid, killErr)
		}
	}
	if canFreeze && (!wasFrozen || sig == unix.SIGKILL) {
		if thawErr := g.Thaw(); err == nil {
			err = thawErr
		}
	}
	return err
}

// removeChildGroups removes every group below dir, deepest first. The container's processes
// are gone, so the groups are empty.
//
// Equivalent to: `find DIR -mindepth 1 -depth -type d -exec rmdir {} +`.
func removeChildGroups(dir string) error {
	var children []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != dir {
			children = append(children, path)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list the groups below %s: %w", dir, err)
	}
	for _, child := range slices.Backward(children) {
		if err := unix.Rmdir(child); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove cgroup %s: %w", child, err)
		}
	}
	return nil
}

// Destroy removes the directories Create made, deepest first, with any group the container
// made inside its own; groups it did not make stay.
// A group whose last process has just exited can be busy for a moment, so that is retried.
// A parent still holding another container's group stays too.
//
// Equivalent to: `rmdir` of each directory, leaf first.
func (g *OCI) Destroy() error {
	leaves := g.dirs()
	for _, dir := range slices.Backward(g.Made) {
		leaf := slices.Contains(leaves, dir)
		if leaf {
			// Groups the container made inside its own (a writable /sys/fs/cgroup, exec
			// --cgroup) are the container's too: they go first, deepest first.
			if err := removeChildGroups(dir); err != nil {
				return err
			}
		}
		deadline := time.Now().Add(killTimeout)
		for {
			err := unix.Rmdir(dir)
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if !leaf && (errors.Is(err, unix.EBUSY) || errors.Is(err, unix.ENOTEMPTY)) {
				break
			}
			if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
				return fmt.Errorf("remove cgroup %s: %w", dir, err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	g.Made = nil
	return nil
}

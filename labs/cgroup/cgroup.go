package cgroup

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Mode is how a host has mounted its cgroups.
type Mode int

const (
	// V1 is the legacy layout: one hierarchy per controller, /sys/fs/cgroup/CONTROLLER.
	V1 Mode = iota + 1
	// Hybrid is V1 plus a cgroup2 tree at /sys/fs/cgroup/unified that has no controllers
	// (systemd tracks its services there). Limits work exactly as on V1.
	Hybrid
	// V2 is the unified layout: one tree at /sys/fs/cgroup with every controller.
	V2
)

// String names the mode as the workshop's walkthroughs do.
func (m Mode) String() string {
	switch m {
	case V1:
		return "v1"
	case Hybrid:
		return "hybrid (v1 controllers, cgroup2 without controllers)"
	case V2:
		return "v2 (unified)"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ErrUnsupported marks a limit that this host's kernel or mounts cannot apply (no IO
// weight file, say), as opposed to a bad value. Test for it with errors.Is.
var ErrUnsupported = errors.New("not supported on this host")

// DefaultRoot is where cgroupfs is mounted on every mainstream distribution.
const DefaultRoot = "/sys/fs/cgroup"

// DefaultParent is the group under which every container's group is created, in each
// hierarchy: /sys/fs/cgroup/containerlabs/NAME on v2, /sys/fs/cgroup/memory/containerlabs/NAME
// (and so on per controller) on v1.
const DefaultParent = "containerlabs"

// CPUPeriod is the CFS bandwidth period in microseconds: a quota of CPUs*CPUPeriod
// microseconds of CPU time may be used in every period. 100ms is the kernel's default and
// what Docker uses.
const CPUPeriod = 100000

// MinMemory is the smallest memory limit Limits accepts. Below it a container cannot even
// start: the re-executed Go child that becomes its init is charged to the group too.
// Docker refuses less than 6 MiB for the same reason.
const MinMemory = 6 << 20

// MinPids is the smallest pids limit the labs accept for a container. The pids controller
// counts threads, and the Go child that becomes a lab container's init runs half a dozen of
// them before the command starts; below this it could not even create its runtime's
// threads. (A runtime whose init is a single-threaded C program can go lower.)
const MinPids = 16

// Limits are what a container may use. A zero field means no limit.
type Limits struct {
	// MemoryBytes limits RAM and swap together (see the package comment).
	MemoryBytes int64
	// CPUs is the share of one CPU the group may use per period: 0.5 is half a CPU, 2 is
	// two CPUs' worth. It becomes a CFS quota of CPUs*CPUPeriod microseconds.
	CPUs float64
	// CPUShares is a relative weight in v1's cpu.shares units (2-262144, default 1024),
	// as `docker run --cpu-shares` takes it; on v2 it is converted to cpu.weight.
	CPUShares uint64
	// PidsMax is the most tasks (processes and threads) the group may have.
	PidsMax int64
	// IOWeight is a relative share of disk time, in blkio units (10-1000, default 500),
	// as `docker run --blkio-weight` takes it.
	IOWeight uint16
}

// Validate checks every limit's range, so that a bad value is reported before anything is
// created. New calls it.
func (l Limits) Validate() error {
	if l.MemoryBytes != 0 && l.MemoryBytes < MinMemory {
		return fmt.Errorf("memory limit %d bytes is too small: a container needs at least %s", l.MemoryBytes, FormatSize(MinMemory))
	}
	if l.CPUs != 0 {
		if err := checkCPUs(l.CPUs); err != nil {
			return err
		}
	}
	if l.CPUShares != 0 && (l.CPUShares < 2 || l.CPUShares > 262144) {
		return fmt.Errorf("cpu shares %d out of range: want 2 to 262144 (default 1024)", l.CPUShares)
	}
	if l.PidsMax < 0 {
		return fmt.Errorf("pids limit %d is negative: want a positive number, or 0 for no limit", l.PidsMax)
	}
	if l.IOWeight != 0 && (l.IOWeight < 10 || l.IOWeight > 1000) {
		return fmt.Errorf("io weight %d out of range: want 10 to 1000 (default 500)", l.IOWeight)
	}
	return nil
}

// Stats is what a group has used, read from its own accounting files.
type Stats struct {
	// MemoryBytes is the memory charged to the group now; MemoryPeakBytes the most it
	// was ever charged (0 where the kernel does not record it: v2 before Linux 5.19).
	MemoryBytes, MemoryPeakBytes uint64
	// MemoryLimitHits counts how often the group's usage reached its limit, each time
	// making the kernel reclaim memory (v2 "max" in memory.events; v1 memory.failcnt and
	// memory.memsw.failcnt, which some recent kernels leave at 0).
	MemoryLimitHits uint64
	// OOMKills counts the processes the OOM killer killed in the group.
	OOMKills uint64
	// CPUUsage is the CPU time the group's processes used, user and system together.
	CPUUsage time.Duration
	// CPUThrottled is how long the group was held back for having used its quota.
	CPUThrottled time.Duration
	// Pids is the number of tasks in the group now.
	Pids uint64
	// ForksRefused counts the forks and clones refused at the pids limit.
	ForksRefused uint64
}

// Report describes the group for a learner, one line each: its path, the writes that set
// its limits (as shell commands), then what its processes used according to s. The labs
// print it for --stats.
func (c *Cgroup) Report(s Stats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cgroup %s\n", c.Path())
	for _, setting := range c.Settings() {
		fmt.Fprintf(&b, "  %s\n", setting)
	}
	fmt.Fprintf(&b, "  memory: peak %s, limit reached %d times, OOM kills %d\n",
		FormatSize(int64(s.MemoryPeakBytes)), s.MemoryLimitHits, s.OOMKills)
	fmt.Fprintf(&b, "  cpu:    %.2fs used, %.2fs throttled\n", s.CPUUsage.Seconds(), s.CPUThrottled.Seconds())
	fmt.Fprintf(&b, "  pids:   %d forks refused at the limit\n", s.ForksRefused)
	return b.String()
}

// Setting is one write to a cgroup file, as New made it: the walkthrough shows them as
// the shell commands they are (echo VALUE > FILE).
type Setting struct {
	File, Value string
}

// String renders the setting as the shell command that makes it.
func (s Setting) String() string {
	return fmt.Sprintf("echo %q > %s", s.Value, s.File)
}

// sizePattern and namePattern are compiled on first use, not at program start: every binary
// that imports this package would otherwise pay the compile (about 2ms, mostly namePattern's
// {0,127}) at each start, twice per container for an OCI runtime.
var sizePattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(i?b)?$`)
})

// ParseSize reads a size such as "64m", "1.5g", "512KiB" or "1048576". The units are
// powers of 1024, as `docker run --memory` reads them; case does not matter.
func ParseSize(s string) (int64, error) {
	m := sizePattern().FindStringSubmatch(strings.ToLower(strings.TrimSpace(s)))
	if m == nil {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional unit k, m, g or t (64m, 1.5g)", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %w", s, err)
	}
	shift := strings.Index("kmgt", m[2]) + 1
	if m[2] == "" {
		shift = 0
	}
	bytes := n * math.Pow(1024, float64(shift))
	if bytes >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	if bytes < 1 {
		return 0, fmt.Errorf("invalid size %q: want at least one byte", s)
	}
	return int64(bytes), nil
}

// FormatSize renders a byte count in the largest binary unit it fills, with at most two
// decimals: 67108864 is "64MiB", 1610612736 is "1.5GiB".
func FormatSize(bytes int64) string {
	for _, u := range []struct {
		unit  string
		shift uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if bytes >= 1<<u.shift {
			v := strconv.FormatFloat(float64(bytes)/float64(int64(1)<<u.shift), 'f', 2, 64)
			return strings.TrimSuffix(strings.TrimRight(v, "0"), ".") + u.unit
		}
	}
	return strconv.FormatInt(bytes, 10) + "B"
}

// ParseCPUs reads a CPU share such as "0.5" or "2", as `docker run --cpus` takes it.
func ParseCPUs(s string) (float64, error) {
	cpus, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("invalid CPU count %q: want a decimal number such as 0.5 or 2", s)
	}
	if err := checkCPUs(cpus); err != nil {
		return 0, fmt.Errorf("invalid CPU count %q: %w", s, err)
	}
	return cpus, nil
}

// checkCPUs enforces the kernel's smallest quota (1ms per period, so 0.01 CPUs) and the
// host's CPU count: a quota of more CPUs than exist would never be reached.
func checkCPUs(cpus float64) error {
	if n := runtime.NumCPU(); math.IsNaN(cpus) || cpus < 0.01 || cpus > float64(n) {
		return fmt.Errorf("%g CPUs out of range: want 0.01 to %d, as this host has %d CPUs", cpus, n, n)
	}
	return nil
}

// Quota returns the CFS quota in microseconds per CPUPeriod for a share of CPUs.
func Quota(cpus float64) int64 {
	return int64(math.Round(cpus * CPUPeriod))
}

// SharesToWeight converts v1 cpu.shares (2-262144, default 1024) to v2 cpu.weight
// (1-10000, default 100) linearly, as runc does. The two defaults do not meet: 1024
// shares become weight 39, so a container given the default shares gets less than a
// sibling left at weight 100 (newer runtimes use a curve that maps 1024 to 100).
func SharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	return 1 + ((shares-2)*9999)/262142
}

// BlkioToIOWeight converts a v1 blkio weight (10-1000) to v2 io.weight (1-10000), as
// runc does; io.bfq.weight takes the blkio value unchanged.
func BlkioToIOWeight(weight uint16) uint64 {
	if weight == 0 {
		return 0
	}
	return 1 + (uint64(weight)-10)*9999/990
}

var namePattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)
})

// checkName makes sure a container name is a single safe path element, so it can never
// reach outside the parent group.
func checkName(name string) error {
	if !namePattern().MatchString(name) {
		return fmt.Errorf("invalid cgroup name %q: want letters, digits, '_', '.' or '-', starting with a letter or digit", name)
	}
	return nil
}

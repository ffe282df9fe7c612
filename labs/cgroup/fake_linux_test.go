package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeCgroupFS emulates the kernel's side of cgroupfs over a temp dir, to test the
// drivers' file-level logic (which files, which values, in which order) for the mode this
// host does not run. Like the kernel, its mkdir fills a new group with the interface
// files of its controllers (on v2: only those its parent enabled in
// cgroup.subtree_control), and its rmdir refuses a group that still lists processes or
// has child groups. It never touches a real process: tests that write PIDs into it empty
// cgroup.procs before Remove.
type fakeCgroupFS struct {
	t    *testing.T
	mode Mode
	root string
	// missing are interface files this kernel lacks (memory.memsw.limit_in_bytes, ...).
	missing []string
	// extra are interface files this kernel adds to every new group, with their content.
	extra map[string]string
	swap  bool
	// enabled remembers each v2 group's subtree_control, which the kernel accumulates
	// write by write while a plain file keeps only the last write.
	enabled map[string][]string
	// killed lists the groups whose cgroup.kill was written before rmdir.
	killed []string
}

var fakeFiles = map[string]map[string]string{
	// v2
	"core2": {"cgroup.procs": "", "cgroup.subtree_control": "", "cgroup.events": "populated 0\nfrozen 0\n", "cgroup.kill": "",
		"cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"},
	"memory2": {"memory.max": "max\n", "memory.swap.max": "max\n", "memory.current": "0\n", "memory.peak": "0\n",
		"memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"},
	"cpu2":  {"cpu.max": "max 100000\n", "cpu.weight": "100\n"},
	"pids2": {"pids.max": "max\n", "pids.current": "0\n", "pids.events": "max 0\n"},
	"io2":   {"io.weight": "default 100\n"},
	// v1
	"core1": {"cgroup.procs": "", "tasks": "", "notify_on_release": "0\n"},
	"memory1": {"memory.limit_in_bytes": "9223372036854771712\n", "memory.memsw.limit_in_bytes": "9223372036854771712\n",
		"memory.usage_in_bytes": "0\n", "memory.max_usage_in_bytes": "0\n", "memory.failcnt": "0\n", "memory.memsw.failcnt": "0\n",
		"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"},
	"cpu1":     {"cpu.cfs_period_us": "100000\n", "cpu.cfs_quota_us": "-1\n", "cpu.shares": "1024\n", "cpu.stat": "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n"},
	"cpuacct1": {"cpuacct.usage": "0\n"},
	"pids1":    {"pids.max": "max\n", "pids.current": "0\n", "pids.events": "max 0\n"},
	"blkio1":   {"blkio.bfq.weight": "100\n"},
}

// newFakeV2 makes a v2 root that offers the controllers available and has already enabled
// enabled for its children, as systemd does on a real host.
func newFakeV2(t *testing.T, available, enabled string, missing ...string) (*fakeCgroupFS, *Manager) {
	f := &fakeCgroupFS{t: t, mode: V2, root: tempDir(t), missing: missing, enabled: map[string][]string{}}
	f.writeFile("cgroup.controllers", available)
	f.writeFile("cgroup.subtree_control", enabled)
	f.writeFile("cgroup.procs", "1\n")
	f.enabled[f.root] = strings.Fields(enabled)
	return f, f.manager()
}

// newFakeV1 makes v1 hierarchies: memory, cpu and cpuacct mounted together as
// "cpu,cpuacct" with a symlink for each (as Debian does), pids, and the given others.
func newFakeV1(t *testing.T, others []string, missing ...string) (*fakeCgroupFS, *Manager) {
	f := &fakeCgroupFS{t: t, mode: V1, root: tempDir(t), missing: missing}
	for _, h := range append([]string{"memory", "cpu,cpuacct", "pids"}, others...) {
		require.NoError(t, os.Mkdir(filepath.Join(f.root, h), 0o755))
		f.populate(filepath.Join(f.root, h), strings.Split(h, ","))
	}
	require.NoError(t, os.Symlink("cpu,cpuacct", filepath.Join(f.root, "cpu")))
	require.NoError(t, os.Symlink("cpu,cpuacct", filepath.Join(f.root, "cpuacct")))
	return f, f.manager()
}

// tempDir is t.TempDir with symlinks resolved, as the v1 driver resolves its paths.
func tempDir(t *testing.T) string {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	return dir
}

func (f *fakeCgroupFS) manager() *Manager {
	m, err := NewManager(Options{Root: f.root, Parent: "containerlabs-fake", Mode: f.mode})
	require.NoError(f.t, err)
	m.host = host{mkdir: f.mkdir, rmdir: f.rmdir, swapOn: func() (bool, error) { return f.swap, nil }}
	return m
}

func (f *fakeCgroupFS) mkdir(path string) error {
	if err := os.Mkdir(path, 0o755); err != nil {
		return err
	}
	if f.mode == V2 {
		parent := filepath.Dir(path)
		// The kernel refuses what cgroup.controllers does not list, and keeps what was
		// enabled before: fold the last write into the remembered set.
		controllers := strings.Fields(f.readFile(parent, "cgroup.controllers"))
		for _, tok := range strings.Fields(f.readFile(parent, "cgroup.subtree_control")) {
			name := strings.TrimPrefix(tok, "+")
			if !slices.Contains(controllers, name) {
				f.t.Errorf("%s enables %s, which it does not have (cgroup.controllers: %v)", parent, name, controllers)
			}
			if !slices.Contains(f.enabled[parent], name) {
				f.enabled[parent] = append(f.enabled[parent], name)
			}
		}
		if parent != f.root && len(f.enabled[parent]) > 0 && strings.TrimSpace(f.readFile(parent, "cgroup.procs")) != "" {
			f.t.Errorf("%s holds processes and enables controllers: the no-internal-processes rule forbids it", parent)
		}
		f.writeFile(filepath.Join(parent, "cgroup.subtree_control"), strings.Join(f.enabled[parent], " "))
		f.populate(path, f.enabled[parent])
		f.writeFile(filepath.Join(path, "cgroup.controllers"), strings.Join(f.enabled[parent], " "))
		return nil
	}
	rel, err := filepath.Rel(f.root, path)
	require.NoError(f.t, err)
	f.populate(path, strings.Split(strings.Split(rel, "/")[0], ","))
	return nil
}

// populate fills a new group with the files of the core and of controllers.
func (f *fakeCgroupFS) populate(dir string, controllers []string) {
	v := "1"
	if f.mode == V2 {
		v = "2"
	}
	for _, set := range append([]string{"core"}, controllers...) {
		for name, content := range fakeFiles[set+v] {
			if !slices.Contains(f.missing, name) {
				f.writeFile(filepath.Join(dir, name), content)
			}
		}
	}
	for name, content := range f.extra {
		f.writeFile(filepath.Join(dir, name), content)
	}
}

func (f *fakeCgroupFS) rmdir(path string) error {
	entries, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			return syscall.ENOTEMPTY
		}
	}
	if strings.TrimSpace(f.readFile(path, "cgroup.procs")) != "" {
		return syscall.EBUSY
	}
	if strings.TrimSpace(f.readFile(path, "cgroup.kill")) == "1" {
		f.killed = append(f.killed, path)
	}
	delete(f.enabled, path)
	return os.RemoveAll(path)
}

// readFile reads a file given by path elements, relative to the root unless absolute.
func (f *fakeCgroupFS) readFile(parts ...string) string {
	path := filepath.Join(parts...)
	if !filepath.IsAbs(path) {
		path = filepath.Join(f.root, path)
	}
	data, _ := os.ReadFile(path)
	return string(data)
}

func (f *fakeCgroupFS) writeFile(path, content string) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(f.root, path)
	}
	require.NoError(f.t, os.WriteFile(path, []byte(content), 0o644))
}

// groups lists what exists under the parent in every hierarchy, for "nothing is left".
func (f *fakeCgroupFS) groups() []string {
	matches, _ := filepath.Glob(filepath.Join(f.root, "*", "containerlabs-fake"))
	if f.mode == V2 {
		matches, _ = filepath.Glob(filepath.Join(f.root, "containerlabs-fake"))
	}
	return matches
}

func settingsOf(c *Cgroup, root string) []string {
	var out []string
	for _, s := range c.Settings() {
		rel, _ := filepath.Rel(root, s.File)
		out = append(out, rel+"="+s.Value)
	}
	return out
}

var allLimits = Limits{MemoryBytes: 64 << 20, CPUs: 0.5, CPUShares: 1024, PidsMax: 32, IOWeight: 500}

func TestFakeV2WritesLimitsAndEnablesControllers(t *testing.T) {
	// The root already hands out cpu, as systemd leaves it; memory, pids and io are missing.
	f, m := newFakeV2(t, "cpuset cpu io memory hugetlb pids rdma misc", "cpu")
	c, err := m.New("c1", allLimits)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"cgroup.subtree_control=+memory +pids +io",
		"containerlabs-fake/cgroup.subtree_control=+memory +cpu +pids +io",
		"containerlabs-fake/c1/memory.max=67108864",
		"containerlabs-fake/c1/memory.swap.max=0",
		"containerlabs-fake/c1/cpu.max=50000 100000",
		"containerlabs-fake/c1/cpu.weight=39",
		"containerlabs-fake/c1/pids.max=32",
		"containerlabs-fake/c1/io.weight=4950",
	}, settingsOf(c, f.root), "New enables the controllers level by level, then writes each limit")
	assert.Equal(t, "67108864", f.readFile("containerlabs-fake/c1/memory.max"))
	assert.Equal(t, "50000 100000", f.readFile("containerlabs-fake/c1/cpu.max"))
	assert.Equal(t, "/containerlabs-fake/c1", c.Path())
	assert.Equal(t, []string{filepath.Join(f.root, "containerlabs-fake/c1")}, c.Dirs())

	require.NoError(t, c.Add(4242))
	assert.Equal(t, "4242", f.readFile("containerlabs-fake/c1/cgroup.procs"))
	assert.Empty(t, f.readFile("containerlabs-fake/cgroup.procs"), "the parent holds no processes")

	// A second container finds the controllers enabled and only writes its own limits.
	c2, err := m.New("c2", Limits{PidsMax: 8})
	require.NoError(t, err)
	assert.Equal(t, []string{"containerlabs-fake/c2/pids.max=8"}, settingsOf(c2, f.root))

	f.writeFile("containerlabs-fake/c1/cgroup.procs", "") // the process has exited
	require.NoError(t, c.Remove())
	assert.NoDirExists(t, filepath.Join(f.root, "containerlabs-fake/c1"))
	assert.Equal(t, []string{filepath.Join(f.root, "containerlabs-fake/c1")}, f.killed, "Remove writes cgroup.kill before rmdir")
	assert.DirExists(t, filepath.Join(f.root, "containerlabs-fake"), "the parent stays while c2 uses it")
	require.NoError(t, c2.Remove())
	assert.Empty(t, f.groups(), "the last Remove takes the parent too")
	require.NoError(t, c2.Remove(), "removing twice is harmless")
}

func TestFakeV2NoIOController(t *testing.T) {
	f, m := newFakeV2(t, "cpu memory pids", "")
	_, err := m.New("c1", Limits{IOWeight: 500})
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), "io weight")
	assert.Empty(t, f.groups(), "a limit that cannot be applied leaves nothing behind")

	c, err := m.New("c1", Limits{PidsMax: 8})
	require.NoError(t, err, "without an IO weight the io controller is not needed")
	assert.Equal(t, "memory cpu pids", f.readFile("cgroup.subtree_control"), "no +io where there is no io controller")
	require.NoError(t, c.Remove())
}

func TestFakeV2MissingController(t *testing.T) {
	f, m := newFakeV2(t, "cpu memory io", "")
	_, err := m.New("c1", Limits{})
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), "controller pids is not available")
	assert.Empty(t, f.groups())
}

func TestFakeV2PrefersBFQWeight(t *testing.T) {
	f, m := newFakeV2(t, "cpu io memory pids", "")
	f.extra = map[string]string{"io.bfq.weight": "100\n"}
	c, err := m.New("c1", Limits{IOWeight: 500})
	require.NoError(t, err)
	assert.Equal(t, "500", f.readFile("containerlabs-fake/c1/io.bfq.weight"), "io.bfq.weight takes the blkio value as it is")
	assert.Equal(t, "default 100\n", f.readFile("containerlabs-fake/c1/io.weight"))
	require.NoError(t, c.Remove())
}

func TestFakeSwapAccounting(t *testing.T) {
	for _, mode := range []Mode{V1, V2} {
		t.Run(map[Mode]string{V1: "v1", V2: "v2"}[mode], func(t *testing.T) {
			var f *fakeCgroupFS
			var m *Manager
			if mode == V2 {
				f, m = newFakeV2(t, "cpu memory pids", "", "memory.swap.max")
			} else {
				f, m = newFakeV1(t, nil, "memory.memsw.limit_in_bytes")
			}
			c, err := m.New("c1", Limits{MemoryBytes: 32 << 20})
			require.NoError(t, err, "without swap accounting and without swap, the RAM limit is the whole limit")
			require.NoError(t, c.Remove())

			f.swap = true
			_, err = m.New("c1", Limits{MemoryBytes: 32 << 20})
			require.ErrorIs(t, err, ErrUnsupported, "with swap on, a RAM-only limit would not hold")
			assert.Contains(t, err.Error(), "swapaccount=1")
			assert.Empty(t, f.groups())
		})
	}
}

func TestFakeV2Stats(t *testing.T) {
	f, m := newFakeV2(t, "cpu memory pids", "")
	c, err := m.New("c1", Limits{MemoryBytes: 32 << 20})
	require.NoError(t, err)
	defer c.Remove()
	f.writeFile("containerlabs-fake/c1/memory.current", "1000\n")
	f.writeFile("containerlabs-fake/c1/memory.peak", "33554432\n")
	f.writeFile("containerlabs-fake/c1/memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n")
	f.writeFile("containerlabs-fake/c1/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\nnr_periods 30\nnr_throttled 20\nthrottled_usec 250000\n")
	f.writeFile("containerlabs-fake/c1/pids.current", "4\n")
	f.writeFile("containerlabs-fake/c1/pids.events", "max 7\n")
	st, err := c.Stats()
	require.NoError(t, err)
	assert.Equal(t, Stats{
		MemoryBytes: 1000, MemoryPeakBytes: 32 << 20, MemoryLimitHits: 12, OOMKills: 1,
		CPUUsage: 1500 * time.Millisecond, CPUThrottled: 250 * time.Millisecond, Pids: 4, ForksRefused: 7,
	}, st)

	require.NoError(t, os.Remove(filepath.Join(f.root, "containerlabs-fake/c1/memory.peak")))
	st, err = c.Stats()
	require.NoError(t, err, "kernels before 5.19 have no memory.peak")
	assert.Zero(t, st.MemoryPeakBytes)
}

func TestFakeV1WritesLimitsInEachHierarchy(t *testing.T) {
	f, m := newFakeV1(t, []string{"blkio"})
	c, err := m.New("c1", allLimits)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"memory/containerlabs-fake/c1/memory.limit_in_bytes=67108864",
		"memory/containerlabs-fake/c1/memory.memsw.limit_in_bytes=67108864",
		"cpu,cpuacct/containerlabs-fake/c1/cpu.cfs_period_us=100000",
		"cpu,cpuacct/containerlabs-fake/c1/cpu.cfs_quota_us=50000",
		"cpu,cpuacct/containerlabs-fake/c1/cpu.shares=1024",
		"pids/containerlabs-fake/c1/pids.max=32",
		"blkio/containerlabs-fake/c1/blkio.bfq.weight=500",
	}, settingsOf(c, f.root), "memsw after the RAM limit, the period before the quota, nothing in subtree_control")
	var dirs []string
	for _, d := range c.Dirs() {
		rel, _ := filepath.Rel(f.root, d)
		dirs = append(dirs, rel)
	}
	assert.Equal(t, []string{"memory/containerlabs-fake/c1", "cpu,cpuacct/containerlabs-fake/c1", "pids/containerlabs-fake/c1", "blkio/containerlabs-fake/c1"},
		dirs, "cpu and cpuacct share one hierarchy, so one group")

	require.NoError(t, c.Add(4242))
	for _, d := range dirs {
		assert.Equal(t, "4242", f.readFile(d, "cgroup.procs"), "the process joins every hierarchy")
		f.writeFile(filepath.Join(f.root, d, "cgroup.procs"), "") // the process has exited
	}

	f.writeFile("memory/containerlabs-fake/c1/memory.usage_in_bytes", "1000\n")
	f.writeFile("memory/containerlabs-fake/c1/memory.max_usage_in_bytes", "67108864\n")
	f.writeFile("memory/containerlabs-fake/c1/memory.failcnt", "2\n")
	f.writeFile("memory/containerlabs-fake/c1/memory.memsw.failcnt", "10\n")
	f.writeFile("memory/containerlabs-fake/c1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
	f.writeFile("cpu,cpuacct/containerlabs-fake/c1/cpuacct.usage", "1500000000\n")
	f.writeFile("cpu,cpuacct/containerlabs-fake/c1/cpu.stat", "nr_periods 30\nnr_throttled 20\nthrottled_time 250000000\n")
	f.writeFile("pids/containerlabs-fake/c1/pids.current", "4\n")
	f.writeFile("pids/containerlabs-fake/c1/pids.events", "max 7\n")
	st, err := c.Stats()
	require.NoError(t, err)
	assert.Equal(t, Stats{
		MemoryBytes: 1000, MemoryPeakBytes: 64 << 20, MemoryLimitHits: 12, OOMKills: 1,
		CPUUsage: 1500 * time.Millisecond, CPUThrottled: 250 * time.Millisecond, Pids: 4, ForksRefused: 7,
	}, st)

	require.NoError(t, c.Remove())
	assert.Empty(t, f.killed, "v1 has no cgroup.kill")
	assert.Empty(t, f.groups(), "Remove takes the group and the parent out of every hierarchy")
}

func TestFakeV1WithoutBlkio(t *testing.T) {
	f, m := newFakeV1(t, nil)
	_, err := m.New("c1", Limits{IOWeight: 500})
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), "io weight")
	assert.Empty(t, f.groups())

	c, err := m.New("c1", Limits{PidsMax: 8})
	require.NoError(t, err)
	assert.Len(t, c.Dirs(), 3, "memory, cpu,cpuacct and pids")
	require.NoError(t, c.Remove())
}

func TestFakeV1MissingController(t *testing.T) {
	f := &fakeCgroupFS{t: t, mode: V1, root: t.TempDir()}
	require.NoError(t, os.Mkdir(filepath.Join(f.root, "memory"), 0o755))
	_, err := NewManager(Options{Root: f.root, Mode: V1})
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), "controller cpu is not mounted")
}

func TestFakeNameTaken(t *testing.T) {
	f, m := newFakeV2(t, "cpu memory pids", "")
	c, err := m.New("c1", Limits{PidsMax: 8})
	require.NoError(t, err)
	_, err = m.New("c1", Limits{PidsMax: 16})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "already exists")
	assert.Equal(t, "8", f.readFile("containerlabs-fake/c1/pids.max"), "the failed New leaves the other container's group alone")
	require.NoError(t, c.Remove())
}

func TestFakeBadValuesCreateNothing(t *testing.T) {
	f, m := newFakeV2(t, "cpu memory pids", "")
	for _, name := range []string{"../escape", "a/b", ""} {
		_, err := m.New(name, Limits{})
		assert.Error(t, err, name)
	}
	_, err := m.New("c1", Limits{MemoryBytes: 1024})
	assert.ErrorContains(t, err, "too small")
	assert.Empty(t, f.groups())
	assert.Empty(t, f.readFile("cgroup.subtree_control"), "not even the controllers were enabled")
}

func TestFakeRemoveStale(t *testing.T) {
	for _, mode := range []Mode{V1, V2} {
		t.Run(map[Mode]string{V1: "v1", V2: "v2"}[mode], func(t *testing.T) {
			var f *fakeCgroupFS
			var m *Manager
			if mode == V2 {
				f, m = newFakeV2(t, "cpu memory pids", "")
			} else {
				f, m = newFakeV1(t, nil)
			}
			live, err := m.New("live-handle", Limits{})
			require.NoError(t, err)
			// Groups a killed manager left: one empty, one with a process still in it.
			for _, name := range []string{"dead", "running"} {
				for _, dir := range m.group(name).dirs {
					require.NoError(t, f.mkdir(dir))
				}
			}
			running := m.group("running").dirs[0]
			f.writeFile(filepath.Join(running, "cgroup.procs"), strconv.Itoa(os.Getpid()))
			// One a manager died making: New makes the lock directory first, so a crash leaves
			// it and perhaps a few more.
			half := m.group("half").dirs
			require.NoError(t, f.mkdir(half[0]))
			// And one without its lock directory, in the last hierarchy only: only a live New
			// leaves that, between giving up an attempt and making it again, so it is left
			// alone (on v2 the one hierarchy is the lock's, and the case does not arise).
			making := m.group("making").dirs
			if mode == V1 {
				require.NoError(t, f.mkdir(making[len(making)-1]))
			}

			removed, err := m.RemoveStale()
			require.NoError(t, err)
			assert.Equal(t, []string{"dead", "half"}, removed)
			if mode == V1 {
				assert.DirExists(t, making[len(making)-1], "a group without its lock directory is being made or removed by a live manager")
				require.NoError(t, f.rmdir(making[len(making)-1]))
			}
			for _, dir := range m.group("dead").dirs {
				assert.NoDirExists(t, dir)
			}
			assert.DirExists(t, running, "a group with a process in it is in use")
			assert.DirExists(t, live.dirs[0], "a group a live Cgroup holds is in use, even empty")

			f.writeFile(filepath.Join(running, "cgroup.procs"), "")
			removed, err = m.RemoveStale()
			require.NoError(t, err)
			assert.Equal(t, []string{"running"}, removed)
			require.NoError(t, live.Remove())
			assert.Empty(t, f.groups())
		})
	}
}

func TestFakeRemoveRetriesBusy(t *testing.T) {
	_, m := newFakeV2(t, "cpu memory pids", "")
	c, err := m.New("c1", Limits{})
	require.NoError(t, err)
	busy := 3
	rmdir := m.host.rmdir
	m.host.rmdir = func(path string) error {
		if path == c.dirs[0] && busy > 0 {
			busy--
			return syscall.EBUSY
		}
		return rmdir(path)
	}
	require.NoError(t, c.Remove(), "a group whose killed processes are still exiting is retried")
	assert.Zero(t, busy)
	assert.NoDirExists(t, c.dirs[0])
	m.host.rmdir = func(string) error { return syscall.EACCES }
	c2, err := m.New("c2", Limits{})
	require.NoError(t, err)
	err = c2.Remove()
	assert.True(t, errors.Is(err, syscall.EACCES), "other errors are reported: %v", err)
}

package cgroup

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
)

// These tests run against the host's real cgroups, v1, hybrid or v2, whichever it has:
// scripts/cgroup2-vm.sh runs them on a v2 kernel. Each uses a parent group of its own,
// containerlabs-test-RANDOM, and checks that nothing is left of it afterwards.

// helperEnv makes the test binary act as a helper process (see runHelper) instead of
// running the tests: the child processes the tests put into groups are re-executions of
// the test binary, so no other program is needed.
const helperEnv = "CGROUP_TEST_HELPER"

// expectEnv, when set (scripts/cgroup2-vm.sh sets it to "v2"), is the mode Detect must find.
const expectEnv = "CONTAINERLABS_EXPECT_CGROUP"

func TestMain(m *testing.M) {
	if role := os.Getenv(helperEnv); role != "" {
		runHelper(role)
		return
	}
	os.Exit(m.Run())
}

// runHelper is the helper process. It waits for a line on stdin, as a container's child
// waits for its parent to have moved it into its group, and then:
//
//	hog       allocates and touches memory, 1 MiB at a time, up to 1 GiB
//	forkloop  forks children that sleep, until fork fails, and reports why
//	spin      burns CPU
//	sleep     does nothing until stdin closes
//	pause     does nothing for an hour
//	owner     creates a group (as NewManager(Options{Parent: $PARENT}).New($NAME) would in
//	          a container's parent), adds a pausing child to it, and waits to be killed
func runHelper(role string) {
	in := bufio.NewReader(os.Stdin)
	if role != "owner" {
		if _, err := in.ReadString('\n'); err != nil {
			os.Exit(3)
		}
	}
	switch role {
	case "hog":
		var chunks [][]byte
		for i := 1; i <= 1024; i++ {
			chunk := make([]byte, 1<<20)
			for j := 0; j < len(chunk); j += 4096 {
				chunk[j] = 1
			}
			chunks = append(chunks, chunk)
			if i%8 == 0 {
				fmt.Printf("allocated %d MiB\n", i)
			}
		}
		fmt.Println("survived")
	case "forkloop":
		// No garbage collector and one P: the runtime must not need a new thread once the
		// group is full, or it would die of that instead of reporting the failed fork.
		debug.SetGCPercent(-1)
		runtime.GOMAXPROCS(1)
		n := 0
		for ; n < 10000; n++ {
			if _, errno := labtest.ForkSleeper(); errno != 0 {
				fmt.Printf("forked %d, then errno %d: %v\n", n, int(errno), errno)
				break
			}
		}
		if n == 10000 {
			fmt.Println("forked 10000 without failing")
		}
		_, _ = io.Copy(io.Discard, in)
	case "spin":
		fmt.Println("spinning")
		for {
			spins++
		}
	case "sleep":
		fmt.Println("sleeping")
		_, _ = io.Copy(io.Discard, in)
	case "pause":
		time.Sleep(time.Hour)
	case "owner":
		m, err := NewManager(Options{Parent: os.Getenv("PARENT")})
		if err == nil {
			var c *Cgroup
			if c, err = m.New(os.Getenv("NAME"), Limits{PidsMax: 64}); err == nil {
				sleeper := exec.Command("/proc/self/exe")
				sleeper.Env = append(os.Environ(), helperEnv+"=pause")
				stdin, _ := sleeper.StdinPipe()
				if err = sleeper.Start(); err == nil {
					err = c.Add(sleeper.Process.Pid)
					fmt.Fprintln(stdin, "go")
					fmt.Printf("sleeper %d\n", sleeper.Process.Pid)
				}
			}
		}
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		time.Sleep(time.Hour)
	}
}

var spins uint64

// helper is a helper process started by startHelper.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan struct{}
}

// startHelper starts the test binary as a helper with role, blocked; moves it into c
// (unless c is nil); then lets it go. It is killed when the test ends.
func startHelper(t *testing.T, role string, c *Cgroup, env ...string) *helper {
	t.Helper()
	h := &helper{cmd: exec.Command("/proc/self/exe"), lines: make(chan string, 1000), done: make(chan struct{})}
	h.cmd.Env = append(append(os.Environ(), helperEnv+"="+role), env...)
	h.cmd.Stderr = os.Stderr
	var err error
	h.stdin, err = h.cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := h.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, h.cmd.Start())
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			h.lines <- s.Text()
		}
		close(h.lines)
	}()
	go func() {
		_ = h.cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		_ = h.cmd.Process.Kill()
		<-h.done
	})
	if c != nil {
		require.NoError(t, c.Add(h.cmd.Process.Pid))
	}
	_, err = fmt.Fprintln(h.stdin, "go")
	require.NoError(t, err)
	return h
}

// await waits for the helper to print a line that starts with prefix, and returns it.
func (h *helper) await(t *testing.T, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-h.lines:
			if !ok {
				t.Fatalf("helper ended without printing %q", prefix)
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-deadline:
			t.Fatalf("helper printed no %q within %v", prefix, timeout)
		}
	}
}

// wait waits for the helper to exit and returns how: its wait status.
func (h *helper) wait(t *testing.T, timeout time.Duration) syscall.WaitStatus {
	t.Helper()
	select {
	case <-h.done:
	case <-time.After(timeout):
		t.Fatalf("helper still running after %v", timeout)
	}
	return h.cmd.ProcessState.Sys().(syscall.WaitStatus)
}

// testManager returns a manager for a parent group of the test's own, on the real
// cgroupfs, and checks when the test ends that nothing is left of it (removing what is).
func testManager(t *testing.T) *Manager {
	t.Helper()
	labtest.RequireRoot(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	m, err := NewManager(Options{Parent: "containerlabs-test-" + hex.EncodeToString(b)})
	if errors.Is(err, ErrUnsupported) {
		t.Skipf("this host's cgroups lack a controller the package needs: %v", err)
	}
	require.NoError(t, err)
	t.Logf("cgroup mode: %s", m.Mode())
	t.Cleanup(func() {
		left := leftovers(m)
		if len(left) == 0 {
			return
		}
		t.Errorf("cgroups left behind: %v", left)
		for _, dir := range left {
			if name := filepath.Base(dir); name != m.parent {
				_ = m.group(name).Remove()
			}
		}
		m.removeParent()
	})
	return m
}

// leftovers lists the manager's parent and anything under it, in every hierarchy.
func leftovers(m *Manager) []string {
	var left []string
	for _, h := range m.hierarchies {
		parent := filepath.Join(h.dir, m.parent)
		if _, err := os.Stat(parent); err != nil {
			continue
		}
		left = append(left, parent)
		entries, _ := os.ReadDir(parent)
		for _, e := range entries {
			if e.IsDir() {
				left = append(left, filepath.Join(parent, e.Name()))
			}
		}
	}
	return left
}

func newGroup(t *testing.T, m *Manager, limits Limits) *Cgroup {
	t.Helper()
	c, err := m.New("c1", limits)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Remove()) })
	return c
}

func TestDetect(t *testing.T) {
	mode, err := Detect()
	require.NoError(t, err)
	t.Logf("this kernel's cgroup mode: %s", mode)
	want, ok := map[string]Mode{"v1": V1, "hybrid": Hybrid, "v2": V2}[os.Getenv(expectEnv)]
	if os.Getenv(expectEnv) != "" {
		require.True(t, ok, "%s=%q: want v1, hybrid or v2", expectEnv, os.Getenv(expectEnv))
		assert.Equal(t, want, mode)
	}
}

func TestAddMovesProcessAndItsChildren(t *testing.T) {
	m := testManager(t)
	c := newGroup(t, m, Limits{PidsMax: 64})
	h := startHelper(t, "sleep", c)
	h.await(t, "sleeping", 10*time.Second)
	member, err := c.isMember(h.cmd.Process.Pid)
	require.NoError(t, err)
	assert.True(t, member, "/proc/PID/cgroup shows %s after Add", c.Path())
	pids, err := c.procs()
	require.NoError(t, err)
	assert.Equal(t, []int{h.cmd.Process.Pid}, pids)
	for _, dir := range c.Dirs() {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(h.cmd.Process.Pid), strings.TrimSpace(string(data)), "the process is in %s", dir)
	}
}

func TestMemoryLimitOOMKillsHog(t *testing.T) {
	m := testManager(t)
	const limit = 32 << 20
	c := newGroup(t, m, Limits{MemoryBytes: limit})
	h := startHelper(t, "hog", c)
	status := h.wait(t, 60*time.Second)
	require.True(t, status.Signaled(), "the hog beyond the limit was not killed: %v", status)
	assert.Equal(t, syscall.SIGKILL, status.Signal(), "the OOM killer kills with SIGKILL")
	st, err := c.Stats()
	require.NoError(t, err)
	t.Logf("stats after the OOM kill: %+v", st)
	assert.GreaterOrEqual(t, st.OOMKills, uint64(1), "Stats reports the OOM kill")
	if st.MemoryPeakBytes != 0 || m.Mode() != V2 {
		assert.InDelta(t, limit, float64(st.MemoryPeakBytes), 0.15*limit, "the peak is near the limit")
		assert.LessOrEqual(t, st.MemoryPeakBytes, uint64(limit+(1<<20)), "the peak does not pass the limit")
	}
}

func TestPidsLimitStopsForkLoop(t *testing.T) {
	m := testManager(t)
	const max = 24
	c := newGroup(t, m, Limits{PidsMax: max})
	h := startHelper(t, "forkloop", c)
	line := h.await(t, "forked", 30*time.Second)
	t.Log(line)
	assert.Contains(t, line, fmt.Sprintf("errno %d", int(syscall.EAGAIN)), "fork fails with EAGAIN at the limit")
	st, err := c.Stats()
	require.NoError(t, err)
	assert.Equal(t, uint64(max), st.Pids, "the group is full: its threads and children count")
	assert.GreaterOrEqual(t, st.ForksRefused, uint64(1), "the refused fork is counted")

	// The host is fine: a process outside the group starts and runs.
	out, err := exec.Command("/proc/self/exe", "-test.run", "^$").CombinedOutput()
	require.NoError(t, err, "a process outside the group could not run: %s", out)

	require.NoError(t, c.Remove(), "Remove kills the helper and every child it forked")
	status := h.wait(t, 10*time.Second)
	assert.Equal(t, syscall.SIGKILL, status.Signal())
}

func TestCPUQuotaHoldsBusyLoop(t *testing.T) {
	m := testManager(t)
	const cpus = 0.2
	c := newGroup(t, m, Limits{CPUs: cpus})
	h := startHelper(t, "spin", c)
	h.await(t, "spinning", 10*time.Second)
	time.Sleep(200 * time.Millisecond) // past the first period, whose quota was fresh
	before, err := c.Stats()
	require.NoError(t, err)
	start := time.Now()
	time.Sleep(1500 * time.Millisecond)
	after, err := c.Stats()
	require.NoError(t, err)
	elapsed := time.Since(start)
	share := float64(after.CPUUsage-before.CPUUsage) / float64(elapsed)
	t.Logf("a busy loop limited to %.2f CPUs used %.3f CPUs over %v (throttled %v)", cpus, share, elapsed.Round(time.Millisecond), after.CPUThrottled-before.CPUThrottled)
	assert.True(t, share > 0.1 && share < 0.35, "the group's own CPU accounting shows roughly the quota: %.3f CPUs", share)
	assert.Greater(t, after.CPUThrottled, before.CPUThrottled, "the kernel throttled the group")
}

func TestIOWeight(t *testing.T) {
	m := testManager(t)
	c, err := m.New("c1", Limits{IOWeight: 500})
	if errors.Is(err, ErrUnsupported) {
		t.Skipf("io weight is not available on this host: %v", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Remove()) })
	settings := c.Settings()
	last := settings[len(settings)-1]
	t.Logf("io weight: %s", last)
	data, err := os.ReadFile(last.File)
	require.NoError(t, err)
	assert.Contains(t, string(data), last.Value, "the kernel took the weight")
}

func TestRemoveKillsProcessesAndLeavesNothing(t *testing.T) {
	m := testManager(t)
	c, err := m.New("c1", Limits{MemoryBytes: 64 << 20, CPUs: 0.5, PidsMax: 64})
	require.NoError(t, err)
	first := startHelper(t, "sleep", c)
	second := startHelper(t, "sleep", c)
	outside := startHelper(t, "sleep", nil)
	for _, h := range []*helper{first, second, outside} {
		h.await(t, "sleeping", 10*time.Second)
	}
	require.NoError(t, c.Remove())
	for _, h := range []*helper{first, second} {
		assert.Equal(t, syscall.SIGKILL, h.wait(t, 10*time.Second).Signal())
	}
	select {
	case <-outside.done:
		t.Error("Remove killed a process outside the group")
	default:
	}
	for _, dir := range c.Dirs() {
		assert.NoDirExists(t, dir)
	}
	assert.Empty(t, leftovers(m), "the parent goes with the last group")
}

func TestKillSparesProcessesOutsideTheGroup(t *testing.T) {
	m := testManager(t)
	c := newGroup(t, m, Limits{})
	outside := startHelper(t, "sleep", nil)
	outside.await(t, "sleeping", 10*time.Second)
	require.NoError(t, c.kill(outside.cmd.Process.Pid), "a PID listed a moment ago that now belongs to someone else")
	time.Sleep(100 * time.Millisecond)
	select {
	case <-outside.done:
		t.Fatal("kill signalled a process that is not in the group")
	default:
	}
}

func TestRemoveStaleAfterKill9(t *testing.T) {
	m := testManager(t)
	// A live container of this manager must survive the cleanup.
	live := newGroup(t, m, Limits{})
	// A container's parent process that is killed with -9 before it can call Remove.
	owner := startHelper(t, "owner", nil, "PARENT="+m.parent, "NAME=orphan")
	line := owner.await(t, "sleeper", 30*time.Second)
	sleeper, err := strconv.Atoi(strings.TrimPrefix(line, "sleeper "))
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Kill(sleeper, syscall.SIGKILL) })
	require.NoError(t, owner.cmd.Process.Kill())
	owner.wait(t, 10*time.Second)

	removed, err := m.RemoveStale()
	require.NoError(t, err)
	assert.Empty(t, removed, "the orphan group still has a live process in it")

	require.NoError(t, syscall.Kill(sleeper, syscall.SIGKILL))
	orphan := m.group("orphan")
	require.Eventually(t, func() bool {
		pids, err := orphan.procs()
		return err == nil && len(pids) == 0
	}, 10*time.Second, 10*time.Millisecond, "the killed sleeper leaves the group")

	removed, err = m.RemoveStale()
	require.NoError(t, err)
	assert.Equal(t, []string{"orphan"}, removed, "a group that no live process uses is stale")
	for _, dir := range orphan.dirs {
		assert.NoDirExists(t, dir)
	}
	assert.DirExists(t, live.dirs[0], "the live container's group stays")
}

func TestBadLimitsCreateNothing(t *testing.T) {
	m := testManager(t)
	_, err := m.New("c1", Limits{MemoryBytes: 1 << 20})
	assert.ErrorContains(t, err, "too small")
	_, err = m.New("../c1", Limits{})
	assert.ErrorContains(t, err, "invalid cgroup name")
	assert.Empty(t, leftovers(m))
}

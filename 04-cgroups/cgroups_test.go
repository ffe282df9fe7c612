package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/labtest"
)

const lab = "04-cgroups"

// TestLab04 holds the graded checks of lab 04. Each subtest is one check.
func TestLab04(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("a memory hog beyond the limit is OOM-killed and reported", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		labtest.InstallProbe(t, dir)
		res := bin.Run(t, "run", "--memory", "32m", dir, "/probe", "hog", "128")
		assert.Equal(t, 137, res.Code, labtest.Hint("write the limit to memory.max (v2) or memory.limit_in_bytes and memory.memsw.limit_in_bytes (v1); an OOM kill exits 137").With(res))
		assert.NotContains(t, res.Stdout, "survived", labtest.Hint("the hog must not get 128 MiB under a 32 MiB limit (swap included)"))
		assert.Regexp(t, "(?i)(oom|out of memory)", res.Stderr, labtest.Hint("say plainly that the OOM killer struck: read memory.events (v2) or memory.oom_control (v1)"))
		assert.Contains(t, res.Stderr, "32", labtest.Hint("name the limit in the OOM message"))
	})

	t.Run("a program within the limit runs normally, in a cgroup limited to 64 MiB", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		labtest.InstallProbe(t, dir)
		p := bin.Start(t, "run", "--memory", "64m", dir, "sh", "-c", "/probe hog 16 && echo ready && exec sleep 30")
		p.Await(t, "ready", labtest.Hint("16 MiB fits in 64 MiB: the container must run normally"))
		assert.Contains(t, p.Stdout(), "survived with 16 MiB", labtest.Hint("the command's output passes through"))
		command := labtest.WaitForChild(t, labtest.WaitForChild(t, p.Cmd.Process.Pid))
		limit, path, err := cgroup.ReadOf(command, "memory", "memory.limit_in_bytes", "memory.max")
		require.NoError(t, err, labtest.Hint("the command must be in a cgroup with a memory controller"))
		assert.Contains(t, path, "/containerlabs/", labtest.Hint("move the child into the container's cgroup, under /containerlabs"))
		assert.Equal(t, "67108864", limit, labtest.Hint("write --memory to memory.max (v2) or memory.limit_in_bytes (v1) of %s", path))
		require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
		p.Wait(10 * time.Second)
	})

	t.Run("a fork bomb stops at the pids limit, as the cgroup counts it", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		labtest.InstallProbe(t, dir)
		p := bin.Start(t, "run", "--pids-limit", "32", dir, "/probe", "fork", "1000")
		p.Await(t, "refused", labtest.Hint("write the limit to pids.max: fork must fail with EAGAIN"))
		// While the probe holds its children, the cgroup's own counter, read from the host.
		probe := labtest.WaitForChild(t, labtest.WaitForChild(t, p.Cmd.Process.Pid))
		current, path, err := cgroup.ReadOf(probe, "pids", "pids.current", "pids.current")
		require.NoError(t, err, labtest.Hint("the container must be in a cgroup with the pids controller"))
		n, _ := strconv.Atoi(current)
		assert.LessOrEqual(t, n, 32, labtest.Hint("%s holds %s tasks: the pids limit caps the whole container", path, current))
		res := p.Wait(30 * time.Second)
		m := regexp.MustCompile(`forked (\d+) children, then refused: (.*)`).FindStringSubmatch(res.Stdout)
		require.NotNil(t, m, labtest.Hint("the probe should report its forks").With(res))
		forked, _ := strconv.Atoi(m[1])
		assert.Less(t, forked, 32, labtest.Hint("the init, the probe and its children share the 32 tasks"))
		assert.Contains(t, m[2], "resource temporarily unavailable", labtest.Hint("the pids controller refuses fork with EAGAIN"))
	})

	t.Run("a busy loop with --cpus 0.2 gets about a fifth of a CPU", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		labtest.InstallProbe(t, dir)
		p := bin.Start(t, "run", "--cpus", "0.2", dir, "/probe", "spin", "6")
		p.Await(t, "spinning", labtest.Hint("the container should start the busy loop"))
		probe := labtest.WaitForChild(t, labtest.WaitForChild(t, p.Cmd.Process.Pid))
		// Measured from the container's own cgroup accounting over a fixed interval.
		before, err := cpuUsage(probe)
		require.NoError(t, err)
		const interval = 2 * time.Second
		time.Sleep(interval)
		after, err := cpuUsage(probe)
		require.NoError(t, err)
		share := float64(after-before) / float64(interval)
		assert.InDelta(t, 0.2, share, 0.12, labtest.Hint("a quota of 0.2 CPU is 20000us per 100000us period: cpu.max \"20000 100000\" (v2) or cpu.cfs_quota_us (v1); measured %.2f", share))
		res := p.Wait(30 * time.Second)
		assert.Equal(t, 0, res.Code, labtest.Hint("the busy loop should end normally").With(res))
	})

	t.Run("a bad limit is a clear error and creates nothing, a good one reaches the cgroup", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		before := labtest.TakeSnapshot(t)
		for _, args := range [][]string{{"--memory", "12x"}, {"--cpus", "-1"}, {"--memory", "1k"}} {
			res := bin.Run(t, append(append([]string{"run"}, args...), dir, "true")...)
			assert.NotEqual(t, 0, res.Code, labtest.Hint("%s %s must be refused", args[0], args[1]).With(res))
			assert.Contains(t, res.Stderr, args[1], labtest.Hint("the error must name the bad value %q", args[1]))
		}
		before.AssertUnchanged(t, labtest.Hint("check every value before creating the cgroup"))

		// Good values, by contrast, reach the cgroup's files.
		p := bin.Start(t, "run", "--memory", "48m", "--pids-limit", "40", "--cpus", "0.5", dir, "sh", "-c", "echo ready; exec sleep 30")
		p.Await(t, "ready", labtest.Hint("the container should start"))
		command := labtest.WaitForChild(t, labtest.WaitForChild(t, p.Cmd.Process.Pid))
		for _, f := range []struct{ controller, v1, v2, want string }{
			{"memory", "memory.limit_in_bytes", "memory.max", "50331648"},
			{"pids", "pids.max", "pids.max", "40"},
			{"cpu", "cpu.cfs_quota_us", "cpu.max", "50000"},
		} {
			value, path, err := cgroup.ReadOf(command, f.controller, f.v1, f.v2)
			if assert.NoError(t, err, labtest.Hint("the container needs a cgroup with the %s controller", f.controller)) {
				assert.Contains(t, value, f.want, labtest.Hint("write the limit to %s (v2) or %s (v1) of %s", f.v2, f.v1, path))
			}
		}
		require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
		p.Wait(10 * time.Second)
	})

	t.Run("the command runs in the container's cgroup, which it sees as its root", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		p := bin.Start(t, "run", "--memory", "64m", dir, "sh", "-c", "cat /proc/self/cgroup; echo ready; exec sleep 30")
		p.Await(t, "ready", labtest.Hint("the container should start"))
		command := labtest.WaitForChild(t, labtest.WaitForChild(t, p.Cmd.Process.Pid))
		hostView, err := exec.Command("cat", "/proc/"+strconv.Itoa(command)+"/cgroup").Output()
		require.NoError(t, err)
		assert.Regexp(t, "(?m)(:memory:|^0::)/containerlabs/\\S+", string(hostView), labtest.Hint("move the child into its own cgroup, under /containerlabs, before releasing it"))
		assert.Regexp(t, "(?m)(memory|^0:):/$", p.Stdout(), labtest.Hint("create the cgroup namespace after joining the cgroup, so the container sees its cgroup as /"))
		require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
		p.Wait(10 * time.Second)
	})

	t.Run("no cgroup is left after the container exits", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		before := labtest.TakeSnapshot(t)
		p := bin.Start(t, "run", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "64", dir, "sh", "-c", "sleep 30 & echo ready; until [ -e /done ]; do sleep 0.05; done; exit 3")
		p.Await(t, "ready", labtest.Hint("the container should start"))
		command := labtest.WaitForChild(t, labtest.WaitForChild(t, p.Cmd.Process.Pid))
		_, path, err := cgroup.ReadOf(command, "pids", "pids.max", "pids.max")
		require.NoError(t, err)
		require.Contains(t, path, "/containerlabs/", labtest.Hint("while it runs, the container is in a cgroup of its own, under /containerlabs"))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "done"), nil, 0o644))
		res := p.Wait(10 * time.Second)
		assert.Equal(t, 3, res.Code, labtest.Hint("the exit status passes through").With(res))
		before.AssertUnchanged(t, labtest.Hint("remove the cgroup (kill what is left in it first) when the container exits"))
	})

	t.Run("a killed run's cgroup is removed by the next run", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		before := labtest.TakeSnapshot(t)
		p := bin.Start(t, "run", "--memory", "64m", dir, "sh", "-c", "echo ready; sleep 60")
		p.Await(t, "ready", labtest.Hint("the container should start"))
		// SIGKILL to the lab and its container: nobody is left to remove the cgroup.
		init := labtest.WaitForChild(t, p.Cmd.Process.Pid)
		require.NoError(t, exec.Command("kill", "-KILL", strconv.Itoa(p.Cmd.Process.Pid), strconv.Itoa(init)).Run())
		p.Wait(10 * time.Second)
		stale := labtest.TakeSnapshot(t)
		require.Greater(t, len(stale.Cgroups), len(before.Cgroups), labtest.Hint("a container killed with SIGKILL leaves its cgroup behind: it must have had one"))
		res := bin.Run(t, "run", dir, "true")
		assert.Equal(t, 0, res.Code, labtest.Hint("a run after a killed run must still work").With(res))
		before.AssertUnchanged(t, labtest.Hint("remove the cgroups of dead containers at the next start"))
	})
}

// cpuUsage returns the CPU time used so far by the cgroup process pid is in, from the
// cgroup's own accounting (cpuacct.usage on v1, usage_usec in cpu.stat on v2), so the check
// measures what the container got without trusting the lab's own report.
func cpuUsage(pid int) (time.Duration, error) {
	value, _, err := cgroup.ReadOf(pid, "cpuacct", "cpuacct.usage", "cpu.stat")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(value, "\n") {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			us, err := strconv.ParseInt(v, 10, 64)
			return time.Duration(us) * time.Microsecond, err
		}
	}
	ns, err := strconv.ParseInt(value, 10, 64)
	return time.Duration(ns), err
}

// TestUsage checks that 04-cgroups prints its usage, with no arguments, in the learner's language: English by default, Korean under LANG=ko_KR.UTF-8.
func TestUsage(t *testing.T) { labtest.RunUsage(t, lab, 2) }

package main_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
	"containerlabs/labs/procfs"
)

const lab = "02-proc"

// TestLab02 holds the graded checks of lab 02. Each subtest is one check.
func TestLab02(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("ps works and lists the host's processes", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		res := bin.Run(t, "run", dir, "ps", "-o", "pid")
		require.Equal(t, 0, res.Code, labtest.Hint("mount a procfs at DIR/proc before starting the command").With(res))
		assert.Contains(t, strings.Fields(res.Stdout), strconv.Itoa(os.Getpid()),
			labtest.Hint("without a PID namespace, ps inside sees every host process, including this test"))
	})

	t.Run("PID 1 inside is the host's init", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		hostInit, err := os.ReadFile("/proc/1/comm")
		require.NoError(t, err)
		res := bin.Run(t, "run", dir, "cat", "/proc/1/comm")
		assert.Equal(t, string(hostInit), res.Stdout, labtest.Hint("mount a new procfs (mount -t proc), not a copy of files").With(res))
	})

	t.Run("dev has the harmless devices and no host disks", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		res := bin.Run(t, "run", dir, "sh", "-c", "head -c 3 /dev/zero | wc -c; echo gone > /dev/null; head -c 8 /dev/urandom | wc -c; ls /dev")
		require.Equal(t, 0, res.Code, labtest.Hint("create null, zero, full, random, urandom and tty in a tmpfs at DIR/dev").With(res))
		lines := strings.Fields(res.Stdout)
		require.GreaterOrEqual(t, len(lines), 2, labtest.Hint("the shell inside should print the byte counts").With(res))
		assert.Equal(t, []string{"3", "8"}, lines[:2], labtest.Hint("/dev/zero and /dev/urandom must be real character devices"))
		for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty", "pts", "shm"} {
			assert.Contains(t, lines, d, labtest.Hint("/dev should contain %s", d))
		}
		for _, disk := range hostBlockDevices(t) {
			assert.NotContains(t, lines, disk, labtest.Hint("never give the container the host's /dev: %s is a host disk", disk))
		}
	})

	t.Run("sys is read-only", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		res := bin.Run(t, "run", dir, "sh", "-c", "ls /sys/kernel >/dev/null && touch /sys/kernel/x")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("mount sysfs with MS_RDONLY"))
		assert.Contains(t, res.Stderr, "Read-only file system", labtest.Hint("mount sysfs with MS_RDONLY").With(res))
	})

	t.Run("the mounts are gone after the command exits", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		res := bin.Run(t, "run", dir, "sh", "-c", "exit 3")
		assert.Equal(t, 3, res.Code, labtest.Hint("exit with the command's exit status").With(res))
		assert.Empty(t, labtest.MountsUnder(t, dir), labtest.Hint("unmount /proc, /dev (with pts and shm) and /sys when the command ends"))
	})

	t.Run("the mounts are gone after Ctrl-C or SIGTERM", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		p := bin.Start(t, "run", dir, "sh", "-c", "echo started; while true; do sleep 0.1; done")
		p.Await(t, "started", labtest.Hint("the command should start"))
		require.NotEmpty(t, labtest.MountsUnder(t, dir), labtest.Hint("the mounts should exist while the command runs"))
		require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
		res := p.Wait(10 * time.Second)
		assert.False(t, res.TimedOut, labtest.Hint("forward SIGTERM to the command instead of ignoring it"))
		assert.Equal(t, 143, res.Code, labtest.Hint("the command died of SIGTERM: exit 128+15").With(res))
		assert.Empty(t, labtest.MountsUnder(t, dir), labtest.Hint("unmount even when the command is stopped by a signal"))
	})

	t.Run("a killed run's mounts are cleaned up by the next run", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		p := bin.Start(t, "run", dir, "sh", "-c", "echo started; sleep 60")
		p.Await(t, "started", labtest.Hint("`02-proc run DIR sh -c ...` should start the command"))
		// SIGKILL cannot be caught: the mounts stay behind.
		require.NoError(t, syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL))
		p.Wait(10 * time.Second)
		stale := len(labtest.MountsUnder(t, dir))
		res := bin.Run(t, "run", dir, "sh", "-c", "mount | wc -l")
		require.Equal(t, 0, res.Code, labtest.Hint("a run after a killed run must still work").With(res))
		assert.Equal(t, strconv.Itoa(stale), strings.TrimSpace(res.Stdout),
			labtest.Hint("unmount stale mounts before mounting again, so mounts never stack"))
		assert.Empty(t, labtest.MountsUnder(t, dir), labtest.Hint("no mount may remain after the next run"))
	})

	t.Run("inspect shows the facts of a chrooted process", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		p := bin.Start(t, "run", dir, "sh", "-c", "echo started; exec sleep 60")
		p.Await(t, "started", labtest.Hint("`02-proc run DIR sh -c ...` should start the command"))
		child := labtest.WaitForChild(t, p.Cmd.Process.Pid)
		res := bin.Run(t, "inspect", strconv.Itoa(child))
		require.Equal(t, 0, res.Code, labtest.Hint("`02-proc inspect PID` should read /proc/PID").With(res))
		for _, want := range []string{"sleep 60", filepath.Join(dir, "bin/busybox"), "root", dir, strconv.Itoa(p.Cmd.Process.Pid)} {
			assert.Contains(t, res.Stdout, want, labtest.Hint("inspect should print cmdline, exe, cwd, root and ppid; missing %q", want))
		}
		host, err := procfs.Namespaces(os.Getpid())
		require.NoError(t, err)
		for _, ns := range host {
			assert.Contains(t, res.Stdout, ns.Link, labtest.Hint("print the namespace links; all are the host's in lab 02"))
		}
	})

	t.Run("inspect of a missing process fails clearly", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		res := bin.Run(t, "inspect", "999999999")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("a PID that does not exist is an error"))
		assert.Contains(t, res.Stderr, "999999999", labtest.Hint("name the PID in the error"))
	})
}

// hostBlockDevices lists the block devices in the host's /dev.
func hostBlockDevices(t *testing.T) []string {
	entries, err := os.ReadDir("/dev")
	require.NoError(t, err)
	var disks []string
	for _, e := range entries {
		if e.Type()&os.ModeDevice != 0 && e.Type()&os.ModeCharDevice == 0 {
			disks = append(disks, e.Name())
		}
	}
	return disks
}

// TestUsage checks that 02-proc prints its usage, with no arguments, in the learner's language: English by default, Korean under LANG=ko_KR.UTF-8.
func TestUsage(t *testing.T) { labtest.RunUsage(t, lab, 2) }

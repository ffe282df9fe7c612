package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/engine"
	"containerlabs/labs/labtest"
	"containerlabs/labs/state"
)

// logDir is where the json-file log of container id lives under the check's state root.
func logDir(t *testing.T, bin *labtest.Binary, ref string) string {
	id := strings.TrimSpace(bin.Run(t, "inspect", "-f", "{{.Id}}", ref).Stdout)
	require.Len(t, id, 64)
	return filepath.Join(os.Getenv(state.EnvRoot), "engine", "containers", id, "logs")
}

// TestIdleMonitor checks the idle half of a detached container's monitor: the C loop
// (labs/engine/idlemonitor) that replaces the Go monitor once the container runs.
func TestIdleMonitor(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("a detached container's monitor becomes the one-threaded idle monitor", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "-d", "--name", "idler", base, "sleep", "30")
		require.Equal(t, 0, res.Code, res)
		c := inspect(t, bin, "idler")
		pid := c.State.MonitorPid
		require.NotZero(t, pid)
		var args []string
		require.True(t, waitFor(5*time.Second, func() bool {
			cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			args = strings.Split(string(cmdline), "\x00")
			return err == nil && len(args) > 3 && args[3] == "idle"
		}), labtest.Hint("the monitor executes itself as `container-monitor ID idle ...`").With(args))
		assert.Equal(t, []string{"container-monitor", c.ID}, args[1:3])
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		require.NoError(t, err)
		assert.Contains(t, string(status), "\nThreads:\t1\n", labtest.Hint("a Go process has several threads; the C idle monitor one"))

		// It still does the monitor's work: stop ends the container, and the clean-up it
		// executes records the exit and removes the runtime's state.
		require.Equal(t, 0, bin.Run(t, "stop", "-t", "1", "idler").Code)
		require.True(t, waitFor(5*time.Second, func() bool { return !inspect(t, bin, "idler").State.Running() }))
		assert.Equal(t, 137, inspect(t, bin, "idler").State.ExitCode, labtest.Hint("sleep ignores SIGTERM as PID 1: stop kills it"))
	})

	t.Run("the clean-up after the idle monitor records an OOM kill and undoes the set-up", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "-d", "--name", "hog", "--memory", "32m", base, "sh", "-c", "sleep 1; /probe hog 128")
		require.Equal(t, 0, res.Code, res)
		running := inspect(t, bin, "hog")
		require.NotEmpty(t, running.Network.HostVeth)
		assert.Equal(t, "137\n", bin.Run(t, "wait", "hog").Stdout)
		c := inspect(t, bin, "hog")
		assert.True(t, c.State.OOMKilled, labtest.Hint("the clean-up reads the cgroup's OOM counter before the runtime deletes it"))
		_, err := net.InterfaceByName(running.Network.HostVeth)
		assert.Error(t, err, labtest.Hint("the clean-up removes the host's veth"))
		leases, err := filepath.Glob(filepath.Join(os.Getenv(state.EnvRoot), "network", "*", "leases", "*"))
		require.NoError(t, err)
		assert.Empty(t, leases, labtest.Hint("the clean-up releases the address lease"))
		mounts, err := os.ReadFile("/proc/self/mountinfo")
		require.NoError(t, err)
		assert.NotContains(t, string(mounts), running.ID, labtest.Hint("the clean-up unmounts the root file system"))

		res = bin.Run(t, "run", "-d", "--rm", base, "true")
		require.Equal(t, 0, res.Code, res)
		id := strings.TrimSpace(res.Stdout)
		assert.True(t, waitFor(5*time.Second, func() bool {
			ps := bin.Run(t, "ps", "-aq", "--filter", "id="+id)
			return ps.Code == 0 && strings.TrimSpace(ps.Stdout) == ""
		}), labtest.Hint("the clean-up removes a --rm container"))
	})

	t.Run("the idle monitor's log escapes as encoding/json does, and logs returns the bytes", func(t *testing.T) {
		bin := setup(t)
		// Quotes, a backslash, a tab, control characters (\001, \033, \b, \f), HTML's
		// specials, é, U+2028, invalid UTF-8 (\377 \376, a truncated é), a 100 KB line, and
		// a 60 KB line of é one byte off, whose 16 KiB entries must not cut an é in two.
		script := `printf 'say "hi"\\there\t\001\033[0m\b\f <a&b> \303\251 \342\200\250 \377\376 \303\n'; ` +
			`printf 'to stderr\t"x"\n' >&2; ` +
			`head -c 102400 /dev/zero | tr '\0' x; echo; ` +
			`printf x; yes é | head -n 30000 | tr -d '\n'; echo; printf 'no newline at the end'`
		res := bin.Run(t, "run", "-d", "--name", "escapes", base, "sh", "-c", script)
		require.Equal(t, 0, res.Code, res)
		require.Equal(t, "0\n", bin.Run(t, "wait", "escapes").Stdout)

		// Each line of the file is what encoding/json makes of its entry, byte for byte.
		data, err := os.ReadFile(filepath.Join(logDir(t, bin, "escapes"), "container.log"))
		require.NoError(t, err)
		lines := bytes.SplitAfter(data, []byte("\n"))
		require.Equal(t, []byte{}, lines[len(lines)-1])
		var stdout, stderr strings.Builder
		for _, line := range lines[:len(lines)-1] {
			var e engine.LogEntry
			require.NoError(t, json.Unmarshal(line, &e), string(line))
			assert.LessOrEqual(t, len(e.Log), 16384, labtest.Hint("long lines are split into 16 KiB entries, as Docker's json-file does"))
			again, err := json.Marshal(e)
			require.NoError(t, err)
			// (encoding/json writes a byte of invalid UTF-8 as \ufffd, and the decoded U+FFFD as itself.)
			assert.Equal(t, string(again)+"\n", strings.ReplaceAll(string(line), `\ufffd`, "\ufffd"),
				labtest.Hint("the C writer escapes as encoding/json does"))
			if e.Stream == "stderr" {
				stderr.WriteString(e.Log)
			} else {
				stdout.WriteString(e.Log)
			}
		}
		// Docker's json-file, too, replaces each byte of invalid UTF-8 with U+FFFD.
		want := "say \"hi\"\\there\t\001\033[0m\b\f <a&b> é \u2028 \ufffd\ufffd \ufffd\n" +
			strings.Repeat("x", 102400) + "\n" +
			"x" + strings.Repeat("é", 30000) + "\nno newline at the end"
		assert.Equal(t, want, stdout.String())
		assert.Equal(t, "to stderr\t\"x\"\n", stderr.String())
		res = bin.Run(t, "logs", "escapes")
		assert.Equal(t, want, res.Stdout, labtest.Hint("logs joins the entries back").With(res))
	})

	t.Run("the idle monitor rotates the log as the Go monitor does", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "-d", "--name", "chatty", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", base,
			"sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done")
		require.Equal(t, 0, res.Code, res)
		require.Equal(t, "0\n", bin.Run(t, "wait", "chatty").Stdout)
		files, err := filepath.Glob(filepath.Join(logDir(t, bin, "chatty"), "container.log*"))
		require.NoError(t, err)
		assert.Len(t, files, 2, labtest.Hint("max-file=2 keeps container.log and container.log.1").With(files))
		for _, f := range files {
			info, err := os.Stat(f)
			require.NoError(t, err)
			assert.LessOrEqual(t, info.Size(), int64(1024), filepath.Base(f))
		}
		assert.Equal(t, "line 298\nline 299\n", bin.Run(t, "logs", "--tail", "2", "chatty").Stdout)
	})
}

// spareMonitors lists the processes of bin that are spare monitors no command has handed a
// container to yet: `container-monitor -`.
func spareMonitors(bin *labtest.Binary) []int {
	var pids []int
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range paths {
		cmdline, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(cmdline, []byte("\x00container-monitor\x00-\x00")) {
			continue
		}
		if exe, _ := os.Readlink(filepath.Join(filepath.Dir(p), "exe")); exe == bin.Path {
			var pid int
			fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestSpareMonitor checks the monitor that run and start start as they start
// (labs/engine/sparemonitor): Start hands it the container and the caller's streams, and
// one that nobody needs ends by itself, holding nothing of the caller's meanwhile.
func TestSpareMonitor(t *testing.T) {
	labtest.RequireRoot(t)
	bin := setup(t)

	t.Run("an attached run's monitor is the spare its command line started", func(t *testing.T) {
		p := bin.Start(t, "run", "--rm", "--name", "spare", "--network", "none", base, "sh", "-c", "echo up; sleep 30")
		require.True(t, p.WaitForOutput("up\n", 10*time.Second), labtest.Hint("the container's output reaches run through the streams its monitor was handed").With(p.Stderr()))
		pid := inspect(t, bin, "spare").State.MonitorPid
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		require.NoError(t, err)
		assert.Equal(t, []string{"container-monitor", "-"}, strings.Split(string(cmdline), "\x00")[1:3],
			labtest.Hint("the spare starts before the command line knows which container: `container-monitor -`"))
		require.Equal(t, 0, bin.Run(t, "kill", "spare").Code)
		res := p.Wait(10 * time.Second)
		assert.Equal(t, 137, res.Code, labtest.Hint("run returns the container's status, which the monitor sends once the container is removed").With(res))
		assert.Empty(t, strings.TrimSpace(bin.Run(t, "ps", "-aq").Stdout), labtest.Hint("--rm removed the container before run returned"))
	})

	t.Run("a command that starts nothing lets its spare monitor end", func(t *testing.T) {
		res := bin.Run(t, "start", "no-such-container")
		assert.Equal(t, 125, res.Code, res)
		assert.True(t, waitFor(5*time.Second, func() bool { return len(spareMonitors(bin)) == 0 }),
			labtest.Hint("a spare monitor reads end-of-file when its command line exits, and ends"))
	})

	t.Run("run started with its standard input closed still hands its monitor over", func(t *testing.T) {
		// The constructor's socket pair would take descriptor 0, the lowest free one, and
		// then 3 (closed here too, in case the test inherited one there).
		cmd := exec.Command("sh", "-c", `exec "$0" "$@" <&- 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-`, bin.Path, "run", "--rm", "--network", "none", base, "echo", "spare")
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, string(out))
		assert.Equal(t, "spare\n", string(out), labtest.Hint("the spare monitor's socket pair must stay clear of descriptors 0, 1 and 2"))
	})

	t.Run("a detached run's monitor holds none of the caller's streams", func(t *testing.T) {
		// Run waits until the command's output pipes close: a monitor holding them would
		// keep run -d waiting as long as the container runs.
		res := bin.RunWith(t, labtest.Options{Timeout: 15 * time.Second}, "run", "-d", "--name", "away", "--network", "none", base, "sleep", "60")
		assert.False(t, res.TimedOut, labtest.Hint("the monitor of run -d kept the caller's output open"))
		assert.Equal(t, 0, res.Code, res)
		require.Equal(t, 0, bin.Run(t, "rm", "-f", "away").Code)
	})
}

package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/engine"
	"containerlabs/labs/labtest"
	"containerlabs/labs/mount"
	"containerlabs/labs/state"
)

const lab = "08-engine"

// The engine's checks use a bridge and subnet of their own, so a learner's labs0 is never
// touched, and a state root of their own per check.
const (
	bridge = "cltest08"
	subnet = "10.199.8.0/24"
	base   = "labs/busybox:latest"
)

// setup gives a check its own state root, with the busybox image (and the probe in it)
// imported, and removes every container, volume and the network when the check ends.
func setup(t *testing.T) *labtest.Binary {
	bin := labtest.Lab(t, lab)
	root := labtest.TempDir(t)
	t.Setenv(state.EnvRoot, root)
	t.Setenv(engine.EnvBridge, bridge)
	t.Setenv(engine.EnvSubnet, subnet)
	t.Cleanup(func() {
		if ids := strings.Fields(bin.Run(t, "ps", "-aq").Stdout); len(ids) > 0 {
			bin.Run(t, append([]string{"rm", "-f", "-v"}, ids...)...)
		}
		bin.Run(t, "system", "prune", "--volumes")
	})
	busybox := labtest.BusyboxRoot(t)
	labtest.InstallProbe(t, busybox)
	res := bin.Run(t, "import", "-c", `CMD ["sh"]`, busybox, base)
	require.Equal(t, 0, res.Code, labtest.Hint("`08-engine import DIR IMAGE` makes an image from a folder").With(res))
	return bin
}

func inspect(t *testing.T, bin *labtest.Binary, ref string) engine.Container {
	return inspectOne[engine.Container](t, bin, ref, labtest.Hint("`08-engine inspect CONTAINER` prints its record as JSON"))
}

// inspectOne runs `inspect REF` and decodes the one document it prints.
func inspectOne[T any](t *testing.T, bin *labtest.Binary, ref string, advice labtest.Advice) T {
	res := bin.Run(t, "inspect", ref)
	require.Equal(t, 0, res.Code, advice.With(res))
	var out []T
	require.NoError(t, json.Unmarshal([]byte(res.Stdout), &out), res)
	require.Len(t, out, 1)
	return out[0]
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestLab08 holds the graded checks of the engine. Each subtest is one check.
func TestLab08(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("run passes output and exit status through, and rm cleans up", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "--rm", base, "sh", "-c", "echo hello from the engine; exit 7")
		assert.Equal(t, 7, res.Code, labtest.Hint("the container's exit status is run's").With(res))
		assert.Equal(t, "hello from the engine\n", res.Stdout)
		assert.Empty(t, strings.TrimSpace(bin.Run(t, "ps", "-aq").Stdout), labtest.Hint("--rm removes the container when it exits"))
	})

	t.Run("a --rm container's root is a volatile overlay, another container's is not", func(t *testing.T) {
		bin := setup(t)
		// superOptions starts a detached container with args and returns its root's mount
		// options, between commas.
		superOptions := func(name string, args ...string) string {
			res := bin.Run(t, append(append([]string{"run", "-d", "--name", name}, args...), base, "sleep", "30")...)
			require.Equal(t, 0, res.Code, res)
			id := strings.TrimSpace(res.Stdout)
			t.Cleanup(func() { bin.Run(t, "rm", "-f", name) })
			infos, err := mount.Under(filepath.Join(os.Getenv(state.EnvRoot), "engine", "containers", id, "rootfs"))
			require.NoError(t, err)
			require.Len(t, infos, 1, labtest.Hint("a running container's root is one overlay mount"))
			return "," + infos[0].SuperOptions + ","
		}
		scratch, kept := superOptions("scratch", "--rm"), superOptions("kept")
		assert.Regexp(t, `,(fsync=)?volatile,`, scratch,
			labtest.Hint("mount the root of a --rm container with the overlay option volatile (overlay.MountVolatile): its upper directory is deleted with it, so its unmount need not sync the host's disk"))
		assert.NotRegexp(t, `,(fsync=)?volatile,`, kept,
			labtest.Hint("only a --rm container's root is volatile: a kept container's changes must survive a crash"))
	})

	t.Run("exit statuses follow Docker: 125, 126, 127", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "--rm", base, "/no/such/command")
		assert.Equal(t, 127, res.Code, labtest.Hint("a command that does not exist: 127").With(res))
		res = bin.Run(t, "run", "--rm", base, "/etc/passwd")
		assert.Equal(t, 126, res.Code, labtest.Hint("a command that cannot be run: 126").With(res))
		res = bin.Run(t, "run", "--rm", "--memory", "lots", base, "true")
		assert.Equal(t, 125, res.Code, labtest.Hint("an engine error (a bad flag value): 125").With(res))
		assert.Contains(t, res.Stderr, "lots", labtest.Hint("name the bad value"))
		res = bin.Run(t, "run", "--rm", "--name", "../x", base, "true")
		assert.Equal(t, 125, res.Code, labtest.Hint("names with / or .. are refused").With(res))
	})

	t.Run("an httpd container with a published port answers on 127.0.0.1", func(t *testing.T) {
		bin := setup(t)
		port := freePort(t)
		res := bin.Run(t, "run", "-d", "--name", "web", "-p", fmt.Sprintf("%d:80", port), base,
			"sh", "-c", "mkdir /www && echo served > /www/index.html && httpd -f -p 80 -h /www")
		require.Equal(t, 0, res.Code, labtest.Hint("run -d prints the container's ID").With(res))
		var body string
		for range 50 {
			if resp, err := (&http.Client{Timeout: time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/", port)); err == nil {
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body = string(data)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		assert.Equal(t, "served\n", body, labtest.Hint("publish the port with lab 06's DNAT rules"))
		res = bin.Run(t, "port", "web")
		assert.Contains(t, res.Stdout, fmt.Sprint(port), labtest.Hint("`port` lists the published ports").With(res))
	})

	t.Run("a volume outlives its container and --volumes-from shares it", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "--name", "writer", "-v", "data:/data", base, "sh", "-c", "echo kept > /data/file")
		require.Equal(t, 0, res.Code, res)
		require.Equal(t, 0, bin.Run(t, "rm", "writer").Code)
		res = bin.Run(t, "run", "--rm", "-v", "data:/data", base, "cat", "/data/file")
		assert.Equal(t, "kept\n", res.Stdout, labtest.Hint("a named volume is a directory that stays when its container goes").With(res))
		res = bin.Run(t, "run", "-d", "--name", "owner", "-v", "data:/data", base, "sleep", "30")
		require.Equal(t, 0, res.Code, res)
		res = bin.Run(t, "run", "--rm", "--volumes-from", "owner", base, "cat", "/data/file")
		assert.Equal(t, "kept\n", res.Stdout, labtest.Hint("--volumes-from mounts the other container's volumes").With(res))
		res = bin.Run(t, "volume", "rm", "data")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("a volume in use may not be removed"))
		res = bin.Run(t, "volume", "ls")
		assert.Contains(t, res.Stdout, "data")
	})

	t.Run("logs and logs -f show the container's output", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "-d", "--name", "talker", base, "sh", "-c", "echo first; echo to stderr >&2; sleep 1; echo second")
		require.Equal(t, 0, res.Code, res)
		follow := bin.Start(t, "logs", "-f", "talker")
		followed := follow.Wait(15 * time.Second)
		assert.False(t, followed.TimedOut, labtest.Hint("logs -f ends when the container does"))
		assert.Equal(t, "first\nsecond\n", followed.Stdout, labtest.Hint("logs -f keeps printing until the container exits"))
		assert.Contains(t, followed.Stderr, "to stderr", labtest.Hint("stderr lines go to stderr"))
		res = bin.Run(t, "logs", "--tail", "1", "talker")
		assert.Equal(t, "second\n", res.Stdout, labtest.Hint("--tail N shows the last N lines").With(res))
		res = bin.Run(t, "logs", "-t", "talker")
		assert.Regexp(t, `(?m)^\d{4}-\d\d-\d\dT.* first$`, res.Stdout, labtest.Hint("-t adds each line's time"))
	})

	t.Run("exec sees the container's processes, hostname and files", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "-d", "--name", "target", "--hostname", "inside", base, "sh", "-c", "echo mark > /tmp/mark; sleep 60")
		require.Equal(t, 0, res.Code, res)
		time.Sleep(200 * time.Millisecond)
		res = bin.Run(t, "exec", "target", "sh", "-c", "hostname; cat /tmp/mark; ps -o pid,comm")
		require.Equal(t, 0, res.Code, labtest.Hint("exec joins the container's namespaces").With(res))
		assert.Contains(t, res.Stdout, "inside\nmark\n", labtest.Hint("exec sees the container's hostname and files"))
		assert.Regexp(t, `(?m)^\s+1 sleep$`, res.Stdout, labtest.Hint("exec is in the container's PID namespace: PID 1 is its command (sh ran sleep with exec)").With(res))
		res = bin.Run(t, "exec", "-e", "GREETING=hi", "-w", "/tmp", "-u", "nobody", "target", "sh", "-c", "echo $GREETING; pwd; id -u")
		assert.Equal(t, "hi\n/tmp\n65534\n", res.Stdout, labtest.Hint("exec -e, -w and -u apply").With(res))
	})

	t.Run("stop ends a process that ignores SIGTERM with SIGKILL after the timeout", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "-d", "--name", "stubborn", base, "sh", "-c", `trap "" TERM; echo ready; while true; do sleep 1; done`)
		require.Equal(t, 0, res.Code, res)
		time.Sleep(300 * time.Millisecond)
		start := time.Now()
		res = bin.Run(t, "stop", "-t", "2", "stubborn")
		took := time.Since(start)
		assert.Equal(t, 0, res.Code, res)
		assert.GreaterOrEqual(t, took, 2*time.Second, labtest.Hint("wait the timeout for SIGTERM to work"))
		c := inspect(t, bin, "stubborn")
		assert.Equal(t, engine.StatusExited, c.State.Status)
		assert.Equal(t, 137, c.State.ExitCode, labtest.Hint("after the timeout, SIGKILL: exit 137"))
	})

	t.Run("an OOM kill is reported in inspect", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "--name", "hog", "--memory", "32m", base, "/probe", "hog", "128")
		assert.Equal(t, 137, res.Code, labtest.Hint("beyond its memory limit the container is OOM-killed").With(res))
		c := inspect(t, bin, "hog")
		assert.True(t, c.State.OOMKilled, labtest.Hint("read the cgroup's OOM counter before it is removed and record it"))
		assert.Contains(t, bin.Run(t, "ps", "-a").Stdout, "OOM")
	})

	t.Run("the default hardening holds inside: capabilities, no_new_privs, seccomp", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "--rm", base, "sh", "-c", "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/1/status")
		require.Equal(t, 0, res.Code, res)
		status := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
			k, v, _ := strings.Cut(line, ":")
			status[k] = strings.TrimSpace(v)
		}
		// Exactly the default set, bit for bit: Docker's without NET_RAW.
		for _, set := range []string{"CapBnd", "CapEff", "CapPrm"} {
			assert.Equal(t, "00000000a80405fb", status[set], labtest.Hint("%s is the default capability set (Docker's without CAP_NET_RAW)", set).With(res))
		}
		assert.Equal(t, "0000000000000000", status["CapInh"], labtest.Hint("the inheritable set is empty"))
		assert.Equal(t, "0000000000000000", status["CapAmb"], labtest.Hint("the ambient set is empty"))
		assert.Equal(t, "1", status["NoNewPrivs"])
		assert.Equal(t, "2", status["Seccomp"], labtest.Hint("a seccomp filter is loaded"))
		res = bin.Run(t, "run", "--rm", base, "unshare", "-U", "true")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("creating a namespace is refused without CAP_SYS_ADMIN").With(res))
		assert.Contains(t, res.Stderr, "Operation not permitted", labtest.Hint("the refused call fails with EPERM").With(res))

		// Masked paths: files every root process could read (0444 on the host), so an empty
		// read proves the mask, not a missing capability; and the mask is in mountinfo.
		data, err := os.ReadFile("/proc/timer_list")
		require.NoError(t, err, "this check needs a kernel with /proc/timer_list")
		require.NotEmpty(t, data)
		res = bin.Run(t, "run", "--rm", base, "sh", "-c", "wc -c < /proc/timer_list; wc -c < /proc/keys; grep -cE ' /proc/(timer_list|keys) ' /proc/self/mountinfo; echo 1 > /proc/sys/kernel/panic")
		assert.Equal(t, "0\n0\n2\n", res.Stdout, labtest.Hint("/proc/timer_list and /proc/keys are masked: /dev/null bound over each, so they read as empty").With(res))
		assert.Contains(t, res.Stderr, "Read-only file system", labtest.Hint("/proc/sys is read-only").With(res))

		res = bin.Run(t, "run", "--rm", "--privileged", base, "sh", "-c", "grep -E '^(CapBnd|Seccomp):' /proc/1/status; wc -c < /proc/timer_list")
		assert.Contains(t, res.Stdout, "Seccomp:\t0", labtest.Hint("--privileged lifts seccomp").With(res))
		assert.NotContains(t, res.Stdout, "a80405fb", labtest.Hint("--privileged grants every capability"))
		assert.NotRegexp(t, `(?m)^0$`, res.Stdout, labtest.Hint("--privileged unmasks /proc/timer_list").With(res))
		res = bin.Run(t, "run", "--rm", "--read-only", base, "touch", "/x")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("--read-only mounts the root read-only").With(res))
		assert.Contains(t, res.Stderr, "Read-only file system", labtest.Hint("the write to / fails with EROFS, not for another reason").With(res))
		res = bin.Run(t, "run", "--rm", "--read-only", base, "sh", "-c", "touch /dev/shm/x && echo writable")
		assert.NotContains(t, res.Stderr, "Read-only file system", labtest.Hint("--read-only covers the root, not the tmpfs mounts").With(res))
	})

	t.Run("the device rules let a container open /dev/null and not a device it made with mknod", func(t *testing.T) {
		bin := setup(t)
		// c 10:200 is /dev/net/tun: opening it needs no capability, so EPERM can only come
		// from the device rules (a devices.deny rule on v1, the eBPF program on v2). Were
		// it allowed, the open would succeed or fail with ENODEV.
		script := `mknod /tmp/tun c 10 200 && echo "mknod ok"
(: </tmp/tun) 2>&1 && echo "tun opened"
echo x >/dev/null && echo "null ok"
mknod /tmp/null c 1 3 && echo x >/tmp/null && echo "made null ok"`
		res := bin.Run(t, "run", "--rm", base, "sh", "-c", script)
		assert.Contains(t, res.Stdout, "mknod ok", labtest.Hint("making a device node is allowed (c *:* m): only opening one is guarded").With(res))
		assert.Regexp(t, `can't open '?/tmp/tun'?: Operation not permitted`, res.Stdout,
			labtest.Hint("the device rules deny every device not on the list: on cgroup v2 that needs the eBPF device program").With(res))
		assert.NotContains(t, res.Stdout, "tun opened", labtest.Hint("a denied device must not open").With(res))
		assert.Contains(t, res.Stdout, "null ok", labtest.Hint("/dev/null (c 1:3) is on the list of allowed devices").With(res))
		assert.Contains(t, res.Stdout, "made null ok", labtest.Hint("the rules go by device number, not path: a node made for c 1:3 opens").With(res))
	})

	t.Run("20 concurrent detached runs get distinct IDs and addresses and all rm -f cleanly", func(t *testing.T) {
		bin := setup(t)
		var wg sync.WaitGroup
		ids := make([]string, 20)
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := bin.Run(t, "run", "-d", base, "sleep", "60")
				ids[i] = strings.TrimSpace(res.Stdout)
			}()
		}
		wg.Wait()
		seenID, seenIP := map[string]bool{}, map[string]bool{}
		for _, id := range ids {
			require.Len(t, id, 64, labtest.Hint("every run -d prints a 64-digit ID"))
			assert.False(t, seenID[id], labtest.Hint("IDs are unique"))
			seenID[id] = true
			ip := inspect(t, bin, id).Network.IPAddress
			assert.NotEmpty(t, ip)
			assert.False(t, seenIP[ip], labtest.Hint("two containers got %s: lock the address book", ip))
			seenIP[ip] = true
		}
		res := bin.Run(t, append([]string{"rm", "-f"}, ids...)...)
		assert.Equal(t, 0, res.Code, labtest.Hint("rm -f stops and removes running containers").With(res))
		assert.Empty(t, strings.TrimSpace(bin.Run(t, "ps", "-aq").Stdout))
	})

	t.Run("a monitor killed with SIGKILL is reconciled", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "-d", "--name", "orphan", base, "sleep", "60")
		require.Equal(t, 0, res.Code, res)
		c := inspect(t, bin, "orphan")
		require.NotZero(t, c.State.MonitorPid)
		require.NoError(t, syscall.Kill(c.State.MonitorPid, syscall.SIGKILL))
		require.NoError(t, syscall.Kill(c.State.Pid, syscall.SIGKILL))
		time.Sleep(300 * time.Millisecond)
		res = bin.Run(t, "ps", "-a")
		assert.Regexp(t, regexp.MustCompile(`Exited \(255\).*orphan`), res.Stdout, labtest.Hint("ps must not trust the record: check the PIDs and their start times").With(res))
		res = bin.Run(t, "rm", "orphan")
		assert.Equal(t, 0, res.Code, labtest.Hint("rm cleans up what the dead monitor could not").With(res))
	})

	t.Run("cp and commit work on the container's files", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "--name", "src", base, "sh", "-c", "mkdir -p /out && echo inside > /out/file && ln -s /etc/shadow /out/link")
		require.Equal(t, 0, res.Code, res)
		dir := labtest.TempDir(t)
		res = bin.Run(t, "cp", "src:/out", dir)
		require.Equal(t, 0, res.Code, labtest.Hint("cp CONTAINER:PATH HOSTDIR").With(res))
		data, err := os.ReadFile(filepath.Join(dir, "out/file"))
		assert.NoError(t, err)
		assert.Equal(t, "inside\n", string(data))
		link, err := os.Readlink(filepath.Join(dir, "out/link"))
		assert.NoError(t, err, labtest.Hint("a symlink is copied as a symlink, never followed on the host"))
		assert.Equal(t, "/etc/shadow", link)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "host.txt"), []byte("from the host\n"), 0o644))
		res = bin.Run(t, "cp", filepath.Join(dir, "host.txt"), "src:/out")
		require.Equal(t, 0, res.Code, labtest.Hint("cp HOSTPATH CONTAINER:DIR").With(res))
		res = bin.Run(t, "commit", "src", "labs/committed:v1")
		require.Equal(t, 0, res.Code, res)
		res = bin.Run(t, "run", "--rm", "labs/committed:v1", "cat", "/out/file", "/out/host.txt")
		assert.Equal(t, "inside\nfrom the host\n", res.Stdout, labtest.Hint("commit turns the container's changes into an image").With(res))
	})

	t.Run("after rm and system prune nothing is left", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		before := labtest.TakeSnapshot(t)
		root := labtest.TempDir(t)
		func() {
			t.Setenv(state.EnvRoot, root)
			t.Setenv(engine.EnvBridge, bridge)
			t.Setenv(engine.EnvSubnet, subnet)
			busybox := labtest.BusyboxRoot(t)
			require.Equal(t, 0, bin.Run(t, "import", busybox, base).Code)
			port := freePort(t)
			require.Equal(t, 0, bin.Run(t, "run", "-d", "--name", "a", "-p", fmt.Sprintf("%d:80", port), "-v", "vol:/v", base, "sleep", "60").Code)
			require.Equal(t, 0, bin.Run(t, "run", "--name", "b", "-v", "/anon", base, "true").Code)
			res := bin.Run(t, "rm", "-f", "-v", "a", "b")
			require.Equal(t, 0, res.Code, res)
			res = bin.Run(t, "system", "prune", "--volumes")
			require.Equal(t, 0, res.Code, labtest.Hint("system prune removes what no container uses").With(res))
			leftovers, _ := filepath.Glob(filepath.Join(root, "engine", "*", "*"))
			assert.Empty(t, leftovers, labtest.Hint("no container, name or volume state may remain"))
			leases, _ := filepath.Glob(filepath.Join(root, "network", "*", "leases", "*"))
			assert.Empty(t, leases, labtest.Hint("no address lease may remain"))
		}()
		before.AssertUnchanged(t, labtest.Hint("no mount, cgroup, veth, address or iptables rule may remain"))
		out, _ := exec.Command("ip", "netns", "list").Output()
		assert.Empty(t, strings.TrimSpace(string(out)), labtest.Hint("no named network namespace may remain"))
	})
}

// TestUsage checks that 08-engine prints its usage, with no arguments, in the learner's language: English by default, Korean under LANG=ko_KR.UTF-8.
func TestUsage(t *testing.T) { labtest.RunUsage(t, lab, 0) }

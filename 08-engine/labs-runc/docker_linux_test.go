package main_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"containerlabs/labs/labtest"
	"containerlabs/labs/rootfs"
)

// dockerd is a Docker daemon of the test's own, on a containerd of the test's own, with
// labs-runc as its default runtime. Everything it keeps is under the test's directory: data
// root, exec root (where the runtime's state goes too), pidfile, socket, config. It manages
// no iptables rules and no forwarding sysctl: its containers get a bridge the test makes,
// with a subnet of its own, and a published port is served by docker-proxy, the userland
// proxy, which accepts on 127.0.0.1 and connects to the container through the bridge.
type dockerd struct {
	*daemon
	t                       *testing.T
	dir, sock, cgroupParent string
	bridge                  string
	subnet                  *net.IPNet
}

func startDockerd(t *testing.T, runtimePath string, ctrd *containerd) *dockerd {
	for _, tool := range []string{"dockerd", "docker", "docker-proxy"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: apt-get install docker.io (scripts/test.sh does)", tool)
		}
	}
	proxy, _ := exec.LookPath("docker-proxy")
	suffix := strings.TrimPrefix(newID(), "labs-runc-test-")
	d := &dockerd{t: t, dir: ctrd.dir, bridge: "labsdkr" + suffix[:6],
		cgroupParent: "/containerlabs-test-docker-" + suffix}
	d.sock = filepath.Join(d.dir, "docker.sock")
	d.makeBridge()
	// dockerd makes these whatever its flags say.
	removeIfCreated(t, "/run/docker", "/run/docker/plugins")
	// The key dockerd 20.10 still generates goes here too, not to /etc/docker.
	config := fmt.Sprintf(`{"deprecated-key-path": %q}`, filepath.Join(d.dir, "key.json"))
	configFile := filepath.Join(d.dir, "daemon.json")
	require.NoError(t, os.WriteFile(configFile, []byte(config), 0o644))
	d.daemon = startDaemon(t, d.dir, "dockerd",
		"--config-file", configFile,
		"--data-root", filepath.Join(d.dir, "docker"),
		"--exec-root", filepath.Join(d.dir, "docker-exec"),
		"--pidfile", filepath.Join(d.dir, "docker.pid"),
		"--host", "unix://"+d.sock,
		"--containerd", ctrd.sock,
		"--cgroup-parent", d.cgroupParent,
		"--bridge", d.bridge,
		"--iptables=false", "--ip-forward=false", "--ip-masq=false",
		"--userland-proxy=true", "--userland-proxy-path", proxy,
		"--add-runtime", "labs="+runtimePath, "--default-runtime", "labs")
	d.awaitReady(func() bool { return d.docker("version").Code == 0 })
	return d
}

// makeBridge creates the bridge dockerd attaches its containers to (dockerd creates only
// its default docker0 itself), with the first address of a free 10.199.X.0/24, and removes
// it when the test ends.
//
// Equivalent to: `ip link add NAME type bridge && ip addr add 10.199.X.1/24 dev NAME &&
// ip link set NAME up`.
func (d *dockerd) makeBridge() {
	t := d.t
	used, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	require.NoError(t, err)
	for tries := 0; d.subnet == nil && tries < 20; tries++ {
		x, _ := rand.Int(rand.Reader, big.NewInt(50))
		_, subnet, _ := net.ParseCIDR(fmt.Sprintf("10.199.%d.0/24", 200+x.Int64()))
		free := true
		for _, a := range used {
			free = free && !subnet.Contains(a.IP) && !a.IPNet.Contains(subnet.IP)
		}
		if free {
			d.subnet = subnet
		}
	}
	require.NotNil(t, d.subnet, "no free 10.199.200-249.0/24 subnet on this host")
	bridge := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: d.bridge}}
	require.NoError(t, netlink.LinkAdd(bridge), "make bridge %s", d.bridge)
	t.Cleanup(func() {
		if err := netlink.LinkDel(bridge); err != nil {
			t.Errorf("remove bridge %s: %v", d.bridge, err)
		}
	})
	gateway := &net.IPNet{IP: append(net.IP(nil), d.subnet.IP.To4()...), Mask: d.subnet.Mask}
	gateway.IP[3] = 1
	// No IPv6 link-local address: the checks compare the host's addresses before and after.
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+d.bridge+"/disable_ipv6", []byte("1"), 0)
	require.NoError(t, netlink.AddrAdd(bridge, &netlink.Addr{IPNet: gateway}))
	require.NoError(t, netlink.LinkSetUp(bridge))
}

// docker runs the docker client against the test's daemon, with a client configuration of
// the test's own.
func (d *dockerd) docker(args ...string) labtest.Result {
	d.t.Helper()
	return labtest.Command(d.t, labtest.Options{Timeout: 90 * time.Second,
		Env: []string{"DOCKER_HOST=unix://" + d.sock, "DOCKER_CONFIG=" + filepath.Join(d.dir, "client")}},
		"docker", args...)
}

// dockerTerminal runs the docker client inside script(1), which gives it the terminal that
// `docker run -t` and `docker exec -t` want.
func (d *dockerd) dockerTerminal(args ...string) labtest.Result {
	d.t.Helper()
	line := "docker " + strings.Join(args, " ")
	return labtest.Command(d.t, labtest.Options{Timeout: 90 * time.Second,
		Env: []string{"DOCKER_HOST=unix://" + d.sock, "DOCKER_CONFIG=" + filepath.Join(d.dir, "client")}},
		"script", "-qec", line, "/dev/null")
}

// TestDocker drives labs-runc through Docker's daemon, the way most people meet a runtime:
// dockerd asks containerd's runc shim to run it (`--add-runtime labs=PATH`). Docker's spec
// is the most demanding config labs-runc gets: zero-valued resources that mean "unset", a
// prestart hook (libnetwork-setkey) that reads the container's state on stdin and asks
// dockerd to plug the network in, seccomp, sysctls, masked and read-only paths, device
// rules.
func TestDocker(t *testing.T) {
	labtest.RequireRoot(t)
	bin := binary(t)
	if _, err := rootfs.FindBusybox(); err != nil {
		t.Skip(err)
	}
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) is missing: apt-get install bsdutils")
	}
	before := labtest.TakeSnapshot(t)
	ctrd := startContainerd(t)
	d := startDockerd(t, bin.Path, ctrd)
	res := d.docker("load", "--input", busyboxArchive(t, d.dir, "busybox for the Docker check"))
	require.Equal(t, 0, res.Code, labtest.Hint("docker load reads the docker-archive labs/image wrote").With(res))

	t.Run("dockerd reads the runtime's version", func(t *testing.T) {
		res := d.docker("info", "--format", "{{.DefaultRuntime}} {{.RuncCommit.ID}}")
		require.Equal(t, 0, res.Code, res.String())
		fields := strings.Fields(res.Stdout)
		require.Len(t, fields, 2, labtest.Hint("dockerd runs `labs-runc --version` and reads its commit: line").With(res))
		assert.Equal(t, "labs", fields[0])
		assert.NotEqual(t, "N/A", fields[1], labtest.Hint("`labs-runc --version` must print a line `commit: ID`").With(res))
	})

	t.Run("run --rm prints the output, in the cgroup and network Docker asked for", func(t *testing.T) {
		// --cgroupns host: on cgroup v2 Docker gives the container a cgroup namespace, and
		// /proc/self/cgroup would say only "/".
		res := d.docker("run", "--rm", "--cgroupns", "host", imageRef, "sh", "-c", "echo hello from docker; cat /proc/self/cgroup; ip -4 -o addr show eth0")
		require.Equal(t, 0, res.Code, labtest.Hint("Docker's spec has zero-valued resources (blockIO.weight 0, cpu.shares 0) that mean unset").With(res))
		assert.Contains(t, res.Stdout, "hello from docker\n")
		assert.Regexp(t, `(?m)^\d+:(memory|):`+d.cgroupParent+`/[0-9a-f]{64}$`, res.Stdout,
			labtest.Hint("the container is in the cgroup dockerd names: --cgroup-parent/ID").With(res))
		prefix := strings.TrimSuffix(d.subnet.IP.String(), "0")
		assert.Contains(t, res.Stdout, "inet "+prefix, labtest.Hint(
			"eth0 gets its address from dockerd, through the prestart hook libnetwork-setkey: it needs the state (id, pid) on its stdin").With(res))
	})

	t.Run("run passes the exit status on", func(t *testing.T) {
		res := d.docker("run", "--rm", imageRef, "sh", "-c", "exit 7")
		assert.Equal(t, 7, res.Code, labtest.Hint("the shim reports the init's exit status to dockerd").With(res))
		res = d.docker("run", "--rm", imageRef, "no-such-command")
		assert.Equal(t, 127, res.Code, labtest.Hint("a command that is not in the image: 127").With(res))
	})

	t.Run("run -t gives the process a terminal", func(t *testing.T) {
		res := d.dockerTerminal("run", "--rm", "-t", imageRef, "sh", "-c", "'tty; echo done'")
		require.Equal(t, 0, res.Code, labtest.Hint("create sends the pty master over --console-socket").With(res))
		assert.Contains(t, res.Stdout, "/dev/pts/0")
		assert.Contains(t, res.Stdout, "done")
	})

	// A detached container for exec, logs, top and a graceful stop: its shell traps TERM.
	const script = `trap "echo got TERM; exit 0" TERM; echo started; while true; do sleep 0.2 & wait $!; done`
	t.Run("run -d, exec, logs and top", func(t *testing.T) {
		res := d.docker("run", "-d", "--name", "trapper", imageRef, "sh", "-c", script)
		require.Equal(t, 0, res.Code, res.String())
		require.True(t, waitFor(func() bool { return strings.Contains(d.docker("logs", "trapper").Stdout, "started") }),
			labtest.Hint("docker logs shows what the container printed"))

		res = d.docker("exec", "trapper", "sh", "-c", "echo in exec; ps -o pid,args; exit 4")
		assert.Equal(t, 4, res.Code, labtest.Hint("docker exec reports the process's exit status").With(res))
		assert.Contains(t, res.Stdout, "in exec\n")
		assert.Regexp(t, `(?m)^\s+1 sh -c trap`, res.Stdout, labtest.Hint("exec joins the container's PID namespace"))

		res = d.dockerTerminal("exec", "-t", "trapper", "tty")
		assert.Equal(t, 0, res.Code, res.String())
		assert.Contains(t, res.Stdout, "/dev/pts/", labtest.Hint("exec -t gets a terminal of its own through --console-socket").With(res))

		res = d.docker("top", "trapper")
		require.Equal(t, 0, res.Code, res.String())
		assert.Contains(t, res.Stdout, "sh -c trap", labtest.Hint("docker top lists the processes of the container's cgroup").With(res))
	})

	t.Run("stop is graceful: the process sees SIGTERM", func(t *testing.T) {
		start := time.Now()
		res := d.docker("stop", "--time", "20", "trapper")
		require.Equal(t, 0, res.Code, res.String())
		assert.Less(t, time.Since(start), 15*time.Second, labtest.Hint("the trap exits at once: stop must not wait for its SIGKILL"))
		assert.Contains(t, d.docker("logs", "trapper").Stdout, "got TERM", labtest.Hint("kill passes SIGTERM on to the container's PID 1"))
		assert.Equal(t, "0", strings.TrimSpace(d.docker("inspect", "--format", "{{.State.ExitCode}}", "trapper").Stdout))
	})

	t.Run("kill ends the container with 137", func(t *testing.T) {
		res := d.docker("run", "-d", "--name", "sleeper", imageRef, "sleep", "600")
		require.Equal(t, 0, res.Code, res.String())
		res = d.docker("kill", "sleeper")
		require.Equal(t, 0, res.Code, res.String())
		res = d.docker("wait", "sleeper")
		assert.Equal(t, "137", strings.TrimSpace(res.Stdout), labtest.Hint("SIGKILL: 128+9").With(res))
	})

	t.Run("rm removes the containers", func(t *testing.T) {
		res := d.docker("rm", "trapper", "sleeper")
		require.Equal(t, 0, res.Code, res.String())
		assert.Empty(t, strings.TrimSpace(d.docker("ps", "--all", "--quiet").Stdout))
		entries, _ := os.ReadDir(filepath.Join(d.dir, "docker-exec", "runtime-labs", "moby"))
		assert.Empty(t, entries, labtest.Hint("the runtime's state directories are removed"))
	})

	t.Run("a published port answers on 127.0.0.1", func(t *testing.T) {
		res := d.docker("run", "-d", "--name", "web", "--publish", "127.0.0.1::8080", imageRef,
			"sh", "-c", "mkdir -p /www && echo hello through the port > /www/index.html && exec httpd -f -p 8080 -h /www")
		require.Equal(t, 0, res.Code, res.String())
		defer d.docker("rm", "--force", "web")
		res = d.docker("port", "web", "8080/tcp")
		require.Equal(t, 0, res.Code, res.String())
		hostPort := strings.TrimSpace(strings.Split(res.Stdout, "\n")[0])
		require.True(t, strings.HasPrefix(hostPort, "127.0.0.1:"), res.String())
		var body string
		ok := waitFor(func() bool {
			resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + hostPort + "/")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			body = string(data)
			return resp.StatusCode == http.StatusOK
		})
		require.True(t, ok, labtest.Hint("docker-proxy accepts on %s and connects to the container over the bridge", hostPort))
		assert.Equal(t, "hello through the port\n", body)
	})

	t.Run("nothing is left behind", func(t *testing.T) {
		assert.Empty(t, strings.TrimSpace(d.docker("ps", "--all", "--quiet").Stdout))
		var info struct{ Containers int }
		_ = json.Unmarshal([]byte(d.docker("info", "--format", "{{json .}}").Stdout), &info)
		assert.Zero(t, info.Containers)
		d.stop()
		ctrd.stop()
		assert.Empty(t, shimsOf(ctrd.sock), labtest.Hint("every shim exits once its container is removed"))
		assert.Empty(t, processesWith("docker-proxy", strings.TrimSuffix(d.subnet.IP.String(), "0")),
			labtest.Hint("dockerd stops the userland proxy of each published port"))
		matches, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", d.cgroupParent))
		assert.Empty(t, matches, labtest.Hint("the containers' cgroups, and the parent the runtime made, are removed"))
		assert.Empty(t, labtest.MountsUnder(t, d.dir), labtest.Hint("no mount is left under the daemons' directories"))
		// The bridge is the test's own and goes with its cleanup; everything else of the
		// host is as before: no iptables rule, no veth, no address, no mount, no cgroup.
		after := before
		after.Links = append(append([]string(nil), before.Links...), d.bridge)
		after.Addresses = append(append([]string(nil), before.Addresses...), d.bridge+" "+gatewayOf(d.subnet))
		after.AssertUnchanged(t, labtest.Hint("dockerd runs with --iptables=false and a bridge of the test's own"))
	})
}

// gatewayOf is the first address of subnet, with its prefix length, as `ip -o addr` shows it.
func gatewayOf(subnet *net.IPNet) string {
	ip := append(net.IP(nil), subnet.IP.To4()...)
	ip[3] = 1
	ones, _ := subnet.Mask.Size()
	return fmt.Sprintf("%s/%d", ip, ones)
}

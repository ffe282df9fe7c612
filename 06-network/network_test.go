package main_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
	"containerlabs/labs/state"
)

const lab = "06-network"

// The checks use a bridge and subnet of their own, so a learner's labs0 is never touched.
const (
	bridge  = "cltest06"
	subnet  = "10.199.6.0/24"
	gateway = "10.199.6.1"
)

// netArgs are the flags every check's run gets.
var netArgs = []string{"--bridge", bridge, "--subnet", subnet}

// setup gives a check a state root and a busybox layer with a web page in /www, and
// removes the network when the check ends.
func setup(t *testing.T, bin *labtest.Binary) (layer string) {
	layer = labtest.BusyboxRoot(t)
	require.NoError(t, os.MkdirAll(filepath.Join(layer, "www"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(layer, "www/index.html"), []byte("hello from the container\n"), 0o644))
	root := labtest.TempDir(t)
	t.Setenv(state.EnvRoot, root)
	t.Cleanup(func() { bin.Run(t, append([]string{"cleanup"}, netArgs...)...) })
	return layer
}

func runArgs(layer, name string, extra ...string) []string {
	args := append([]string{"run", "--layer", layer, "--name", name}, netArgs...)
	return append(args, extra...)
}

// webServer starts a container serving /www with busybox httpd on port 80, and returns it
// with its address as the lab reported it.
func webServer(t *testing.T, bin *labtest.Binary, layer, name string, extra ...string) (*labtest.Process, string) {
	args := runArgs(layer, name, extra...)
	args = append(args, "sh", "-c", "httpd -p 80 -h /www && echo serving && sleep 60")
	p := bin.Start(t, args...)
	p.Await(t, "serving", labtest.Hint("the web container should start busybox httpd"))
	return p, addressOf(t, p.Stderr())
}

var addressPattern = regexp.MustCompile(`(10\.199\.6\.\d+)/24`)

func addressOf(t *testing.T, stderr string) string {
	m := addressPattern.FindStringSubmatch(stderr)
	require.NotNil(t, m, labtest.Hint("print the container's address (\"NAME is 10.88.0.2/16 on labs0\") on stderr").With(stderr))
	return m[1]
}

func stop(t *testing.T, p *labtest.Process) {
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	p.Wait(10 * time.Second)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func get(url string) (string, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// Debian's busybox-static 1.35 wget crashes when given -T; the checks bound it with
// timeout(1) instead.

// TestLab06 holds the graded checks of lab 06. Each subtest is one check.
func TestLab06(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("eth0 inside pairs with a veth on the host's bridge", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		layer := setup(t, bin)
		p := bin.Start(t, append(runArgs(layer, "paired"), "sh", "-c", "cat /sys/class/net/eth0/ifindex /sys/class/net/eth0/iflink; echo ready; sleep 30")...)
		p.Await(t, "ready", labtest.Hint("the container should start"))
		fields := strings.Fields(p.Stdout())
		require.Len(t, fields, 3, labtest.Hint("the container needs an eth0").With(p.Stdout()))
		inside, _ := strconv.Atoi(fields[0])
		peer, err := net.InterfaceByIndex(mustAtoi(fields[1]))
		require.NoError(t, err, labtest.Hint("eth0's peer (its iflink) must be an interface on the host"))
		data, err := os.ReadFile(filepath.Join("/sys/class/net", peer.Name, "iflink"))
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(inside), strings.TrimSpace(string(data)), labtest.Hint("eth0 and the host veth must be the two ends of one pair"))
		master, err := os.Readlink(filepath.Join("/sys/class/net", peer.Name, "master"))
		assert.NoError(t, err, labtest.Hint("the host end must be attached to the bridge"))
		assert.Equal(t, bridge, filepath.Base(master), labtest.Hint("attach the host end to the bridge named by --bridge"))
		stop(t, p)
	})

	t.Run("a container reaches its gateway", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		layer := setup(t, bin)
		res := bin.Run(t, append(runArgs(layer, "pinger"), "ping", "-c", "1", "-W", "3", gateway)...)
		assert.Equal(t, 0, res.Code, labtest.Hint("give eth0 an address in the subnet, bring it up, and route via the bridge's address").With(res))
	})

	t.Run("two containers reach each other", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		layer := setup(t, bin)
		web, addr := webServer(t, bin, layer, "web")
		res := bin.Run(t, append(runArgs(layer, "client"), "timeout", "5", "wget", "-q", "-O", "-", "http://"+addr+"/")...)
		assert.Equal(t, "hello from the container\n", res.Stdout, labtest.Hint("both containers' veths must be on the same bridge, with distinct addresses").With(res))
		stop(t, web)
	})

	t.Run("a published port answers on 127.0.0.1", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		layer := setup(t, bin)
		port := freePort(t)
		web, _ := webServer(t, bin, layer, "published", "--publish", fmt.Sprintf("%d:80", port))
		body, err := get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		assert.NoError(t, err, labtest.Hint("DNAT the host port to the container in OUTPUT too (locally made traffic), with route_localnet and a MASQUERADE for 127.0.0.1"))
		assert.Equal(t, "hello from the container\n", body)
		stop(t, web)
	})

	t.Run("no-icc blocks container to container but not the published port", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		layer := setup(t, bin)
		port := freePort(t)
		web, addr := webServer(t, bin, layer, "isolated", "--no-icc", "--publish", fmt.Sprintf("%d:80", port))
		// The kernel's record of the bridge port: isolated ports forward only to the others.
		m := regexp.MustCompile(`on the host "(?:\d+: )?([^"@]+)`).FindStringSubmatch(web.Stderr())
		require.NotNil(t, m, labtest.Hint("say which host link the container got (`on the host \"vethX\"`)").With(web.Stderr()))
		isolated, err := os.ReadFile(filepath.Join("/sys/class/net", m[1], "brport/isolated"))
		require.NoError(t, err, labtest.Hint("the host end %s must be a port of the bridge", m[1]))
		assert.Equal(t, "1", strings.TrimSpace(string(isolated)), labtest.Hint("with --no-icc, set the bridge port's isolated flag (IFLA_BRPORT_ISOLATED, `bridge link set dev %s isolated on`)", m[1]))
		// The neighbour proves its network works (the gateway answers) before it tries the web.
		res := bin.Run(t, append(runArgs(layer, "neighbour", "--no-icc"), "sh", "-c",
			"ping -c 1 -W 3 "+gateway+" >/dev/null && echo reached the gateway; timeout 3 wget -q -O - http://"+addr+"/ && echo reached the web")...)
		assert.Contains(t, res.Stdout, "reached the gateway", labtest.Hint("the neighbour must start and reach its gateway: --no-icc blocks containers, not the host").With(res))
		assert.NotContains(t, res.Stdout, "reached the web", labtest.Hint("with --no-icc, containers on the bridge must not reach each other (bridge port isolation)").With(res))
		body, err := get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		assert.NoError(t, err, labtest.Hint("--no-icc must not block a published port"))
		assert.Equal(t, "hello from the container\n", body)
		stop(t, web)
	})

	t.Run("10 concurrent starts get 10 distinct addresses", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		layer := setup(t, bin)
		var wg sync.WaitGroup
		results := make([]labtest.Result, 10)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = bin.Run(t, append(runArgs(layer, fmt.Sprintf("many%d", i)), "sh", "-c", "ip -o -4 addr show eth0; sleep 1")...)
			}()
		}
		wg.Wait()
		seen := map[string]string{}
		for i, res := range results {
			m := addressPattern.FindStringSubmatch(res.Stdout)
			if !assert.NotNil(t, m, labtest.Hint("every container gets an address on eth0").With(res)) {
				continue
			}
			assert.Empty(t, seen[m[1]], labtest.Hint("two containers got %s: lock the address book while allocating", m[1]))
			seen[m[1]] = fmt.Sprint(i)
		}
		assert.Len(t, seen, 10)
	})

	t.Run("after exit no veth, lease or rule remains", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		layer := setup(t, bin)
		// The bridge and the network's own rules stay between containers, as docker0's do.
		res := bin.Run(t, append(runArgs(layer, "first"), "true")...)
		require.Equal(t, 0, res.Code, labtest.Hint("a container should run").With(res))
		before := labtest.TakeSnapshot(t)
		res = bin.Run(t, append(runArgs(layer, "second", "--publish", fmt.Sprintf("%d:80", freePort(t))), "sh", "-c", "sleep 30 & exit 0")...)
		require.Equal(t, 0, res.Code, labtest.Hint("a container should run").With(res))
		before.AssertUnchanged(t, labtest.Hint("remove the container's veth, its published-port rules and its lease when it ends"))
		leases, _ := filepath.Glob(filepath.Join(os.Getenv(state.EnvRoot), "network", "*", "leases", "*"))
		assert.Empty(t, leases, labtest.Hint("release the container's address when it ends"))
	})

	t.Run("cleanup leaves the host as it was", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		before := labtest.TakeSnapshot(t)
		forward, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
		require.NoError(t, err)
		layer := setup(t, bin)
		res := bin.Run(t, append(runArgs(layer, "one", "--publish", fmt.Sprintf("%d:80", freePort(t))), "true")...)
		require.Equal(t, 0, res.Code, labtest.Hint("a container should run").With(res))
		res = bin.Run(t, append([]string{"cleanup"}, netArgs...)...)
		require.Equal(t, 0, res.Code, labtest.Hint("`06-network cleanup` removes the bridge and its rules").With(res))
		before.AssertUnchanged(t, labtest.Hint("cleanup must remove the bridge, every chain and rule, and the network's state"))
		after, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
		require.NoError(t, err)
		assert.Equal(t, string(forward), string(after), labtest.Hint("cleanup must put ip_forward back as it found it"))
	})
}

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// TestUsage checks that 06-network prints its usage, with no arguments, in the learner's language: English by default, Korean under LANG=ko_KR.UTF-8.
func TestUsage(t *testing.T) { labtest.RunUsage(t, lab, 2) }

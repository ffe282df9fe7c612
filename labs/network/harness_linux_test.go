package network_test

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"containerlabs/labs/labtest"
	"containerlabs/labs/network"
)

// envHelper makes the test binary play a separate process that allocates an address (see
// TestMain), for the tests of concurrent starts and of stale leases.
const envHelper = "CONTAINERLABS_NETWORK_TEST_HELPER"

// The tests play the host in a network namespace of their own (envPrivateHost marks the
// test binary re-executed into it), unless CONTAINERLABS_NETWORK_TEST_ROOTNS=1 asks for
// the host's real one. A private host has its own interfaces, iptables tables, IP
// forwarding setting and loopback, so these tests can run next to the lab's graded checks,
// which change the same host-wide settings (ip_forward above all) in the root namespace,
// and whatever they do, they cannot leave anything behind on the host.
const (
	envPrivateHost = "CONTAINERLABS_NETWORK_TEST_PRIVATE_HOST"
	envRootNS      = "CONTAINERLABS_NETWORK_TEST_ROOTNS"
)

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(envHelper) != "":
		os.Exit(helper(os.Getenv(envHelper)))
	case os.Geteuid() == 0 && os.Getenv(envRootNS) != "1" && os.Getenv(envPrivateHost) == "":
		os.Exit(runInPrivateHost())
	case os.Getenv(envPrivateHost) != "":
		// A new namespace's loopback is down, and the tests use 127.0.0.1.
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bring lo up in the tests' private host namespace:", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// runInPrivateHost runs the test binary again, with the same arguments, in a new network
// namespace, and returns its exit status.
func runInPrivateHost() int {
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Env = append(os.Environ(), envPrivateHost+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	err := cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "run the tests in a private host network namespace:", err)
		return 1
	}
	return 0
}

// helper allocates an address for owner ("BRIDGE SUBNET STATEDIR OWNER [HOST:CONTAINER]"),
// publishes the port if one is given, prints the address, and holds the lease until its
// standard input closes; then it exits without releasing, as a killed start would.
func helper(spec string) int {
	f := strings.Fields(spec)
	n, err := network.New(f[0], f[1], f[2])
	if err == nil {
		var lease *network.Lease
		lease, err = n.Allocate(f[3], netip.Addr{})
		if err == nil && len(f) > 4 {
			var port network.Port
			if port, err = network.ParsePort(f[4]); err == nil {
				err = n.Publish(lease, []network.Port{port})
			}
		}
		if err == nil {
			fmt.Println(lease.Address)
			_, _ = io.Copy(io.Discard, os.Stdin)
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// startHelper starts a helper process; closing the returned writer makes it exit.
func startHelper(t *testing.T, spec string) (*exec.Cmd, io.WriteCloser, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"="+spec)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	return cmd, stdin, bufio.NewReader(stdout)
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

func randomInt(t testing.TB, max int64) int {
	v, err := rand.Int(rand.Reader, big.NewInt(max))
	require.NoError(t, err)
	return int(v.Int64())
}

// testNet is a network made for one test.
type testNet struct {
	*network.Network
	t *testing.T
	// markers are strings that only this test's objects show in `ip` and iptables listings.
	mu      sync.Mutex
	markers []string
}

// newNetwork makes a network with a bridge name and a 10.x.y.0/24 subnet of its own (never
// the labs' 10.88.0.0/16), a state directory in a temp dir, its bridge and NAT. When the
// test ends, Cleanup removes it, and the host must be as it was (see checkHostRestored).
func newNetwork(t *testing.T) *testNet {
	t.Helper()
	return newNetworkWith(t, func(*network.Network) {})
}

// newNetworkWith is newNetwork with the network's settings (Internal, Isolated) changed by
// set before its bridge and rules are made.
func newNetworkWith(t *testing.T, set func(*network.Network)) *testNet {
	t.Helper()
	labtest.RequireRoot(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("needs the iptables command (apt-get install iptables)")
	}
	bridge := "cltest" + randomHex(t, 3)
	subnet := freeSubnet(t)
	n, err := network.New(bridge, subnet.String(), t.TempDir())
	require.NoError(t, err)
	set(n)
	tn := &testNet{Network: n, t: t}
	tn.mark(bridge, "CLABS-"+bridge, subnetMarker(subnet))
	before := hostState(t)
	t.Cleanup(func() {
		_, err := n.Cleanup()
		assert.NoError(t, err, "Cleanup")
		tn.checkHostRestored(before)
	})
	require.NoError(t, n.EnsureBridge())
	require.NoError(t, n.EnsureNAT())
	return tn
}

func (tn *testNet) mark(markers ...string) {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	tn.markers = append(tn.markers, markers...)
}

// subnetMarker is the text every address of a /24 starts with ("10.123.45.").
func subnetMarker(p netip.Prefix) string {
	return strings.TrimSuffix(p.Addr().String(), "0")
}

// freeSubnet picks a random 10.x.y.0/24 that no route of the host touches.
func freeSubnet(t *testing.T) netip.Prefix {
	t.Helper()
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	require.NoError(t, err)
	for {
		p := netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/24", 100+randomInt(t, 150), randomInt(t, 256)))
		free := true
		for _, r := range routes {
			if r.Dst != nil {
				dst, _ := netip.AddrFromSlice(r.Dst.IP)
				bits, _ := r.Dst.Mask.Size()
				free = free && (bits == 0 || !netip.PrefixFrom(dst.Unmap(), bits).Overlaps(p))
			}
		}
		if free {
			return p
		}
	}
}

// hostState is what the host shows of its links, addresses, routes and rules (filter and
// nat tables, without counters), one item a line, and its IP forwarding setting.
func hostState(t *testing.T) []string {
	t.Helper()
	var lines []string
	for _, args := range [][]string{
		{"ip", "-o", "link"}, {"ip", "-o", "addr"}, {"ip", "-o", "route"},
		{"iptables-save", "-t", "filter"}, {"iptables-save", "-t", "nat"}, {"iptables-save", "-t", "mangle"},
	} {
		out, err := exec.Command(args[0], args[1:]...).Output()
		require.NoError(t, err, "%v", args)
		for line := range strings.SplitSeq(string(out), "\n") {
			if line != "" && !strings.HasPrefix(line, "#") {
				lines = append(lines, counters.ReplaceAllString(line, "[0:0]"))
			}
		}
	}
	forward, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	require.NoError(t, err)
	return append(lines, "ip_forward="+strings.TrimSpace(string(forward)))
}

var counters = regexp.MustCompile(`\[\d+:\d+\]`)

// checkHostRestored compares the host's state with the one before the test. In the root
// namespace, other programs may change the host meanwhile, so only the lines that show this
// test's objects (bridge, veths, subnets, chains) are compared, and the IP forwarding
// setting. Interfaces of a dead namespace go away asynchronously, so the check
// retries for a few seconds.
func (tn *testNet) checkHostRestored(before []string) {
	t := tn.t
	t.Helper()
	want := tn.ours(before)
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		got = tn.ours(hostState(t))
		if assert.ObjectsAreEqual(want, got) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	assert.Equal(t, want, got, "the host is not as the test found it")
}

func (tn *testNet) ours(state []string) []string {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	var lines []string
	for _, line := range state {
		if strings.HasPrefix(line, "ip_forward=") || slices.ContainsFunc(tn.markers, func(m string) bool {
			return strings.Contains(line, m)
		}) {
			lines = append(lines, line)
		}
	}
	return lines
}

// container is a network namespace that plays a container: a goroutine locked to an OS
// thread that has unshared its network namespace. Code passed to do runs on that thread,
// so sockets it opens and netlink requests it makes belong to the namespace. The thread's
// ID names the namespace for Connect, as the PID of a container's init does (the kernel
// looks both up alike). When the test ends, the goroutine returns while still locked, so
// the Go runtime ends the thread, and the namespace dies with it.
type container struct {
	name string
	tid  int
	jobs chan func()
}

func newContainer(t *testing.T, name string) (*container, error) {
	c := &container{name: name, jobs: make(chan func())}
	ready := make(chan error)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- fmt.Errorf("unshare the network namespace: %w", err)
			return
		}
		c.tid = unix.Gettid()
		ready <- nil
		for job := range c.jobs {
			job()
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	t.Cleanup(func() { close(c.jobs) })
	return c, nil
}

// do runs f inside the container's network namespace.
func (c *container) do(f func() error) error {
	done := make(chan error)
	c.jobs <- func() { done <- f() }
	return <-done
}

// attached is a container plugged into a test network.
type attached struct {
	*container
	lease    *network.Lease
	endpoint *network.Endpoint
}

// attach does the parent's half and the child's for a new container: an address, a veth
// pair, and the configuration inside. Everything is undone when the test ends.
func (tn *testNet) attach(name string, isolated bool) *attached {
	tn.t.Helper()
	c, err := tn.tryAttach(name, isolated)
	require.NoError(tn.t, err, "attach %s", name)
	return c
}

// tryAttach is attach for goroutines other than the test's, which must not stop the test.
func (tn *testNet) tryAttach(name string, isolated bool) (*attached, error) {
	t := tn.t
	c, err := newContainer(t, name)
	if err != nil {
		return nil, err
	}
	lease, err := tn.Allocate(name, netip.Addr{})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { assert.NoError(t, lease.Release()) })
	ep, err := tn.Connect(c.tid, isolated)
	if err != nil {
		return nil, err
	}
	tn.mark(ep.HostName)
	t.Cleanup(func() { assert.NoError(t, ep.Remove()) })
	if err := c.do(func() error { return network.ConfigureInside(lease.Inside()) }); err != nil {
		return nil, err
	}
	return &attached{container: c, lease: lease, endpoint: ep}, nil
}

// serve listens on port inside the container and answers each connection with one line:
// the container's name and the address the connection came from, as the container sees it.
func (c *container) serve(t *testing.T, port int) {
	t.Helper()
	var ln net.Listener
	require.NoError(t, c.do(func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		return err
	}))
	t.Cleanup(func() { ln.Close() })
	go answer(ln, c.name)
}

func answer(ln net.Listener, name string) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		host, _, _ := net.SplitHostPort(conn.RemoteAddr().String())
		fmt.Fprintf(conn, "%s %s\n", name, host)
		conn.Close()
	}
}

// Dial timeouts. A connection that should work gets long enough for a lost first packet
// to be sent again (TCP retries a SYN after 1s): on a busy host the kernel may take a
// moment to start forwarding a new bridge port, and a test must not fail for it. A
// connection that should be blocked is given up on sooner; the tests first show that the
// container can connect at all, so its failure means the block, not a slow start.
const (
	reachTimeout   = 3 * time.Second
	blockedTimeout = time.Second
)

// ask connects to addr from the calling goroutine's network namespace and returns the line
// the server answered.
func ask(addr string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line), err
}

// ask connects to addr from inside the container.
func (c *container) ask(addr string, timeout time.Duration) (answer string, err error) {
	err = c.do(func() error {
		answer, err = ask(addr, timeout)
		return err
	})
	return answer, err
}

// freePort picks a port nothing on the host listens on.
func freePort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

package network

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A network for a rootless container: slirp4netns.
//
// An ordinary user may create network namespaces (in a user namespace of its own) but not
// connect them to anything: a veth's host end, a bridge and NAT rules live in the host's
// network namespace, where only root may change anything. slirp4netns connects a
// namespace without touching the host's network: it creates a TAP device (tap0) in the
// container's namespace, reads the Ethernet frames the container sends into it, and
// replays each TCP connection or UDP datagram as an ordinary socket of its own on the host,
// as any user's program may open (the TCP/IP stack that does this is libslirp, from QEMU's
// user-mode network). Replies come back the same way. Inside, the container sees a small
// network of its own: it is SlirpAddress, the gateway SlirpGateway, and SlirpDNS forwards
// to the host's resolver. Published ports work the other way round: slirp4netns listens on
// the host's port, as the user, and opens a connection into the container for each one it
// accepts. So a rootless container can publish only ports an ordinary user may listen on:
// from net.ipv4.ip_unprivileged_port_start (1024 unless the administrator lowered it).
//
// The price is speed (every packet crosses a user-space stack; the MTU of 65520 makes each
// crossing count) and transparency (the container's peers see connections from the host, not
// from the container's address). pasta (from the passt package) does the same job with
// less copying.

// The addresses of slirp4netns's network, as its --configure sets them.
var (
	SlirpAddress = netip.MustParseAddr("10.0.2.100")
	SlirpGateway = netip.MustParseAddr("10.0.2.2")
	SlirpDNS     = netip.MustParseAddr("10.0.2.3")
)

// SlirpSocket is the name of slirp4netns's API socket in the directory StartSlirp is given.
const SlirpSocket = "slirp4netns.sock"

// Slirp is the slirp4netns process of one container's network namespace.
type Slirp struct {
	cmd    *exec.Cmd
	dir    string
	output *bytes.Buffer
}

// StartSlirp connects the network namespace of process pid to the host through
// slirp4netns, and publishes ports on every host address. dir holds its API socket. The
// process is this one's child and ends with it (PR_SET_PDEATHSIG): a monitor killed with
// SIGKILL takes its container's network with it. The caller must run on a thread that
// lives as long as the process (the kernel sends the signal when the thread that started
// the child ends): Go's main thread, locked to its goroutine.
//
// Equivalent to: `slirp4netns --configure --mtu=65520 --disable-host-loopback PID tap0`,
// then an add_hostfwd request on its API socket per port.
func StartSlirp(pid int, dir string, ports []Port) (*Slirp, error) {
	path, err := SlirpUsable()
	if err != nil {
		return nil, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()
	s := &Slirp{dir: dir, output: &bytes.Buffer{}}
	// --disable-host-loopback: 10.0.2.2 does not lead to the host's 127.0.0.1, where
	// services that trust local users listen. --enable-sandbox: slirp4netns, which parses
	// every packet the container sends, runs in an empty root of its own.
	s.cmd = exec.Command(path, "--configure", "--mtu=65520", "--disable-host-loopback",
		"--enable-sandbox", "--enable-seccomp", "--ready-fd=3", "--api-socket="+SlirpSocket,
		strconv.Itoa(pid), "tap0")
	// The socket's full path may exceed the 108 bytes of a socket address; bound relative
	// to its working directory it never does.
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	s.cmd.ExtraFiles = []*os.File{readyW}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		readyW.Close()
		return nil, fmt.Errorf("start slirp4netns: %w", err)
	}
	readyW.Close()
	// slirp4netns writes "1" when tap0 is up and configured; it closes the pipe unwritten
	// if it fails.
	_ = readyR.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, _ := readyR.Read(make([]byte, 1)); n != 1 {
		s.Stop()
		return nil, fmt.Errorf("slirp4netns did not connect the network namespace of %d: %s", pid, bytes.TrimSpace(s.output.Bytes()))
	}
	for _, p := range ports {
		if err := s.forward(p); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// SlirpUsable checks that this user can run slirp4netns, and returns its path: it must be
// installed, and /dev/net/tun open to the user (Debian's udev rules make it 0666; a
// minimal system may leave it 0600, root's alone).
func SlirpUsable() (string, error) {
	path, err := exec.LookPath("slirp4netns")
	if err != nil {
		return "", fmt.Errorf("a rootless container's network needs slirp4netns (Debian package slirp4netns), or --network none or host: %w", err)
	}
	const tun = "/dev/net/tun"
	if err := unix.Access(tun, unix.R_OK|unix.W_OK); err != nil {
		return "", fmt.Errorf("slirp4netns needs to open %s, which this user may not (%v): an administrator makes it usable with chmod 0666 %s, as udev does on Debian; or use --network none or host", tun, err, tun)
	}
	return path, nil
}

// forward publishes p: slirp4netns listens on the host's port p.Host and forwards each
// connection (or datagram) to p.Container in the namespace.
func (s *Slirp) forward(p Port) error {
	type args struct {
		Proto     string `json:"proto"`
		HostAddr  string `json:"host_addr"`
		HostPort  uint16 `json:"host_port"`
		GuestPort uint16 `json:"guest_port"`
	}
	req := struct {
		Execute   string `json:"execute"`
		Arguments args   `json:"arguments"`
	}{"add_hostfwd", args{p.Proto, "0.0.0.0", p.Host, p.Container}}
	var resp struct {
		Error *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	if err := s.call(req, &resp); err != nil {
		return fmt.Errorf("publish %s: %w", p, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("publish %s: slirp4netns: %s", p, resp.Error.Desc)
	}
	return nil
}

// call sends one request to the API socket and decodes its answer. Each connection
// carries one request.
func (s *Slirp) call(req, resp any) error {
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Net: "unix", Name: fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), SlirpSocket)})
	if err != nil {
		return fmt.Errorf("connect to slirp4netns: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return err
	}
	_ = conn.CloseWrite()
	return json.NewDecoder(conn).Decode(resp)
}

// Stop ends slirp4netns and removes its socket. The container's namespace loses its
// connection; its listening ports on the host close.
func (s *Slirp) Stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	_ = os.Remove(filepath.Join(s.dir, SlirpSocket))
}

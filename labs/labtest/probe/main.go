//go:build linux

// Command probe is copied into containers by the graded checks. It performs the
// experiments the walkthroughs describe (use memory, fork, burn CPU) and the attacks of the
// escape gallery, and reports what happened in plain lines, so that a check does not
// depend on how busybox formats its output.
//
// It is built statically (CGO_ENABLED=0) so it runs in a root with no libraries at all.
//
//	probe hog MIB         allocate and touch MIB MiB of memory, reporting every 8 MiB
//	probe fork N          fork up to N sleeping children; report how many, and why it stopped
//	probe spin SECONDS    burn CPU for SECONDS of wall-clock time
//	probe sleep SECONDS [TAG] [--as UID]   sleep (a decoy or a target); TAG only marks the command line
//	probe arp-spoof IP    claim IP with a forged ARP reply on eth0 (needs a packet socket)
//	probe ping IP         one ICMP echo through a datagram socket, as iputils' ping sends it
//	probe syscall NAME    make a harmless call (io_uring_setup) and report its errno
//
// The attacks of the escape gallery (gallery.go) each end with one verdict line, "open:
// EVIDENCE" when the attack worked and "closed: WHAT STOPPED IT" when it did not. Every
// target is a decoy that the check made for the purpose: a marker file, a loop device, a
// key, a process, a copy of the lab's binary. Nothing else is written, and what is opened
// for writing on the host's kernel (a sysctl, the sysrq trigger) is closed unwritten.
package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"containerlabs/labs/labtest"
)

const usage = `usage: probe hog MIB | fork N | spin SECONDS | sleep SECONDS [TAG] [--as UID] |
       arp-spoof IP | ping IP | syscall NAME | ATTACK ARGS...
attacks: ` + attackNames

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	name, args := os.Args[1], os.Args[2:]
	var err error
	switch name {
	case "hog":
		err = withNumber(args, hog)
	case "fork":
		err = withNumber(args, fork)
	case "spin":
		err = withNumber(args, spin)
	case "sleep":
		err = sleep(args)
	case "arp-spoof", "ping", "syscall":
		if len(args) != 1 {
			err = fmt.Errorf("%s takes one argument\n%s", name, usage)
			break
		}
		err = map[string]func(string) error{"arp-spoof": arpSpoof, "ping": ping, "syscall": probeSyscall}[name](args[0])
	default:
		attack, ok := attacks[name]
		if !ok {
			err = fmt.Errorf("unknown probe %q\n%s", name, usage)
			break
		}
		if len(args) != attack.args {
			err = fmt.Errorf("%s takes %d argument(s)\n%s", name, attack.args, usage)
			break
		}
		err = attack.run(args)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(2)
	}
}

func withNumber(args []string, f func(int) error) error {
	if len(args) != 1 {
		return fmt.Errorf("want one number\n%s", usage)
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a number", args[0])
	}
	return f(n)
}

// hog allocates memory and writes to every page, so it is really charged to the cgroup
// (untouched pages cost nothing). Beyond a memory limit, the OOM killer ends it.
func hog(mib int) error {
	var chunks [][]byte
	for i := 1; i <= mib; i++ {
		chunk := make([]byte, 1<<20)
		for j := 0; j < len(chunk); j += 4096 {
			chunk[j] = 1
		}
		chunks = append(chunks, chunk)
		if i%8 == 0 {
			fmt.Printf("allocated %d MiB\n", i)
		}
	}
	fmt.Printf("open: survived with %d MiB, no limit stopped it\n", len(chunks))
	return nil
}

// fork starts sleeping children until n exist or the kernel refuses; a fork bomb without
// the bomb. It holds them for a second (so a check can look at the host meanwhile), then
// kills and reaps every one: without a PID namespace (labs 01 and 02) nobody else would.
func fork(n int) error {
	// No garbage collector and one P: the runtime must not need a new thread once the
	// group is full, or it would die of that instead of reporting the refused fork.
	debug.SetGCPercent(-1)
	goruntime.GOMAXPROCS(1)
	var children []int
	defer func() {
		for _, pid := range children {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		for _, pid := range children {
			_, _ = unix.Wait4(pid, nil, 0, nil)
		}
	}()
	for len(children) < n {
		pid, errno := labtest.ForkSleeper()
		if errno != 0 {
			fmt.Printf("closed: forked %d children, then refused: %v\n", len(children), errno)
			time.Sleep(time.Second) // hold the limit while the checks look at the host
			return nil
		}
		children = append(children, pid)
	}
	fmt.Printf("open: forked %d children, none refused\n", n)
	return nil
}

// spin keeps one CPU busy for the given wall-clock time; a CPU quota stretches it out.
func spin(seconds int) error {
	fmt.Println("spinning")
	end := time.Now().Add(time.Duration(seconds) * time.Second)
	x := 0
	for time.Now().Before(end) {
		for i := 0; i < 1000; i++ {
			x += i
		}
	}
	fmt.Println("done spinning", x%2)
	return nil
}

// sleep waits for SECONDS or a signal. With --as UID it first becomes that user, so it can
// be the target of the ptrace attack: a process of another user.
func sleep(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("sleep needs SECONDS\n%s", usage)
	}
	seconds, err := strconv.Atoi(args[0])
	if err != nil {
		return fmt.Errorf("%q is not a number", args[0])
	}
	for i := 1; i < len(args); i++ {
		if args[i] == "--as" && i+1 < len(args) {
			uid, err := strconv.Atoi(args[i+1])
			if err != nil {
				return fmt.Errorf("--as %q is not a uid", args[i+1])
			}
			if err := syscall.Setresgid(uid, uid, uid); err != nil {
				return fmt.Errorf("become gid %d: %w", uid, err)
			}
			if err := syscall.Setresuid(uid, uid, uid); err != nil {
				return fmt.Errorf("become uid %d: %w", uid, err)
			}
			i++
		}
	}
	// No handler: a SIGTERM ends the process as the kernel's default action, which its
	// parent (a check) can tell from the wait status.
	time.Sleep(time.Duration(seconds) * time.Second)
	return nil
}

// arpSpoof sends ARP replies on eth0 that say "IP is at my MAC", to the broadcast
// address: a neighbour that believes them sends IP's traffic here. It needs a packet
// socket, which only CAP_NET_RAW opens; without it, socket(2) fails with EPERM.
func arpSpoof(ip string) error {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is4() {
		return fmt.Errorf("%q is not an IPv4 address", ip)
	}
	eth0, err := net.InterfaceByName("eth0")
	if err != nil {
		return err
	}
	const ethPArp = 0x0806
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(ethPArp)))
	if err != nil {
		return fmt.Errorf("socket(AF_PACKET, SOCK_RAW): %w", err)
	}
	defer unix.Close(fd)
	broadcast := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	frame := make([]byte, 0, 42)
	frame = append(frame, broadcast...)
	frame = append(frame, eth0.HardwareAddr...)
	frame = binary.BigEndian.AppendUint16(frame, ethPArp)
	frame = binary.BigEndian.AppendUint16(frame, 1)      // hardware: Ethernet
	frame = binary.BigEndian.AppendUint16(frame, 0x0800) // protocol: IPv4
	frame = append(frame, 6, 4)
	frame = binary.BigEndian.AppendUint16(frame, 2) // an ARP reply
	target := addr.As4()
	frame = append(frame, eth0.HardwareAddr...) // sender: our MAC ...
	frame = append(frame, target[:]...)         // ... for the victim's address
	frame = append(frame, broadcast...)
	frame = append(frame, target[:]...)
	to := &unix.SockaddrLinklayer{Protocol: htons(ethPArp), Ifindex: eth0.Index, Halen: 6}
	copy(to.Addr[:], broadcast)
	for range 5 {
		if err := unix.Sendto(fd, frame, 0, to); err != nil {
			return fmt.Errorf("send the ARP reply: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Printf("told eth0's neighbours that %s is at %s\n", ip, eth0.HardwareAddr)
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// ping sends one ICMP echo request through an ICMP datagram socket, the kind iputils' ping
// opens when it has no CAP_NET_RAW, and waits for the reply. The kernel allows such a
// socket to the groups in net.ipv4.ping_group_range, writes the ICMP identifier and
// checksum itself, and sends nothing but echo requests: it cannot forge a frame.
// (busybox's ping only ever opens a raw socket, so it needs CAP_NET_RAW.)
func ping(ip string) error {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is4() {
		return fmt.Errorf("%q is not an IPv4 address", ip)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_ICMP)
	if err != nil {
		return fmt.Errorf("socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP): %w", err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5}); err != nil {
		return err
	}
	echo := []byte{8, 0, 0, 0, 0, 0, 0, 1, 'p', 'r', 'o', 'b', 'e'} // type 8: echo request, sequence 1
	if err := unix.Sendto(fd, echo, 0, &unix.SockaddrInet4{Addr: addr.As4()}); err != nil {
		return fmt.Errorf("send the echo request: %w", err)
	}
	buf := make([]byte, 1500)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return fmt.Errorf("no echo reply from %s: %w", ip, err)
	}
	if n < 8 || buf[0] != 0 {
		return fmt.Errorf("%s answered with ICMP type %d, not an echo reply", ip, buf[0])
	}
	fmt.Printf("echo reply from %s\n", ip)
	return nil
}

// probeSyscall makes a call that a seccomp filter may refuse, with arguments that make it
// fail harmlessly if it is allowed, and prints the errno the kernel returned: EPERM from a
// filter, something else (EFAULT, EINVAL) from the call itself.
func probeSyscall(name string) error {
	var errno unix.Errno
	switch name {
	case "io_uring_setup":
		_, _, errno = unix.Syscall(unix.SYS_IO_URING_SETUP, 0, 0, 0)
	default:
		return fmt.Errorf("the probe knows no call %q", name)
	}
	fmt.Printf("%s: %s\n", name, unix.ErrnoName(errno))
	return nil
}

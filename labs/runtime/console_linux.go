package runtime

import (
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"containerlabs/labs/mount"
	"containerlabs/labs/process"
)

// connectConsoleSocket connects to the caller's console socket, on the host side, before the
// process enters the container (where the socket's path is out of reach).
//
// Equivalent to: `socat - UNIX-CONNECT:PATH`.
func connectConsoleSocket(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect to the console socket %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// setupConsole gives the process a terminal: a new pseudo-terminal from the container's own
// devpts (/dev/ptmx inside), whose master end goes to whoever listens on the console socket
// (containerd's shim, which copies it to the user), and whose slave end becomes the
// process's stdin, stdout, stderr and controlling terminal. The master travels as an
// SCM_RIGHTS message: the kernel installs a copy of the descriptor in the receiver, the way
// runc's console socket protocol expects it (the message's payload is the name). The socket
// is closed once the master is sent: it is the caller's, and the process must not keep it.
// The slave end belongs to the process's user (its group stays devpts's gid= option, tty),
// so that a process that is not root can still set its own terminal's modes.
//
// Equivalent to: `posix_openpt; grantpt; unlockpt`, sendmsg(SCM_RIGHTS), `chown UID
// $(tty)`, `setsid`, dup2 onto 0, 1 and 2, and ioctl(TIOCSCTTY).
func setupConsole(socket int, size *specs.Box, console string, uid uint32) error {
	defer unix.Close(socket)
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open a pseudo-terminal: %w", err)
	}
	defer master.Close()
	mfd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock the pseudo-terminal: %w", err)
	}
	// TIOCGPTPEER opens the slave through the master, not by a /dev/pts path that a process
	// in the container could have replaced.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		return fmt.Errorf("open the terminal's slave end: %w", errno)
	}
	slave := int(r)
	if size != nil {
		ws := unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)}
		if err := unix.IoctlSetWinsize(mfd, unix.TIOCSWINSZ, &ws); err != nil {
			return fmt.Errorf("size the terminal: %w", err)
		}
	}
	if err := unix.Fchown(slave, int(uid), -1); err != nil {
		return fmt.Errorf("give the terminal to uid %d: %w", uid, err)
	}
	if err := unix.Sendmsg(socket, []byte("/dev/ptmx"), unix.UnixRights(mfd), nil, 0); err != nil {
		return fmt.Errorf("send the terminal to the console socket: %w", err)
	}
	if console != "" {
		// /dev/console in the container is this terminal too.
		if err := makeMountPoint(console, false); err != nil {
			return err
		}
		if err := (mount.Mount{Source: fmt.Sprintf("/proc/self/fd/%d", slave), Target: console, Flags: unix.MS_BIND}).Apply(); err != nil {
			return err
		}
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("start a session: %w", err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup2(slave, fd); err != nil {
			return fmt.Errorf("make the terminal descriptor %d: %w", fd, err)
		}
	}
	if slave > 2 {
		unix.Close(slave)
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("make the terminal the controlling one: %w", err)
	}
	return nil
}

// consoleRelay stands in for a console socket when the runtime itself is the terminal's
// user: `run` and a foreground `exec` of a process with a terminal and no --console-socket.
// It receives the master end, puts the caller's terminal in raw mode (so that keys such as
// Ctrl-C reach the container's terminal as bytes, for its line discipline to turn into
// signals), and copies between the two, as runc does in the foreground.
type consoleRelay struct {
	// theirs is passed to the init as its console socket; ours receives the master.
	theirs, ours *os.File
	master       *os.File
	stdin        *os.File
	restore      func() // gives the caller's terminal its mode back
	done         chan struct{}
}

func newConsoleRelay() (*consoleRelay, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("make a console socket: %w", err)
	}
	return &consoleRelay{theirs: os.NewFile(uintptr(pair[0]), "console"), ours: os.NewFile(uintptr(pair[1]), "console")}, nil
}

// start receives the master end (the init sent it before it reported ready) and relays it
// to stdin and stdout.
//
// Equivalent to: recvmsg(SCM_RIGHTS), `stty raw -echo`, and two copy loops.
func (c *consoleRelay) start(stdin, stdout *os.File) error {
	buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(c.ours.Fd()), buf, oob, 0)
	if err != nil {
		return fmt.Errorf("receive the terminal: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return fmt.Errorf("receive the terminal: no descriptor in the message (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return fmt.Errorf("receive the terminal: %v", err)
	}
	c.master, c.stdin, c.done = os.NewFile(uintptr(fds[0]), "pty master"), stdin, make(chan struct{})
	if restore, err := process.RawTerminal(stdin); err == nil {
		c.restore = restore
		c.resize()
	}
	go func() { _, _ = io.Copy(c.master, stdin) }()
	go func() {
		// Ends with EIO once the last process holding the slave end has exited.
		_, _ = io.Copy(stdout, c.master)
		close(c.done)
	}()
	return nil
}

// resize gives the container's terminal the size of the caller's; the kernel then sends
// the container's foreground process SIGWINCH.
//
// Equivalent to: `stty size` here, `stty rows R cols C` there.
func (c *consoleRelay) resize() {
	if c.master == nil {
		return
	}
	if ws, err := unix.IoctlGetWinsize(int(c.stdin.Fd()), unix.TIOCGWINSZ); err == nil {
		_ = unix.IoctlSetWinsize(int(c.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// close waits for the container's output to be copied, and gives the caller's terminal its
// settings back.
func (c *consoleRelay) close() {
	c.theirs.Close()
	c.ours.Close()
	if c.master == nil {
		return
	}
	<-c.done
	c.master.Close()
	if c.restore != nil {
		c.restore()
	}
}

package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"containerlabs/labs/labtest"
)

// TestDescriptors holds the checks of what the container's processes hold, and where they
// can reach through it: the caller's descriptors, the terminal, the working directory
// (the class of CVE-2024-21626), and the seccomp filter's order and listener.
func TestDescriptors(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("create with a console socket returns and holds none of the caller's descriptors", func(t *testing.T) {
		r, b, id := newRunc(t), newBundle(t, "sleep", "60"), newID()
		b.spec.Process.Terminal = true
		sock := listenConsole(t)
		// An extra descriptor the caller left open across exec, as a shell's redirection or
		// a test harness's pipe is: the container must not keep it.
		extraR, extraW, err := os.Pipe()
		require.NoError(t, err)
		defer extraR.Close()
		cmd := exec.Command(r.bin.Path, "--root", r.root, "create", "--bundle", b.write(t), "--console-socket", sock.path, id)
		// At descriptors 3 to 8, so that the runtime's own (sync socket, fifo, console
		// socket), which take the first numbers in its init, do not happen to replace it.
		cmd.ExtraFiles = []*os.File{extraW, extraW, extraW, extraW, extraW, extraW}
		// Output goes to pipes, and Output waits until every holder has closed them.
		done := make(chan error, 1)
		go func() { _, err := cmd.CombinedOutput(); done <- err }()
		select {
		case err := <-done:
			require.NoError(t, err, labtest.Hint("create must succeed"))
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatal(labtest.Hint("create never returned: its init holds the caller's stdout or stderr pipes; with a terminal, the init's 0, 1 and 2 must be the pty"))
		}
		extraW.Close()
		_ = extraR.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = extraR.Read(make([]byte, 1))
		assert.ErrorIs(t, err, io.EOF, labtest.Hint("the caller's extra descriptor is still open in the waiting init: mark inherited descriptors close-on-exec before starting it"))
		st := r.state(id)
		assert.Equal(t, specs.StateCreated, st.Status)
		for fd := 0; fd < 3; fd++ {
			target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", st.Pid, fd))
			assert.Regexp(t, `^/dev/pts/\d+$`, target, labtest.Hint("with process.terminal, the init's descriptor %d is the console's pty, not the caller's", fd))
		}
		sock.master(t).Close()
	})

	t.Run("an inherited descriptor does not reach the container's command", func(t *testing.T) {
		r, b := newRunc(t), newBundle(t, "ls", "/proc/self/fd")
		extraR, extraW, err := os.Pipe()
		require.NoError(t, err)
		defer extraR.Close()
		defer extraW.Close()
		cmd := exec.Command(r.bin.Path, "--root", r.root, "run", "--bundle", b.write(t), newID())
		cmd.ExtraFiles = []*os.File{extraR, extraW}
		out, err := cmd.Output()
		require.NoError(t, err, string(out))
		assert.Equal(t, "0\n1\n2\n3\n", string(out), labtest.Hint("the command has stdin, stdout, stderr and ls's own directory, nothing of the caller's (mark inherited descriptors close-on-exec before starting the init)"))
		cmd = exec.Command(r.bin.Path, "--root", r.root, "run", "--preserve-fds", "2", "--bundle", b.write(t), newID())
		cmd.ExtraFiles = []*os.File{extraR, extraW}
		out, err = cmd.Output()
		require.NoError(t, err, string(out))
		assert.Equal(t, "0\n1\n2\n3\n4\n5\n", string(out), labtest.Hint("--preserve-fds 2 passes descriptors 3 and 4 on, at the same numbers"))
	})

	t.Run("a terminal is made when stdin is not one", func(t *testing.T) {
		r, b := newRunc(t), newBundle(t, "sh", "-c", "tty; stty size")
		b.spec.Process.Terminal = true
		b.spec.Process.ConsoleSize = &specs.Box{Height: 24, Width: 80}
		res := r.bin.RunWith(t, labtest.Options{Stdin: strings.NewReader("")}, "--root", r.root, "run", "--bundle", b.write(t), newID())
		require.Equal(t, 0, res.Code, labtest.Hint("run with process.terminal relays a pty itself when no console socket is given, whatever its stdin is").With(res))
		assert.Regexp(t, `^/dev/pts/\d+\r?\n24 80\r?\n$`, res.Stdout, labtest.Hint("the command's stdin is a terminal of process.consoleSize (stty reads it)").With(res))
	})

	t.Run("run -d returns at once and leaves the container running", func(t *testing.T) {
		r, b := newRunc(t), newBundle(t, "sleep", "60")
		for _, flag := range []string{"-d", "--detach"} {
			id := newID()
			pidFile := filepath.Join(b.dir, "pid"+flag)
			res := r.detached("run", flag, "--pid-file", pidFile, "--bundle", b.write(t), id)
			require.Equal(t, 0, res.Code, labtest.Hint("run %s is runc's detached run: accept it", flag).With(res))
			st := r.state(id)
			assert.Equal(t, specs.StateRunning, st.Status, labtest.Hint("run %s creates and starts, and returns without waiting for the command", flag))
			text, _ := os.ReadFile(pidFile)
			assert.Equal(t, strconv.Itoa(st.Pid), string(text), labtest.Hint("--pid-file gets the container's init PID, as the host numbers it, without a newline"))
		}
		b.spec.Process.Terminal = true
		res := r.run("run", "-d", "--bundle", b.write(t), newID())
		assert.Equal(t, 1, res.Code, labtest.Hint("a detached container with a terminal needs --console-socket: nobody would hold the pty").With(res))
		assert.Contains(t, res.Stderr, "console-socket", labtest.Hint("the error names the missing --console-socket").With(res))
		b.spec.Process.Terminal = false
		b.spec.Process.Args = []string{"true"}
		keep := newID()
		res = r.run("run", "--keep", "--bundle", b.write(t), keep)
		require.Equal(t, 0, res.Code, res.String())
		assert.Equal(t, specs.StateStopped, r.state(keep).Status, labtest.Hint("run --keep leaves the stopped container for delete"))
		assert.NotEmpty(t, b.cgroupDirs(), labtest.Hint("and its cgroup"))
		require.Equal(t, 0, r.run("delete", keep).Code)
	})

	// The class of CVE-2024-21626: a descriptor of the host open in the init when it enters
	// the working directory makes /proc/self/fd/N a way out of the root.
	hostPID := strconv.Itoa(os.Getpid())
	checkCwd := func(t *testing.T, res labtest.Result, n int) {
		t.Helper()
		assert.NotContains(t, res.Stdout, "\n"+hostPID+"\n", labtest.Hint("cwd /proc/self/fd/%d lists the host's /proc (this test is PID %s there): a descriptor of the host was open at the chdir", n, hostPID).With(res))
		if res.Code != 0 {
			assert.Regexp(t, `working directory /proc/self/fd/\d+`, res.Stderr, labtest.Hint("a working directory that cannot be entered fails with an error naming it").With(res))
			return
		}
		assert.True(t, strings.HasPrefix(res.Stdout, "/"), labtest.Hint("a working directory the command runs in is inside the container (pwd prints an absolute path)").With(res))
	}

	t.Run("no working directory through /proc/self/fd reaches the host", func(t *testing.T) {
		r := newRunc(t)
		for n := 3; n <= 20; n++ {
			b := newBundle(t, "sh", "-c", "pwd -P; ls -a")
			b.spec.Process.Cwd = fmt.Sprintf("/proc/self/fd/%d", n)
			res := r.run("run", "--bundle", b.write(t), newID())
			checkCwd(t, res, n)
		}
	})

	t.Run("no exec --cwd through /proc/self/fd reaches the host", func(t *testing.T) {
		r, b, id := newRunc(t), newBundle(t, "sleep", "60"), newID()
		require.Equal(t, 0, r.detached("run", "-d", "--bundle", b.write(t), id).Code)
		for n := 3; n <= 20; n++ {
			res := r.run("exec", "--cwd", fmt.Sprintf("/proc/self/fd/%d", n), id, "sh", "-c", "pwd -P; ls -a")
			checkCwd(t, res, n)
		}
	})

	t.Run("a working directory outside the root is refused even through a handed-over descriptor", func(t *testing.T) {
		r, b := newRunc(t), newBundle(t, "ls")
		host := labtest.TempDir(t)
		require.NoError(t, os.WriteFile(filepath.Join(host, "host-file"), nil, 0o644))
		dir, err := os.Open(host)
		require.NoError(t, err)
		defer dir.Close()
		b.spec.Process.Cwd = "/proc/self/fd/3"
		cmd := exec.Command(r.bin.Path, "--root", r.root, "run", "--preserve-fds", "1", "--bundle", b.write(t), newID())
		cmd.ExtraFiles = []*os.File{dir}
		out, err := cmd.CombinedOutput()
		assert.Error(t, err, labtest.Hint("the caller passed a directory of the host as descriptor 3: entering it must be refused").With(string(out)))
		assert.NotContains(t, string(out), "host-file", labtest.Hint("the command must never run there"))
		assert.Contains(t, string(out), "outside the container's root", labtest.Hint("after chdir, getcwd(2) says whether the directory is inside the root: check it").With(string(out)))
	})

	t.Run("a profile that refuses close_range and close does not break the init", func(t *testing.T) {
		r := newRunc(t)
		enosys := uint(unix.ENOSYS)
		for _, nnp := range []bool{true, false} {
			b := newBundle(t, "echo", "ran")
			b.spec.Process.NoNewPrivileges = nnp
			b.spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"close_range", "close"}, Action: specs.ActErrno, ErrnoRet: &enosys},
			}}
			res := r.run("run", "--bundle", b.write(t), newID())
			assert.Equal(t, 0, res.Code, labtest.Hint("noNewPrivileges %v: the init marks its descriptors close-on-exec before it loads the filter, and the filter goes in last", nnp).With(res))
			assert.Equal(t, "ran\n", res.Stdout)
		}
	})

	t.Run("a startContainer hook runs under the filter", func(t *testing.T) {
		r, b := newRunc(t), newBundle(t, "true")
		b.spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActKill},
		}}
		b.spec.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "mkdir /tmp/x"}}}}
		res := r.run("run", "--bundle", b.write(t), newID())
		assert.NotEqual(t, 0, res.Code, labtest.Hint("with no_new_privs the filter is loaded before the wait for start, so the hook inside the container is filtered too").With(res))
		assert.Contains(t, res.Stderr, "bad system call", res.String())
	})

	t.Run("seccomp notify hands the listener to the agent", func(t *testing.T) {
		r := newRunc(t)
		agent := startAgent(t, false)
		b := newBundle(t, "sh", "-c", "mkdir /tmp/x")
		b.spec.Linux.Seccomp = notifyProfile(agent.path)
		id := newID()
		res := r.run("run", "--bundle", b.write(t), id)
		assert.NotEqual(t, 0, res.Code, res.String())
		assert.Contains(t, res.Stderr, "No medium found", labtest.Hint("the agent answered mkdir with ENOMEDIUM: it got the listener").With(res))
		st := agent.state(t)
		assert.Equal(t, []string{specs.SeccompFdName}, st.Fds, labtest.Hint("the message names its descriptor seccompFd, as runc's does"))
		assert.Equal(t, "labs", st.Metadata, labtest.Hint("listenerMetadata goes to the agent"))
		assert.Equal(t, id, st.State.ID)
		assert.NotZero(t, st.Pid)

		b = newBundle(t, "sleep", "60")
		b.spec.Linux.Seccomp = notifyProfile(agent.path)
		b.spec.Process.NoNewPrivileges = false
		id = newID()
		require.Equal(t, 0, r.detached("run", "-d", "--bundle", b.write(t), id).Code)
		agent.state(t)
		res = r.run("exec", id, "mkdir", "/tmp/y")
		assert.Contains(t, res.Stderr, "No medium found", labtest.Hint("an exec'd process loads the filter too, and its listener goes to the agent as well").With(res))
		agent.state(t)
	})

	t.Run("without the agent, notified calls fail with ENOSYS instead of hanging", func(t *testing.T) {
		r := newRunc(t)
		agent := startAgent(t, true)
		b := newBundle(t, "sh", "-c", "mkdir /tmp/x")
		b.spec.Linux.Seccomp = notifyProfile(agent.path)
		res := r.run("run", "--bundle", b.write(t), newID())
		assert.False(t, res.TimedOut, labtest.Hint("the agent closed the listener: if the runtime or the init kept a copy, mkdir would wait forever"))
		assert.Contains(t, res.Stderr, "Function not implemented", labtest.Hint("with nobody holding the listener, the kernel fails notified calls with ENOSYS").With(res))
		os.Remove(agent.path)
		res = r.run("run", "--bundle", b.write(t), newID())
		assert.Equal(t, 1, res.Code, res.String())
		assert.Contains(t, res.Stderr, "seccomp agent", labtest.Hint("no agent listening: create fails before the container exists, naming the agent").With(res))
	})
}

// consoleSocket is a console socket the test listens on.
type consoleSocket struct {
	path    string
	masters chan *os.File
}

func listenConsole(t *testing.T) *consoleSocket {
	s := &consoleSocket{path: filepath.Join(labtest.TempDir(t), "console.sock"), masters: make(chan *os.File, 4)}
	receiveDescriptors(t, s.path, func(_ []byte, fd int) {
		s.masters <- os.NewFile(uintptr(fd), "pty master")
	})
	return s
}

// receiveDescriptors listens on a unix socket at path, as a console socket or a seccomp
// agent does, and for each connection that sends one message with one descriptor calls
// got with the message and the descriptor, until the test ends.
func receiveDescriptors(t *testing.T, path string, got func(message []byte, fd int)) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.AcceptUnix()
			if err != nil {
				return
			}
			buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4))
			n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			conn.Close()
			if err != nil {
				continue
			}
			if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) == 1 {
				if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(fds) == 1 {
					got(buf[:n], fds[0])
				}
			}
		}
	}()
}

func (s *consoleSocket) master(t *testing.T) *os.File {
	select {
	case m := <-s.masters:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal(labtest.Hint("the console socket received no pty master"))
		return nil
	}
}

// notifyProfile hands mkdir to the seccomp agent at path.
func notifyProfile(path string) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow, ListenerPath: path, ListenerMetadata: "labs",
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
	}
}

// agent is a seccomp agent of the test's own: it receives each process's listener with
// its state, and fails every notified call with ENOMEDIUM (or, dropping, closes the
// listener at once, as an agent that died would).
type agent struct {
	path   string
	states chan specs.ContainerProcessState
}

func startAgent(t *testing.T, dropping bool) *agent {
	a := &agent{path: filepath.Join(labtest.TempDir(t), "agent.sock"), states: make(chan specs.ContainerProcessState, 4)}
	receiveDescriptors(t, a.path, func(message []byte, listener int) {
		var st specs.ContainerProcessState
		_ = json.Unmarshal(message, &st)
		a.states <- st
		if dropping {
			unix.Close(listener)
			return
		}
		go answer(listener)
	})
	return a
}

func (a *agent) state(t *testing.T) specs.ContainerProcessState {
	select {
	case st := <-a.states:
		return st
	case <-time.After(10 * time.Second):
		t.Fatal(labtest.Hint("the seccomp agent received no listener"))
		return specs.ContainerProcessState{}
	}
}

// seccompNotif and seccompNotifResp are the kernel's struct seccomp_notif and
// seccomp_notif_resp.
type seccompNotif struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32
	arch  uint32
	ip    uint64
	args  [6]uint64
}

type seccompNotifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// answer fails each notified call with ENOMEDIUM until the filter's processes are gone.
func answer(listener int) {
	defer unix.Close(listener)
	for {
		var req seccompNotif
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); errno != 0 {
			if errno == unix.EINTR {
				continue
			}
			return
		}
		resp := seccompNotifResp{id: req.id, error: -int32(unix.ENOMEDIUM)}
		_, _, _ = unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
	}
}

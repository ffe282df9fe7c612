package engine

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"containerlabs/labs/process"
)

// attachHello is the first line a client sends on the attach socket: its terminal's size.
type attachHello struct {
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
}

// AttachTo connects to a running container's stdio through its monitor's attach socket:
// the container's output from now on goes to opts.Stdout (and Stderr), and opts.Stdin to
// the container's standard input if it has one open (-i). It returns when the detach keys
// arrive on Stdin (detached: the container runs on) or when the container ends (with its
// exit status). The caller puts its terminal in raw mode for a -t container (process.RawTerminal),
// so that the keys reach it one by one and Ctrl-C goes to the container.
//
// Equivalent to: `docker attach CONTAINER`.
func (e *Engine) AttachTo(ref string, opts AttachOptions) (code int, detached bool, err error) {
	c, err := e.Store.Get(ref)
	if err != nil {
		return process.ExitSetupFailed, false, err
	}
	if !c.State.Running() {
		return process.ExitSetupFailed, false, fmt.Errorf("container %s is not running: start it with start -a", c.Name)
	}
	keys := opts.DetachKeys
	if keys == nil {
		keys, _ = ParseDetachKeys(DefaultDetachKeys)
	}
	conn, err := dialInDir(e.Store.Dir(c.ID), attachSocket)
	if err != nil {
		return process.ExitSetupFailed, false, fmt.Errorf("attach to %s: %w", c.Name, err)
	}
	defer conn.Close()
	if err := json.NewEncoder(conn).Encode(attachHello{Rows: opts.Rows, Cols: opts.Cols}); err != nil {
		return process.ExitSetupFailed, false, fmt.Errorf("attach to %s: %w", c.Name, err)
	}
	outputEnded := make(chan struct{})
	go func() {
		defer close(outputEnded)
		if c.Config.Tty {
			_, _ = io.Copy(opts.Stdout, conn)
		} else {
			_ = demux(conn, opts.Stdout, opts.Stderr)
		}
	}()
	detach := make(chan struct{})
	if opts.Stdin != nil {
		go func() {
			// At the end of the input the output goes on until the container ends, as Docker's.
			if d, _ := copyInput(conn, opts.Stdin, keys); d {
				close(detach)
			}
		}()
	}
	select {
	case <-detach:
		return 0, true, nil
	case <-outputEnded:
		// The monitor closes the connection when the container has ended; it records the
		// exit status a moment later.
		code, err := e.Wait(c.ID)
		return code, false, err
	}
}

// TerminalSize returns the rows and columns of the terminal f (0, 0 if it is none).
func TerminalSize(f *os.File) (uint16, uint16) {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0
	}
	return ws.Row, ws.Col
}

// dirSocket is a Unix socket listening in a directory. A socket's address is at most 107
// bytes, and a container's directory under a state root is longer (41 bytes of
// /var/lib/containerlabs/engine/containers/ and a 64-digit ID), so the socket is bound
// through /proc/self/fd/N/NAME, N being an open descriptor of the directory: the kernel
// resolves the long path, the address stays short.
type dirSocket struct {
	*net.UnixListener
	dir  *os.File
	file string
	// Path reaches the socket from any process while the directory stays open here:
	// /proc/PID/fd/N/NAME.
	Path string
}

func listenInDir(dir, name string) (*dirSocket, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, name)
	os.Remove(file)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), name), Net: "unix"})
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("listen on %s: %w", file, err)
	}
	l.SetUnlinkOnClose(false)
	return &dirSocket{UnixListener: l, dir: d, file: file, Path: fmt.Sprintf("/proc/%d/fd/%d/%s", os.Getpid(), d.Fd(), name)}, nil
}

// Close stops listening and removes the socket.
func (s *dirSocket) Close() error {
	err := s.UnixListener.Close()
	os.Remove(s.file)
	s.dir.Close()
	return err
}

// dialInDir connects to the socket name in dir, through /proc/self/fd as listenInDir binds it.
func dialInDir(dir, name string) (*net.UnixConn, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return net.DialUnix("unix", nil, &net.UnixAddr{Name: fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), name), Net: "unix"})
}

// attachHub is the monitor's side of attach: every client connected to the attach socket
// gets the container's output as it comes, and what clients send goes to the container's
// standard input, when it has one the monitor holds (a -i container's stdin pipe, or the
// terminal's master end for -it). The detach keys never arrive here: the client watches
// for them, so a container that reads them is never confused, and the monitor knows no keys.
type attachHub struct {
	sock *dirSocket
	tty  bool
	// input is the container's stdin, or nil; console the terminal's master end (-t).
	input   io.Writer
	console *os.File

	mu      sync.Mutex
	clients map[*net.UnixConn]bool
	closed  bool
}

func listenAttach(dir string, tty bool) (*attachHub, error) {
	sock, err := listenInDir(dir, attachSocket)
	if err != nil {
		return nil, err
	}
	return &attachHub{sock: sock, tty: tty, clients: map[*net.UnixConn]bool{}}, nil
}

// serve accepts clients until the hub is closed.
func (h *attachHub) serve() {
	for {
		conn, err := h.sock.AcceptUnix()
		if err != nil {
			return
		}
		go h.handle(conn)
	}
}

func (h *attachHub) handle(conn *net.UnixConn) {
	r := bufio.NewReader(conn)
	var hello attachHello
	if line, err := r.ReadBytes('\n'); err != nil || json.Unmarshal(line, &hello) != nil {
		conn.Close()
		return
	}
	if h.console != nil && hello.Rows > 0 && hello.Cols > 0 {
		_ = unix.IoctlSetWinsize(int(h.console.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: hello.Rows, Col: hello.Cols})
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		conn.Close()
		return
	}
	h.clients[conn] = true
	h.mu.Unlock()
	input := io.Discard
	if h.input != nil {
		input = h.input
	}
	_, _ = io.Copy(input, r)
	h.mu.Lock()
	delete(h.clients, conn)
	h.mu.Unlock()
	conn.Close()
}

// stream returns the writer for one output stream (1 stdout, 2 stderr).
func (h *attachHub) stream(n byte) io.Writer { return hubStream{h, n} }

type hubStream struct {
	h *attachHub
	n byte
}

// Write sends p to every client. A client that cannot take it within a second is
// dropped: a stuck terminal must not stop the container's output or its log.
func (s hubStream) Write(p []byte) (int, error) {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	for conn := range s.h.clients {
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		var err error
		if s.h.tty {
			_, err = conn.Write(p)
		} else {
			err = writeFrame(conn, s.n, p)
		}
		if err != nil {
			conn.Close()
			delete(s.h.clients, conn)
		}
	}
	return len(p), nil
}

// close stops accepting and ends every client's connection: the container has ended.
func (h *attachHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	_ = h.sock.Close()
	for conn := range h.clients {
		conn.Close()
	}
	h.clients = nil
}

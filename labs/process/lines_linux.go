package process

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// LineReader reads newline-ended messages from a Unix socket with recvmsg rather than read:
// a descriptor sent with a message arrives as SCM_RIGHTS ancillary data, which a plain read
// would silently drop (and the kernel would close). The runtime's sync socket with its init
// and the engine's hand-over to a container's monitor both speak this way.
type LineReader struct {
	fd   int
	buf  []byte
	fds  []int
	done bool
}

// NewLineReader reads from the socket fd, which stays the caller's to close.
func NewLineReader(fd int) *LineReader { return &LineReader{fd: fd} }

// Line returns the next line, without its newline; io.EOF once the other end has closed
// the socket (which, for a process that execs, means execve succeeded when the socket is
// close-on-exec). Descriptors that came with it are kept for TakeFD, close-on-exec.
func (r *LineReader) Line() (string, error) {
	for {
		if i := bytes.IndexByte(r.buf, '\n'); i >= 0 {
			line := string(r.buf[:i])
			r.buf = r.buf[i+1:]
			return line, nil
		}
		if r.done {
			return "", io.EOF
		}
		chunk, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4*4))
		n, oobn, _, _, err := unix.Recvmsg(r.fd, chunk, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return "", err
		}
		if oobn > 0 {
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil {
				return "", fmt.Errorf("read the descriptors sent on the socket: %w", err)
			}
			for _, m := range msgs {
				fds, err := unix.ParseUnixRights(&m)
				if err != nil {
					return "", fmt.Errorf("read the descriptors sent on the socket: %w", err)
				}
				r.fds = append(r.fds, fds...)
			}
		}
		if n == 0 {
			r.done = true
			continue
		}
		r.buf = append(r.buf, chunk[:n]...)
	}
}

// TakeFD returns the oldest descriptor received and not yet taken, or -1.
func (r *LineReader) TakeFD() int {
	if len(r.fds) == 0 {
		return -1
	}
	fd := r.fds[0]
	r.fds = r.fds[1:]
	return fd
}

// Close closes the descriptors that were received and never taken.
func (r *LineReader) Close() {
	for _, fd := range r.fds {
		unix.Close(fd)
	}
	r.fds = nil
}

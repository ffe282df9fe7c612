package engine

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// DefaultDetachKeys is Docker's detach sequence: Ctrl-P, then Ctrl-Q.
const DefaultDetachKeys = "ctrl-p,ctrl-q"

// attachSocket is the monitor's attach socket in the container's directory.
const attachSocket = "attach.sock"

// AttachOptions is what `attach` connects to a running container.
type AttachOptions struct {
	// Stdin is sent to the container's standard input (nil: --no-stdin).
	Stdin io.Reader
	// Stdout and Stderr receive the container's output; a terminal (-t) has only Stdout.
	Stdout, Stderr io.Writer
	// DetachKeys end the attachment when they appear in Stdin, leaving the container running
	// (nil: DefaultDetachKeys).
	DetachKeys []byte
	// Rows and Cols are the caller's terminal size, given to a -t container's terminal.
	Rows, Cols uint16
}

// ParseDetachKeys reads a --detach-keys value: keys separated by commas, each a single
// character or ctrl-X (X a letter or one of @ [ \ ] ^ _), as Docker writes them.
func ParseDetachKeys(s string) ([]byte, error) {
	var keys []byte
	for key := range strings.SplitSeq(s, ",") {
		switch {
		case len(key) == 1:
			keys = append(keys, key[0])
		case len(key) == 6 && strings.HasPrefix(strings.ToLower(key), "ctrl-"):
			c := key[5]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if (c < 'a' || c > 'z') && !strings.ContainsRune(`@[\]^_`, rune(c)) {
				return nil, fmt.Errorf("--detach-keys %q: %s is not a control key", s, key)
			}
			keys = append(keys, c&0x1f)
		default:
			return nil, fmt.Errorf("--detach-keys %q: want keys like ctrl-p,ctrl-q or a,b", s)
		}
	}
	return keys, nil
}

// copyInput copies src to dst until src ends or the detach keys arrive, and reports
// whether they did. Bytes that may begin the sequence are held back until the next byte
// shows they do not, so the container never sees a completed detach sequence.
func copyInput(dst io.Writer, src io.Reader, keys []byte) (bool, error) {
	buf := make([]byte, 4096)
	matched := 0
	for {
		n, err := src.Read(buf)
		out := make([]byte, 0, n+matched)
		for _, b := range buf[:n] {
			if b == keys[matched] {
				if matched++; matched == len(keys) {
					_, werr := dst.Write(out)
					return true, werr
				}
				continue
			}
			out = append(out, keys[:matched]...)
			matched = 0
			if b == keys[0] {
				matched = 1
				continue
			}
			out = append(out, b)
		}
		if len(out) > 0 {
			if _, werr := dst.Write(out); werr != nil {
				return false, werr
			}
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// Frames of a container's output on the attach socket. A container without a terminal
// has two output streams, so each chunk goes with a header, as in Docker's attach protocol:
// the stream (1 stdout, 2 stderr), three zero bytes, the length (4 bytes, big-endian).
// A terminal's output is one stream and goes unframed.
const frameHeader = 8

func writeFrame(w io.Writer, stream byte, p []byte) error {
	frame := make([]byte, frameHeader+len(p))
	frame[0] = stream
	binary.BigEndian.PutUint32(frame[4:], uint32(len(p)))
	copy(frame[frameHeader:], p)
	_, err := w.Write(frame)
	return err
}

// demux copies framed output from r to stdout and stderr until r ends.
func demux(r io.Reader, stdout, stderr io.Writer) error {
	header := make([]byte, frameHeader)
	for {
		if _, err := io.ReadFull(r, header); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		out := stdout
		if header[0] == 2 {
			out = stderr
		}
		if _, err := io.CopyN(out, r, int64(binary.BigEndian.Uint32(header[4:]))); err != nil {
			return err
		}
	}
}

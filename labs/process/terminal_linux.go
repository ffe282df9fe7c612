package process

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// RawTerminal puts the terminal f in raw mode: no echo, no line editing, no signals from
// Ctrl-C, every byte passed on at once. The returned function restores it. A program that
// relays a terminal to a container's (the runtime's console, the engine's attach) does this
// to its own, so that the container's terminal does the echoing and line editing instead.
//
// Equivalent to: `stty raw -echo`.
func RawTerminal(f *os.File) (func(), error) {
	fd := int(f.Fd())
	term, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("not a terminal: %w", err)
	}
	saved := *term
	raw := *term
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, fmt.Errorf("raw terminal: %w", err)
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, &saved) }, nil
}

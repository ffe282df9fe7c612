package labtest

import "syscall"

// ForkSleeper forks a child that blocks until it is killed, the way a fork bomb's children
// do, and returns the child's PID, or fork's errno (EAGAIN at a pids limit). It uses the raw
// clone system call because Go has no fork: the child runs only this function's remaining
// instructions and system calls, never the Go scheduler, hence nosplit. The child is a
// single thread, so it counts once against a pids limit.
//
//go:nosplit
func ForkSleeper() (int, syscall.Errno) {
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 || pid != 0 {
		return int(pid), errno
	}
	for {
		// ppoll with no descriptors and no timeout sleeps until a signal kills it.
		syscall.RawSyscall6(syscall.SYS_PPOLL, 0, 0, 0, 0, 0, 0)
	}
}

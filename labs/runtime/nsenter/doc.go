// Package nsenter puts a freshly started process into a container's namespaces before the Go
// runtime starts: a C constructor, run by the dynamic loader before main, that joins existing
// namespaces with setns(2), creates new ones with unshare(2), and forks so that the process
// that goes on is inside a joined or new PID namespace. Binaries that start container
// processes import it for that side effect (labs/runtime does, so every user of it has it).
//
// # Why this part must be C
//
// A Go program is multi-threaded from its first instruction: the runtime starts threads for
// the scheduler and the garbage collector before main runs. Namespaces belong to threads,
// and for two of them the kernel insists on a single-threaded caller: setns(2) into a mount
// namespace fails with EINVAL for a process whose threads share their file-system context
// (all Go threads do), and setns into, or unshare of, a user namespace fails with EINVAL for
// any multi-threaded process. A Go program cannot be made single-threaded again, so the work
// is done earlier, in C, while the process is still one thread. runc's nsenter does the same
// for the same reason. (The network, UTS and IPC namespaces could be joined by one locked
// Go thread; doing every namespace here keeps one path for all of them.)
//
// # The protocol
//
// The parent starts the runtime's own binary with the environment variable Env set to the
// number of a stream socket. Without that variable the constructor does nothing and the
// program starts as usual. With it, the constructor reads a plan from the socket, one
// instruction a line, ending with an empty line:
//
//	join TYPE PATH    open PATH (a namespace file such as /proc/PID/ns/net) and setns into it
//	userns            unshare a new user namespace, tell the parent "userns", wait for
//	                  "mapped" (the parent has written uid_map and gid_map), become root in it
//	unshare FLAGS     unshare(2) the CLONE_NEW* FLAGS (a C integer, 0x... allowed)
//	timens CLOCK S N  offset CLOCK (monotonic or boottime) of the new time namespace
//	root PATH         after the joins, make PATH (opened before them) the root directory
//	stay              the child is a new container's init and stays in C (see below)
//
// Joins happen in plan order, so the parent lists the user namespace first. Then the
// constructor forks. Its child returns from the constructor and the Go program starts,
// inside every namespace; the constructor's process writes "pid N" (the child's PID on the
// host) and exits. With "stay", the child does not return: it is the container's init in C
// (cinit.c), which reads a program from the socket (labs/runtime's cinit_linux.go writes
// it), sets the container up, reports "ready" and execs the command after `start`, all
// without the Go runtime, as crun does and as runc's nsexec does for its first half. Anything that fails is reported as "error TEXT" and ends the process with
// status 1. After the plan, the socket belongs to the Go program and its parent.
package nsenter

// Env names the environment variable that holds the descriptor number of the plan socket.
const Env = "_LABS_NSENTER"

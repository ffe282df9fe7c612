// Package namespace starts a process in new Linux namespaces and gives it a root of its own,
// which is what turns a chrooted process into a container.
//
// A namespace wraps one global resource so that the processes inside see their own copy:
//
//	UTS      the hostname
//	PID      process IDs: the first process inside is PID 1 and sees only its descendants
//	mount    the mount table: mounts made inside stay inside
//	IPC      System V IPC objects and POSIX message queues
//	network  interfaces, addresses, routes, ports: a new one has only a down loopback
//	user     user and group IDs: root inside can be an unprivileged user outside
//	cgroup   the view of the cgroup tree: the container's cgroup looks like the root
//
// # Two halves and one pipe
//
// Starting a container has two halves. The parent, outside, does what needs the host's view:
// write the uid/gid maps, create the cgroup (lab 04), plug a network cable in (lab 06). The
// child, inside the new namespaces, does what needs the container's view: make mounts
// private, mount /proc, pivot_root, set the hostname. The child must not start its command
// before the parent is done, or the command would run unmapped, unlimited or unconnected,
// so it waits on a pipe: Start creates the child blocked, the parent does its half and calls
// Release, which sends the container's description down the pipe, and only then does the
// child go on.
//
// # One binary, re-executed
//
// The child is the same program, started again from /proc/self/exe with clone(2) flags
// that put it into new namespaces from its first instruction. It knows it is the child by a
// variable in its environment (IsChild). Go container tools re-execute themselves for a
// Go-specific reason: the Go runtime runs many threads from the start, unshare(2) of a
// mount namespace moves only the calling thread, and unshare of a user namespace, or setns(2)
// into a mount or user namespace, is refused to a multi-threaded process. A process created
// by clone with the namespace flags is in its namespaces entirely, before the runtime starts.
// runc re-executes itself too (runc init), but without clone flags from its Go parent: its
// namespaces are made in C, by nsexec, a constructor that runs before the Go runtime does,
// which is how lab 08's runtime does it as well (labs/runtime/nsenter). And unshare of a PID
// namespace never moves the caller at all: only its next child is born in it, as PID 1.
//
// # PID 1
//
// The first process of a PID namespace is its init, and the kernel gives it two duties:
// orphans are re-parented to it, so it must reap them or they stay zombies, and signals
// without a handler are not delivered to it, so `kill PID1` does nothing unless it forwards
// them. RunInit is a small init that does both and exits with its command's status, so the
// command itself does not have to be written as an init (the role of tini or
// `docker run --init`).
package namespace

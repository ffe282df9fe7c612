// Package runtime is an OCI runtime: it creates and runs containers from OCI bundles the way
// runc does, so that containerd (and through it Kubernetes) can drive it, and it is the
// layer the workshop's engine (08-engine) runs its containers with.
//
// # Bundles and the lifecycle
//
// A bundle is a directory with a config.json (the OCI runtime specification: the process,
// the root, mounts, namespaces, cgroup resources, hardening, hooks) and usually the root
// file system. Engines build bundles from images; the runtime only reads them. A container
// goes through the OCI lifecycle:
//
//	create   namespaces, mounts, cgroup and hardening are set up; the init waits
//	start    the init execs the user's command, which becomes the container's PID 1
//	kill     signals the init (or, with all, every process of the cgroup)
//	delete   removes the cgroup and the state once the processes are gone
//
// Splitting create from start is what lets an engine plug the network into the container's
// namespace (or run hooks) after the namespaces exist but before the command runs.
//
// # The exec fifo
//
// create leaves the init blocked reading a FIFO in the container's state directory
// (exec.fifo), which the runtime opened for it, for reading and writing, before the init
// started. start opens the FIFO for writing and writes one byte; the init reads it and execs
// the command; start removes the FIFO. The FIFO's existence is therefore the "created"
// status. runc invented this (its init is the writer, and reopens the FIFO through
// /proc/self/fd); containerd relies on create returning only when everything is ready.
// Handing the init the FIFO already open means it needs no path of the host, and no /proc,
// to wait: nothing of the host's file tree stays reachable from it (see "Descriptors").
//
// # Who is whose parent
//
// The runtime starts its own binary (/proc/self/exe). Before the Go runtime in that process
// starts a thread, nsenter's C constructor (package nsenter) moves it into the container's
// namespaces and forks; the child becomes the container's init, and the constructor's
// process exits. The runtime is a child subreaper, so the orphaned init becomes its child,
// and when the runtime exits (create returns), the init passes to the runtime's nearest
// subreaper: containerd's shim, which waits for it and reports its exit. There is no extra
// process in the container: the init execs the command, which is PID 1 itself.
//
//	runtime (create) ── nsenter (C, exits) ── init (C or Go) ══ execve ══> command (PID 1)
//
// # Two inits: C on the fast path, Go to read
//
// The init is written twice. init_linux.go, rootfs_linux.go and process_linux.go are the Go
// init, the one to read: each step in order, with why. Starting the Go runtime in the init
// costs about 10 ms, a quarter of a whole `run /bin/true`, so a container that needs nothing
// special is set up by nsenter/cinit.c instead: nsenter's child stays in C and carries out a
// program that cinit_linux.go writes from the same configuration, with every decision made
// on the Go side (the flags, the cleaned paths, the device list, the compiled seccomp
// filter) and the same checks made in C (paths resolved inside the root with openat2, the
// same refusals for /proc and for symlinked mount points, the working directory checked with
// getcwd). runc splits its init the same way, with nsexec in C before a second Go start;
// crun is C throughout. The Go init keeps what the C one does not do: user namespaces (and so
// rootless containers), --no-pivot, terminals, hooks that run inside the container, and
// seccomp listeners (the runtime's own hooks, prestart and createRuntime, run while either
// init waits). A process that joins a running container
// (exec) goes through the C init too, unless it has a terminal. TestCInit (in
// 08-engine/labs-runc) checks that both inits leave the container, and an exec'd process,
// the same; LABS_GO_INIT=1 sends everything through the Go init.
//
// # The init's order of work
//
// The order matters and follows runc's: the init is moved into its cgroup before it forks
// anything (and only then makes a cgroup namespace, whose root is the cgroup it is in);
// mounts are made before pivot_root, under the new root, with "/" set to slave propagation
// first so that nothing mounted inside reaches the host; device nodes, the console, the
// hostname, sysctls, and the read-only and masked paths come next; the hard rlimits that go
// up are raised by the runtime from outside (that needs a capability the init may lack).
// Then the last steps, which an exec'd process shares (prepareProcess): every descriptor
// above the handed-over ones is marked close-on-exec; no_new_privs; without no_new_privs the
// seccomp filter (loading one then needs CAP_SYS_ADMIN); the working directory, entered as
// root if root may and else as the user, and checked to be inside the root; the user and
// the capability sets (keeping the permitted set across setuid with PR_SET_KEEPCAPS); the
// command looked up; with no_new_privs, the seccomp filter last. Only then does the init
// report "ready": every error before it fails create with the init's message. It waits for
// start, runs the startContainer hooks (under the filter, as runc's do), sets every rlimit
// itself (set earlier, an RLIMIT_AS meant for the command kills the Go runtime) and execs.
//
// The runtime compiles the seccomp profile (with libseccomp, which needs cgo) while the init
// starts, and keeps the compiled program in a cache under the state root; the init only
// loads it, with one system call. A profile with SCMP_ACT_NOTIFY rules is loaded with a
// listener, a descriptor on which a seccomp agent answers the notified calls: the init
// sends it to the runtime over the sync socket, which passes it to the agent at
// linux.seccomp.listenerPath the way runc does, and neither keeps a copy.
//
// # Descriptors
//
// A descriptor is a way into whatever it points at, whatever the process's root: the path
// /proc/self/fd/N is a magic link the kernel follows to the descriptor's file. A descriptor
// of the host's file tree still open when the init enters its working directory, or runs
// anything the config or the container controls, is a way out of the container
// (CVE-2024-21626: runc held the host's /sys/fs/cgroup open, and `-w /proc/self/fd/7`
// escaped). So: the runtime marks every descriptor it inherited close-on-exec before it
// starts the init and passes on only the ones it names; the init gets the exec fifo open
// and reopens nothing by a host path; the bind-mount sources it is handed are closed once
// mounted, and the console socket once the terminal is sent; the Go runtime of the init is
// told not to watch its cgroup's files (GODEBUG); the init is not dumpable, so a process of
// the container cannot open /proc/INIT/fd; and after chdir, getcwd(2) must return a path
// inside the root, as runc checks since 1.1.12.
//
// # State
//
// Each container has a directory under the state root: state.json, config.json and the
// exec fifo. Both files are written to a temporary file and renamed, so a reader never sees
// half of one; no fsync, as the root is a tmpfs. state.json is small (the init, the cgroup,
// the annotations and the poststart and poststop hooks) and every command reads it;
// config.json is the whole config, which only exec and update read. The status is never stored: it is worked out each time from the kernel.
// The init is recorded by its PID and its start time (field 22 of /proc/PID/stat), because a
// PID is reused once its process is gone but the pair never is; signals go through a pidfd,
// which cannot reach a process that reused the PID. Commands on one container are
// serialised with an flock on its directory.
//
// # What is not supported
//
// AppArmor, SELinux labels (a linux.mountLabel is accepted on a host without SELinux,
// where it could not mean anything, as runc and crun accept it), Intel RDT, memory
// policies, personality, network devices, scheduler and CPU affinity settings, idmapped
// mounts, the systemd cgroup driver, and checkpoint/restore. Each is refused with an error
// naming the field (ErrUnsupported); none is ignored, because a container started without
// the isolation its config asked for is worse than no container. On cgroup v2, the few
// resources that have no v2 file are refused the same way: memory.kernelTCP, swappiness
// and disableOOMKiller, the real-time CPU settings, and net_cls and net_prio. Device rules
// work on both versions (package cgroup turns them into an eBPF program on v2), and
// `labs-runc features` says so.
package runtime

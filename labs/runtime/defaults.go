package runtime

import (
	goruntime "runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The pieces of a container configuration that Docker applies by default, for an engine to
// fill its specs from. Each is the "why" of a hardening measure: the runtime honours the
// spec it is given, and these are the values that make a spec safe by default.

// DefaultCapabilities is Docker's default capability set: what a root process in a container
// keeps of root's powers. It is enough to chown files, bind low ports, change user and
// chroot, and leaves out everything that reaches the host: CAP_SYS_ADMIN (mount, namespaces,
// and a long list more), CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_SYS_TIME, CAP_NET_ADMIN, ...
// DockerSpec puts it in the bounding, effective and permitted sets and leaves the
// inheritable set empty, so that a file with inheritable capabilities cannot regain them
// (CVE-2022-24769).
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// DefaultMaskedPaths are files and directories of /proc and /sys that leak facts about the
// host (kernel memory, other users' keys, timers of every process) or reach its hardware:
// the runtime hides a file under /dev/null and a directory under an empty read-only tmpfs.
var DefaultMaskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
}

// DefaultReadonlyPaths are the parts of /proc whose writes change the host's kernel rather
// than the container: /proc/sys (sysctls that are not namespaced), /proc/sysrq-trigger
// (reboot the host), /proc/irq and /proc/bus (hardware). The runtime remounts them read-only.
var DefaultReadonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// DefaultMounts are the file systems every container gets: a /proc of its PID namespace, a
// minimal tmpfs /dev (the runtime creates only the harmless devices in it) with its own
// devpts and a 64 MiB /dev/shm, a read-only /sys and /sys/fs/cgroup, and a POSIX message
// queue file system of its IPC namespace.
func DefaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=67108864"}},
	}
}

// DockerSpec returns a complete configuration for running args in the bundle's "rootfs"
// directory with Docker's default hardening: new PID, IPC, UTS, mount, network and cgroup
// namespaces, DefaultMounts, DefaultCapabilities, no_new_privs, DefaultSeccomp, the masked
// and read-only paths, and a device cgroup that denies every device the runtime does not
// create itself. An engine adjusts it (hostname, env, user, limits, mounts) and writes it to
// config.json; `--privileged` would clear the seccomp profile, masks and read-only paths and
// grant every capability.
func DockerSpec(args []string) *specs.Spec {
	caps := append([]string(nil), DefaultCapabilities...)
	return &specs.Spec{
		// Every field used here exists since 1.0.2; naming the oldest version that has them
		// lets older runtimes take the config too (crun 1.8 refuses "1.3.0").
		Version: "1.0.2",
		Process: &specs.Process{
			Args: args,
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs"},
		Hostname: "container",
		Mounts:   DefaultMounts(),
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.CgroupNamespace},
			},
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Seccomp:       DefaultSeccomp(caps),
			MaskedPaths:   append([]string(nil), DefaultMaskedPaths...),
			ReadonlyPaths: append([]string(nil), DefaultReadonlyPaths...),
		},
	}
}

// ExampleSpec returns the configuration `runc spec` writes, which runc's users and its own
// tests start from: `sh` on a terminal in the bundle's read-only "rootfs", as root with only
// CAP_AUDIT_WRITE, CAP_KILL and CAP_NET_BIND_SERVICE, no_new_privs, new PID, network, IPC,
// UTS and mount namespaces, the masked and read-only paths, a device cgroup that denies
// what the runtime does not create, and no seccomp profile. With rootless, the container
// gets a user namespace that maps root to the caller's uid and gid, and /sys is the host's,
// bind-mounted (an unprivileged user may not mount a fresh sysfs), with no network
// namespace and no device rules (a rootless runtime cannot write them).
func ExampleSpec(rootless bool, uid, gid uint32) *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	spec := &specs.Spec{
		// As DockerSpec's: the oldest version with every field used, for older runtimes.
		Version: "1.0.2",
		Process: &specs.Process{
			Terminal: true,
			Args:     []string{"sh"},
			Env:      []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Cwd:      "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps, Ambient: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "runc",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"},
			ReadonlyPaths: append([]string(nil), DefaultReadonlyPaths...),
		},
	}
	if rootless {
		spec.Mounts[2].Options = spec.Mounts[2].Options[:5] // no gid=5: the tty group is not mapped
		spec.Mounts[5] = specs.Mount{Destination: "/sys", Type: "none", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
		spec.Linux.Resources = nil
		spec.Linux.Namespaces = []specs.LinuxNamespace{
			{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
			{Type: specs.MountNamespace}, {Type: specs.UserNamespace},
		}
		spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uid, Size: 1}}
		spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: gid, Size: 1}}
	}
	return spec
}

// namespaceCloneFlags are the CLONE_NEW* bits (user, PID, network, IPC, UTS, cgroup, mount)
// that create namespaces: 0x7e020000. A process that may not use them cannot make a
// namespace in which it would be root.
const namespaceCloneFlags = 0x10000000 | 0x20000000 | 0x40000000 | 0x08000000 | 0x04000000 | 0x02000000 | 0x00020000

// DefaultSeccomp returns Docker's default seccomp profile as an OCI LinuxSeccomp, for a
// container that has the capabilities caps (its bounding set).
//
// The profile is an allow-list: the default action fails every system call with EPERM, and
// rules allow, by name, the calls ordinary programs make. A call the list does not know,
// such as one added to the kernel next year, is refused; a deny-list would let it through.
// On top of the always-allowed calls come groups that a capability unlocks, because the
// capability is what makes the call meaningful and seccomp is a second fence in front of
// the kernel's own check: mount, umount2, pivot_root, setns, unshare and the namespace flags
// of clone need CAP_SYS_ADMIN; ptrace CAP_SYS_PTRACE; reboot CAP_SYS_BOOT; and so on.
// Without CAP_SYS_ADMIN, clone is allowed only when its flags contain no CLONE_NEW* bit,
// and clone3, whose flags are in memory where seccomp cannot look, fails with ENOSYS so
// that C libraries fall back to clone. Some calls are never allowed: the key management
// calls (add_key, keyctl, request_key: keys are not namespaced), kexec_load, userfaultfd
// (a tool for kernel exploits), open_by_handle_at without CAP_DAC_READ_SEARCH, and every
// call not named here.
func DefaultSeccomp(caps []string) *specs.LinuxSeccomp {
	eperm := uint(1)
	profile := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
		Architectures:   seccompArchitectures(),
		Syscalls:        []specs.LinuxSyscall{{Names: allowedSyscalls(), Action: specs.ActAllow}},
	}
	for _, g := range capabilityGroups {
		if g.needs != "" && !hasCapability(caps, g.needs) {
			continue
		}
		if g.unless != "" && hasCapability(caps, g.unless) {
			continue
		}
		profile.Syscalls = append(profile.Syscalls, g.rule)
	}
	return profile
}

// seccompArchitectures are the system call tables a filter covers on this machine: the
// native one and the compatible ones a 64-bit kernel also accepts (32-bit x86 on amd64),
// each with its own numbers, or a process could dodge the filter by switching tables.
func seccompArchitectures() []specs.Arch {
	switch goruntime.GOARCH {
	case "amd64":
		return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	case "arm64":
		return []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	}
	return nil
}

// capabilityGroup is a rule added to the profile when a capability is held (needs), when it
// is not (unless), or always (neither).
type capabilityGroup struct {
	needs, unless string
	rule          specs.LinuxSyscall
}

var enosys = uint(38)

var capabilityGroups = []capabilityGroup{
	// socket, for every address family but 40, AF_VSOCK, which reaches the hypervisor.
	{rule: specs.LinuxSyscall{Action: specs.ActAllow, Names: []string{"socket"},
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: 40, Op: specs.OpNotEqual}}}},
	// personality, only for the execution domains programs really ask for: Linux, its
	// 32-bit flavour, and a query (0xffffffff) of the current one.
	personality(0), personality(8), personality(0x20000), personality(0x20008), personality(0xffffffff),
	{needs: "CAP_SYS_ADMIN", rule: specs.LinuxSyscall{Action: specs.ActAllow, Names: []string{
		"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
		"lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open",
		"pivot_root", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog",
		"umount", "umount2", "unshare"}}},
	{unless: "CAP_SYS_ADMIN", rule: specs.LinuxSyscall{Action: specs.ActAllow, Names: []string{"clone"},
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: namespaceCloneFlags, ValueTwo: 0, Op: specs.OpMaskedEqual}}}},
	{unless: "CAP_SYS_ADMIN", rule: specs.LinuxSyscall{Action: specs.ActErrno, ErrnoRet: &enosys, Names: []string{"clone3"}}},
	{needs: "CAP_DAC_READ_SEARCH", rule: specs.LinuxSyscall{Action: specs.ActAllow, Names: []string{"open_by_handle_at"}}},
	{needs: "CAP_SYS_BOOT", rule: specs.LinuxSyscall{Action: specs.ActAllow, Names: []string{"reboot"}}},
	{needs: "CAP_SYS_CHROOT", rule: specs.LinuxSyscall{Action: specs.ActAllow, Names: []string{"chroot"}}},
	{needs: "CAP_SYS_MODULE", rule: specs.LinuxSyscall{Action: specs.ActAllow, Names: []string{"delete_module", "init_module", "finit_module"}}},
	{needs: "CAP_SYS_PACCT", rule: specs.LinuxSyscall{Action: specs.ActAllow, Names: []string{"acct"}}},
	{needs: "CAP_SYS_PTRACE", rule: specs.LinuxSyscall{Action: specs.ActAllow, Names: []string{
		"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"}}},
	{needs: "CAP_SYS_RAWIO", rule: specs.LinuxSyscall{Action: specs.ActAllow, Names: []string{"iopl", "ioperm"}}},
	{needs: "CAP_SYS_TIME", rule: specs.LinuxSyscall{Action: specs.ActAllow, Names: []string{
		"settimeofday", "stime", "clock_settime", "clock_settime64"}}},
	{needs: "CAP_SYS_TTY_CONFIG", rule: specs.LinuxSyscall{Action: specs.ActAllow, Names: []string{"vhangup"}}},
	{needs: "CAP_SYS_NICE", rule: specs.LinuxSyscall{Action: specs.ActAllow, Names: []string{
		"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}}},
	{needs: "CAP_SYSLOG", rule: specs.LinuxSyscall{Action: specs.ActAllow, Names: []string{"syslog"}}},
	{needs: "CAP_BPF", rule: specs.LinuxSyscall{Action: specs.ActAllow, Names: []string{"bpf"}}},
	{needs: "CAP_PERFMON", rule: specs.LinuxSyscall{Action: specs.ActAllow, Names: []string{"perf_event_open"}}},
}

func personality(domain uint64) capabilityGroup {
	return capabilityGroup{rule: specs.LinuxSyscall{Action: specs.ActAllow, Names: []string{"personality"},
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: domain, Op: specs.OpEqualTo}}}}
}

// allowedSyscalls are the calls every container may make, grouped by what they are for. Names
// a kernel or architecture does not have are skipped when the filter is built.
func allowedSyscalls() []string {
	groups := [][]string{
		// Processes and threads. clone is not here: its namespace flags are checked above.
		{"execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4", "waitid", "waitpid",
			"getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
			"set_tid_address", "set_robust_list", "get_robust_list", "rseq", "futex", "futex_time64",
			"futex_waitv", "membarrier", "restart_syscall", "prctl", "capget", "capset", "seccomp",
			"uname", "sysinfo", "getcpu", "getrusage", "times", "getpriority", "setpriority",
			"sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr", "sched_setattr",
			"sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
			"sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval",
			"sched_rr_get_interval_time64", "getrlimit", "setrlimit", "ugetrlimit", "prlimit64",
			"ioprio_get", "ioprio_set", "landlock_add_rule", "landlock_create_ruleset",
			"landlock_restrict_self", "pidfd_open", "pidfd_send_signal", "process_mrelease"},
		// Identity.
		{"getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32",
			"getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32",
			"setuid", "setuid32", "setgid", "setgid32", "setreuid", "setreuid32", "setregid", "setregid32",
			"setresuid", "setresuid32", "setresgid", "setresgid32", "setgroups", "setgroups32",
			"setfsuid", "setfsuid32", "setfsgid", "setfsgid32"},
		// Signals.
		{"kill", "tkill", "tgkill", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
			"rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
			"rt_tgsigqueueinfo", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
			"pause", "alarm"},
		// Memory.
		{"brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync",
			"mlock", "mlock2", "mlockall", "munlock", "munlockall", "remap_file_pages",
			"pkey_alloc", "pkey_free", "pkey_mprotect", "memfd_create", "memfd_secret"},
		// Files and directories.
		{"open", "openat", "openat2", "creat", "close", "close_range", "read", "readv", "pread64",
			"preadv", "preadv2", "write", "writev", "pwrite64", "pwritev", "pwritev2", "lseek", "_llseek",
			"dup", "dup2", "dup3", "fcntl", "fcntl64", "flock", "fsync", "fdatasync", "sync", "syncfs",
			"sync_file_range", "truncate", "truncate64", "ftruncate", "ftruncate64", "fallocate",
			"fadvise64", "fadvise64_64", "readahead", "sendfile", "sendfile64", "copy_file_range",
			"splice", "tee", "vmsplice", "stat", "stat64", "lstat", "lstat64", "fstat", "fstat64",
			"fstatat64", "newfstatat", "statx", "statfs", "statfs64", "fstatfs", "fstatfs64",
			"access", "faccessat", "faccessat2", "getdents", "getdents64", "getcwd", "chdir", "fchdir",
			"mkdir", "mkdirat", "rmdir", "rename", "renameat", "renameat2", "link", "linkat",
			"unlink", "unlinkat", "symlink", "symlinkat", "readlink", "readlinkat", "mknod", "mknodat",
			"chmod", "fchmod", "fchmodat", "chown", "chown32", "fchown", "fchown32", "fchownat",
			"lchown", "lchown32", "umask", "utime", "utimes", "utimensat", "utimensat_time64",
			"futimesat", "getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr",
			"listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr",
			"name_to_handle_at", "ioctl", "inotify_init", "inotify_init1", "inotify_add_watch",
			"inotify_rm_watch", "fanotify_mark"},
		// Waiting for events, time and timers.
		{"select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64",
			"epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_wait", "epoll_wait_old",
			"epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "pipe", "pipe2",
			"io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
			"io_pgetevents_time64", "io_uring_setup", "io_uring_enter", "io_uring_register",
			"nanosleep", "clock_nanosleep", "clock_nanosleep_time64", "clock_gettime", "clock_gettime64",
			"clock_getres", "clock_getres_time64", "clock_adjtime", "clock_adjtime64", "adjtimex",
			"gettimeofday", "time", "getitimer", "setitimer", "timer_create", "timer_delete",
			"timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
			"timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
			"timerfd_settime64", "getrandom"},
		// Sockets (socket itself is among the rules above).
		{"socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname",
			"getpeername", "getsockopt", "setsockopt", "send", "sendto", "sendmsg", "sendmmsg",
			"recv", "recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64", "shutdown", "socketcall"},
		// System V IPC and POSIX message queues, namespaced by the IPC namespace.
		{"ipc", "msgget", "msgctl", "msgsnd", "msgrcv", "semget", "semctl", "semop", "semtimedop",
			"semtimedop_time64", "shmget", "shmctl", "shmat", "shmdt", "mq_open", "mq_unlink",
			"mq_getsetattr", "mq_notify", "mq_timedreceive", "mq_timedreceive_time64",
			"mq_timedsend", "mq_timedsend_time64"},
	}
	switch goruntime.GOARCH {
	case "amd64":
		groups = append(groups, []string{"arch_prctl", "modify_ldt", "get_thread_area", "set_thread_area"})
	case "arm64":
		groups = append(groups, []string{"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2",
			"breakpoint", "cacheflush", "set_tls"})
	}
	var names []string
	for _, g := range groups {
		names = append(names, g...)
	}
	return names
}

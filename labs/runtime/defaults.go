package runtime

import (
	"fmt"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The pieces of a container configuration that Docker applies by default, for an engine to
// fill its specs from. Each is the "why" of a hardening measure: the runtime honours the
// spec it is given, and these are the values that make a spec safe by default.

// DefaultCapabilities is the default capability set: what a root process in a container
// keeps of root's powers. It is enough to chown files, bind low ports, change user and
// chroot, and leaves out everything that reaches the host: CAP_SYS_ADMIN (mount, namespaces,
// and a long list more), CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_SYS_TIME, CAP_NET_ADMIN, ...
// DockerSpec puts it in the bounding, effective and permitted sets and leaves the
// inheritable set empty, so that a file with inheritable capabilities cannot regain them
// (CVE-2022-24769).
//
// It is Docker's set without CAP_NET_RAW, as podman's is. NET_RAW opens raw and packet
// sockets, which write any frame onto the container's veth: a container on a bridge can
// answer ARP for its neighbour's address and take its traffic (ARP spoofing). What ordinary
// programs wanted it for, ping, works without it through ICMP datagram sockets, which
// DefaultSysctls opens to every group in the container's network namespace.
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// DefaultSysctls are the sysctls an engine sets in a container that has a network
// namespace of its own (Docker does since 20.10): net.ipv4.ping_group_range lets every
// group open ICMP "ping" sockets (socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)), so ping works
// without CAP_NET_RAW. Such a socket sends only ICMP echo requests, with the kernel writing
// the headers, so it cannot forge a frame. The range is in the network namespace's owning
// user namespace: in a container with a user namespace of its own, the gids above its map
// do not exist there and the write fails, so that case is left out.
//
// Equivalent to: `docker run --sysctl net.ipv4.ping_group_range="0 2147483647"`.
func DefaultSysctls() map[string]string {
	return map[string]string{"net.ipv4.ping_group_range": "0 2147483647"}
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
		RootlessSpec(spec, int(uid), int(gid))
	}
	return spec
}

// DefaultSeccomp returns Docker's default seccomp profile, as github.com/moby/profiles/seccomp
// maintains it, for a container whose bounding set is caps.
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
// (a tool for kernel exploits), the io_uring calls (their operations bypass this very
// filter, and they have been a steady source of kernel exploits), and socket for the
// address families a container has no use for (AF_VSOCK reaches the hypervisor, AF_ALG
// the kernel's crypto code).
//
// Why the module and not a list of our own: the project kept a hand copy once, and it
// drifted (io_uring stayed allowed after Docker and containerd refused it). The module is
// the list Docker and containerd ship, it depends only on runtime-spec and x/sys, which
// the runtime uses anyway, and it drops a rule whose minimum kernel this host does not
// have. TestDefaultSeccompIsMobys pins what we expect of it.
func DefaultSeccomp(caps []string) *specs.LinuxSeccomp {
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
	profile, err := mobyseccomp.GetDefaultProfile(spec)
	if err != nil {
		// Only a malformed minKernel in the compiled-in profile fails; that is a bug of
		// the module's, found by the tests, never by a user.
		panic(fmt.Sprintf("the default seccomp profile: %v", err))
	}
	return profile
}

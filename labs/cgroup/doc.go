// Package cgroup puts a container into a control group of its own and limits what the
// group may use: memory (swap included), CPU time, the number of processes, IO weight, and,
// for OCI runtimes, which devices it may open.
//
// A control group (cgroup) is a set of processes that the kernel accounts and limits as a
// whole. Membership is inherited: every process a member forks is a member too, so a
// container's command and everything it starts share one budget, and a fork bomb counts
// against the same pids limit as the shell that started it. The interface is a file
// system, cgroupfs, usually mounted at /sys/fs/cgroup: mkdir creates a group, writing a
// PID to its cgroup.procs moves that process in, writing a limit file sets a limit,
// reading a stat file reports usage, and rmdir removes an empty group. This package does
// nothing a shell could not do with mkdir, echo and cat; every function says which.
//
// # Two versions of one idea
//
// cgroup v1 gives each controller (memory, cpu, pids, ...) a tree of its own, mounted at
// /sys/fs/cgroup/CONTROLLER, so a container has one directory per controller and the
// process is moved into each. cgroup v2 has one unified tree at /sys/fs/cgroup in which
// every group has every enabled controller, and adds what v1 lacked: cgroup.kill, an
// accurate memory.events, a memory.peak, one consistent file format. Most hosts now boot
// v2 only ("unified"); older ones boot v1, or "hybrid": v1 controllers plus a cgroup2 tree
// at /sys/fs/cgroup/unified that systemd uses to track services and that has no
// controllers attached, because each controller can be in only one hierarchy at a time.
// Detect tells which kind of host this is, and New picks the driver: v1 for v1 and
// hybrid hosts, v2 for unified ones. The Cgroup it returns is the same either way.
//
// On a hybrid host this package uses the v1 hierarchies only and creates nothing in the
// unified tree. A group there could limit nothing; all it would add is process tracking,
// which the v1 hierarchies already do (every process of the container is in its v1
// groups, so their cgroup.procs lists them for Remove and RemoveStale). runc does add a
// group there too, for tools such as systemd that look for processes in the unified tree;
// nothing in this workshop looks there, and one hierarchy fewer is one less thing to
// create, join and remove.
//
// # The files that matter, and why
//
//	memory   v1 memory.limit_in_bytes and memory.memsw.limit_in_bytes; v2 memory.max
//	         and memory.swap.max. A RAM limit alone is not a limit on a host with swap:
//	         the kernel pushes the group's pages to swap and the process keeps going,
//	         slowly. So the limit covers RAM plus swap (v1 memsw = the same value; v2
//	         swap.max = 0), and a process that needs more is killed by the OOM killer.
//	cpu      cfs_period_us and cfs_quota_us (v1) or cpu.max (v2): the group may run
//	         quota microseconds of CPU time in every period of 100000us, so 0.5 CPUs is
//	         50000 per 100000 and then the group is throttled until the next period;
//	         cpu.shares (v1) or cpu.weight (v2): a relative weight that matters only
//	         when CPUs are contended.
//	pids     pids.max: fork and clone fail with EAGAIN once the group has this many
//	         tasks (threads count), which stops a fork bomb without touching the host.
//	io       blkio.weight or blkio.bfq.weight (v1), io.weight or io.bfq.weight (v2):
//	         a relative share of disk time, present only where the kernel's IO
//	         scheduler supports it; New reports ErrUnsupported where it is missing.
//
// # v2's two rules
//
// A v2 group has only the controllers that its parent lists in cgroup.subtree_control,
// so New first writes "+memory +cpu +pids" (and "+io") there, from the root down to the
// container's parent. And a group that hands controllers to its children may not hold
// processes itself (the "no internal processes" rule; only the root is exempt), because
// its own processes would compete with its children's groups for the same budget with
// no way to say how. So processes live only in the leaves: the container's group, never
// the "containerlabs" parent above it.
//
// # Device rules: two files on v1, a program on v2
//
// A device node is only a name for two numbers: `mknod x c 1 1` makes another /dev/mem
// wherever a process may write, so what guards the host's devices is a rule of the
// process's cgroup, checked on every open(2) and mknod(2) of a device node. OCI configs
// carry them as linux.resources.devices, a list applied in order (OCI.Apply).
//
// On v1 the devices controller keeps them. Each rule is a line written to devices.allow or
// devices.deny ("c 1:3 rwm": character device 1:3, read, write and mknod; "a" alone means
// every device and resets the group to allow all or deny all), and the kernel keeps the
// result, a default and its exceptions, which devices.list prints:
//
//	echo a > devices.deny            (deny everything, forget the exceptions)
//	echo 'c 1:3 rwm' > devices.allow (except /dev/null)
//	cat devices.list                 -> c 1:3 rwm
//
// v2 has no devices controller. The kernel runs, instead, the eBPF programs of type
// BPF_PROG_TYPE_CGROUP_DEVICE attached to the group (and to its ancestors): each gets the
// device's type, major, minor and the access asked for, and returns 1 to allow or 0 to
// refuse (EPERM). NewDeviceFilter works out from the rules what v1's kernel would keep,
// DeviceFilter.Program writes it as instructions, one block per exception, and
// AttachDeviceFilter loads and attaches it; see Program for the instructions. Working the
// rules out the same way keeps v1 and v2 in agreement on every list, overlaps included.
// The program needs no clean-up: the group holds the only reference, and rmdir frees it.
//
// # Before exec, and after exit
//
// The parent moves the container's first process into the group while that process is
// still blocked, before it execs the command: a process moved in later would already have
// run, and forked, unlimited. When the container ends, Stats reports whether the OOM
// killer struck and what was used, and Remove kills anything left in the group and
// removes it. A manager that dies (kill -9) cannot clean up after itself, so each start
// calls RemoveStale first, which removes the groups that no live process uses.
package cgroup

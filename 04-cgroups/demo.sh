# Walkthrough of lab 04, sourced by scripts/demo.sh (which defines step, say and $DEMO).

section "04-cgroups: limits on memory, CPU and processes"
B="$DEMO/busybox-root"
[ -x "$B/bin/busybox" ] || bin/01-chroot rootfs --busybox "$B" >/dev/null
cp bin/probe "$B/probe"

say "04-cgroups is lab 03 plus a cgroup: the parent creates it with the limits, moves the waiting child into it, and after the container ends asks it what happened. The probe program does the experiments: hog memory, fork, spin."
step "--stats shows every write to the cgroup's files, as the shell commands they are, and what the container used." \
	"bin/04-cgroups run --memory 64m --cpus 0.5 --pids-limit 64 --stats $B /probe hog 16"
step_fails "128 MiB under a 32 MiB limit (swap counted too): the OOM killer ends the hog with SIGKILL, and the cgroup's counters say it was the OOM killer." \
	"bin/04-cgroups run --memory 32m $B /probe hog 128"
step "The pids controller refuses the 33rd task with EAGAIN. The init's own threads count too." \
	"bin/04-cgroups run --pids-limit 32 --stats $B /probe fork 1000"
step "Two seconds of spinning at --cpus 0.2: the CFS quota gives 20 ms per 100 ms period, and the rest shows as throttled time." \
	"bin/04-cgroups run --cpus 0.2 --stats $B /probe spin 2"
step "The container sees its own cgroup as the root of the tree (a cgroup namespace); --stats above showed where it really is: /containerlabs/ID." \
	"bin/04-cgroups run --memory 64m $B cat /proc/self/cgroup | head -4"
step_fails "A bad value is refused before anything is created." \
	"bin/04-cgroups run --memory 12x $B true"
step "And nothing is left behind." \
	"ls /sys/fs/cgroup/memory/containerlabs /sys/fs/cgroup/containerlabs 2>/dev/null | wc -l"

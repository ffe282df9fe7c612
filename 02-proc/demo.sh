# Walkthrough of lab 02, sourced by scripts/demo.sh (which defines step, say and $DEMO).

section "02-proc: /proc, /dev and /sys inside the root"
B="$DEMO/busybox-root"
[ -x "$B/bin/busybox" ] || bin/01-chroot rootfs --busybox "$B"

say "02-proc is 01-chroot plus one step: mount /proc, a small /dev and a read-only /sys inside the root before the command starts."
step "ps works now. And it shows the host's processes: PID 1 is the host's init. Nothing is isolated yet." \
	"bin/02-proc run $B ps -o pid,comm | head -6"
step "/dev holds only harmless devices, in a tmpfs: no host disks." \
	"bin/02-proc run $B ls /dev"
step_fails "/sys is mounted read-only: writes there would reach the host's kernel settings." \
	"bin/02-proc run $B touch /sys/kernel/x"

say "The mounts are made on the host, inside the root directory. Start a long command and look from outside."
step "While the command runs, the host's mount table lists the root's /proc, /dev and /sys." \
	"bin/02-proc run $B sleep 30 & SLEEPER=\$!; sleep 0.5; findmnt -rn -o TARGET | grep $B"
on_exit "kill \$SLEEPER"
step "The kernel's view of the chrooted sleep: its root and cwd are the directory, and every namespace is the host's." \
	"bin/02-proc inspect \$(pgrep -n -x sleep)"
step "SIGTERM to 02-proc is passed to the command; when it ends, the mounts are removed." \
	"kill \$SLEEPER; wait \$SLEEPER; findmnt -rn -o TARGET | grep $B | wc -l"

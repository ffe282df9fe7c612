# Walkthrough of lab 03, sourced by scripts/demo.sh (which defines step, say and $DEMO).

section "03-namespaces: a process with its own view of the machine"
B="$DEMO/busybox-root"
[ -x "$B/bin/busybox" ] || bin/01-chroot rootfs --busybox "$B" >/dev/null

say "03-namespaces re-executes itself into new UTS, PID, mount, IPC and network namespaces. The parent waits; the child mounts, pivots and starts the command under a small init."
step "A hostname of its own, and the host keeps its own." \
	"bin/03-namespaces run --hostname box $B hostname; hostname"
step "PID 1 is our init; the command is its child. The host's processes are gone from view." \
	"bin/03-namespaces run $B ps -o pid,comm,args"
step "A new network namespace has one interface, lo, and it is down." \
	"bin/03-namespaces run $B ip link"
step "The mounts are in the container's mount namespace: the host's table shows none of them." \
	"bin/03-namespaces run $B sh -c 'mount -t tmpfs mine /mnt && mount | grep -c mine'; findmnt -rn -o TARGET | grep $B | wc -l"

say "The namespaces of the command, compared with the host's. Everything is new except the user namespace."
step "ls -l /proc/PID/ns, read as a table." \
	"bin/03-namespaces run $B sleep 30 & C=\$!; sleep 0.5; bin/03-namespaces ns \$(pgrep -n -x sleep)"
on_exit "kill \$C"
step_fails "Signals reach the container through the parent and the init: SIGTERM ends it, and the status says so (128+15)." \
	"kill \$C; wait \$C"

say "Lab 01's escape, again. The chroot trick still works, but it now leads to the container's own root: the host's tree is not mounted in this namespace at all."
step "The climb reaches the container's own root, and the marker from lab 01 is out of reach." \
	"echo 'host secret' > $DEMO/host-secret; cp bin/probe $B/; bin/03-namespaces run $B /probe chroot $DEMO/host-secret"

say "Namespaces hide; they do not take privilege away. The command is still root, with every capability of the host's root: it cannot see the host's files, but it can still reach the host's kernel."
step "A host sysctl opens for writing (the probe closes it unwritten)." \
	"bin/03-namespaces run $B /probe sysctl"
step "New namespaces, from inside: the door most kernel exploits need. Lab 08 closes both; scripts/escapes.sh 03 shows the rest." \
	"bin/03-namespaces run $B /probe unshare"

say "With --userns, the command is root inside a user namespace, and uid 100000 outside."
step "uid 0 inside; the map says 0 means 100000 outside." \
	"bin/03-namespaces run --userns $B sh -c 'id; cat /proc/self/uid_map; touch /tmp/made-inside'"
step "The file root made inside belongs to uid 100000 on the host." \
	"ls -ln $B/tmp/made-inside"

// Package show draws a picture of a running container from the kernel's own state: what
// the kernel says about the container's process, never what an engine recorded about it.
// A container is an ordinary process that a handful of mechanisms point at, and this is
// each of them, read back:
//
//	namespaces  /proc/PID/ns beside the host's: which ones are the container's own
//	cgroup      /proc/PID/cgroup and the cgroup files: limits and what is in use now
//	root        /proc/PID/mountinfo: the overlay's lower layers, upper and work
//	            directories, and every other mount, read-only or not
//	network     netlink inside the container's network namespace and on the host: the
//	            veth pair, the bridge, the addresses, the default route; iptables -S: the
//	            NAT rules that name the container's address or its bridge
//	hardening   /proc/PID/status: capabilities, seccomp, no_new_privs; the user ID map
//
// Gather reads it; Picture.Text renders it for the terminal, Picture.HTML as a page with
// an SVG drawing for the workshop's screen. `08-engine show CONTAINER` is the command.
//
// It sits on the ladder just above network, the last mechanism it draws: it reads what
// labs 03 to 06 make, and needs nothing of images, the runtime or the engine, so any
// container of those labs can be drawn, given its PID.
package show

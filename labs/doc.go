// Package labs is the container library the numbered labs are built from. Each
// subpackage holds one mechanism, and the packages form a ladder in the same order as the
// labs: a package may import the packages below it, never the ones above it, so the
// library can be read bottom-up exactly as the workshop teaches it.
//
//	process    run a command, forward signals, report its exit status as a shell does
//	mount      mount(2)/umount(2) with readable errors, and the mount table
//	rootfs     a root directory: programs with their ELF closure, busybox, safe tar extraction
//	procfs     /proc, /dev and /sys inside a root, and reading a process's facts from /proc
//	namespace  a child in new namespaces, pivot_root, and a small init as PID 1
//	cgroup     memory, CPU, pids and IO limits, on cgroup v1 and v2 behind one interface
//	overlay    image layers under a writable layer, and what changed in it
//	state      a directory per container that outlives its run, locked while it runs
//	network    a bridge, veth pairs, addresses, NAT and published ports
//	show       a picture of a running container, drawn from the kernel's own state
//	image      an image store: layers unpacked once, manifests and configs, registries
//	runtime    an OCI runtime: a container from a bundle, as runc makes it (lab 08)
//	engine     a daemonless engine: images, containers, monitors, logs, volumes (lab 08)
//	build      images from a Dockerfile: each step a container, committed as a layer (lab 08)
//	compose    applications of several containers from a compose file (lab 08)
//
// labtest, the harness of the graded checks, stands outside the ladder: any test may use
// it, and no library code may. TestLayering in this directory enforces both rules.
package labs

// Ladder lists the library packages from the bottom up. A package may import only
// packages that come before it in this list.
var Ladder = []string{
	"process",
	"mount",
	"rootfs",
	"procfs",
	"namespace",
	"cgroup",
	"overlay",
	"state",
	"network",
	"show",
	"image",
	"runtime",
	"engine",
	"build",
	"compose",
}

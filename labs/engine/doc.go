// Package engine is the container engine of lab 08: what turns `08-engine run -d -p
// 8080:80 -v data:/data IMAGE` into a running, monitored, logged container, built from the
// mechanisms of the labs below it.
//
// # The shape of an engine
//
// An engine does not isolate anything itself. It translates a request (an image and
// flags) into an OCI bundle, a config.json and a root file system, and hands the bundle to
// a runtime (labs/runtime, the same one containerd can drive). Everything the kernel needs
// is in that config: namespaces, mounts, cgroup limits, capabilities, seccomp. What the
// engine adds is what outlives one process:
//
//	images      the store of labs/image: layers unpacked once, shared by all containers
//	containers  a directory per container: its record, state, writable layer, logs, bundle
//	rootfs      an overlay of the image's layers and the container's upper dir (lab 05)
//	network     a lease, a veth pair and published ports on the bridge (lab 06)
//	volumes     directories that outlive containers, bind-mounted in
//	networks    user-defined networks: a bridge and a subnet each, isolated from the
//	            others, with the containers on them named in each other's /etc/hosts
//	monitor     one small process per running container: it holds the container's stdio,
//	            writes the logs, runs the health checks, waits for the exit and records
//	            it, starts the container again if its restart policy says so, then cleans up
//
// # Daemonless
//
// There is no daemon. Each command is a process that reads and writes the state directory
// under locks, and each running container has its own monitor (as podman has conmon and
// containerd a shim). So nothing is lost when the CLI exits, `ps` is right even when no
// engine process runs, and a monitor killed with SIGKILL takes down only its own container's
// bookkeeping: the next command that looks finds out from the kernel (is that PID, started
// at that time, still alive?) and repairs the record. State is reconciled, never trusted.
package engine
